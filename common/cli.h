/*
 * cli: what every service's main() does the same way: the -c/--bootstrap options, the
 * config file location, logging set-up, and the exit codes.
 */
#ifndef SISOPI_CLI_H
#define SISOPI_CLI_H

#include <stdio.h>

#include "config.h"

/* Exit codes of every sisopi program. */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,      /* nothing done, or stopped: see the error */
    EXIT_WITH_ERRORS = 2, /* done, but some records had (tolerated) errors */
    EXIT_USAGE = 64,      /* bad command line (sysexits EX_USAGE) */
};

#define CLI_ENV_CONFIG     "SISOPI_CONFIG"
#define CLI_DEFAULT_CONFIG "/etc/sisopi/sisopi.cfg"

/* -c FILE, else $SISOPI_CONFIG, else /etc/sisopi/sisopi.cfg. */
const char *cli_config_path(const char *given);

/* Loads the config (printing "service: FILE:LINE: KEY: error" on failure) and starts logging.
 * Returns 0 or -1. */
int cli_load(struct config *cfg, const char *service, const char *config_path,
             const char *bootstrap);

/* The options before a command (sisopi-admin, sisopi-audit): -c, --bootstrap, -h, -V. */
struct cli_global {
    const char *config;
    const char *bootstrap;
    int command; /* argv index of the command */
};

/*
 * Parses the global options and finds the command. Returns -1 to go on (g filled), or the
 * exit code to leave with (help or version printed, or a usage error with usage on stderr).
 */
int cli_parse_global(int argc, char **argv, const char *service, void (*usage)(FILE *),
                     struct cli_global *g);

/* Warns (log) about settings that are allowed but dangerous, e.g. a deletion grace period of 0,
 * as the reference does at start. For the services that act on them. */
void cli_warn_settings(const struct config *cfg);

/* Prints "sisopi-<service> VERSION" with the library versions it runs on. */
void cli_print_version(const char *service);

#endif
