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

/* Loads the config (printing "service: FILE:LINE: KEY: error" on failure), makes the
 * program's own directory account (ldap.accounts.SERVICE) the one it binds with, if the file
 * names one (config_use_account), and starts logging. Returns 0 or -1. */
int cli_load(struct config *cfg, const char *service, const char *config_path,
             const char *bootstrap);

/*
 * The options every program shares, parsed one way: -c/--config FILE, -b/--bootstrap SERVERS,
 * -h/--help, -V/--version. A program puts CLI_SHARED_OPTIONS first in its struct option array
 * and CLI_SHARED_SHORT in its short options, and hands every option its own switch does not
 * know to cli_shared_option().
 */
#define CLI_OPT_BOOTSTRAP 1000 /* getopt value of --bootstrap; a program's own start above it */
#define CLI_SHARED_SHORT  "c:b:hV"
/* clang-format off */
#define CLI_SHARED_OPTIONS                                          \
    {"config", required_argument, NULL, 'c'},                      \
    {"bootstrap", required_argument, NULL, CLI_OPT_BOOTSTRAP},     \
    {"help", no_argument, NULL, 'h'},                              \
    {"version", no_argument, NULL, 'V'}
/* clang-format on */

struct cli_shared {
    const char *config;    /* -c FILE, or NULL (cli_config_path decides) */
    const char *bootstrap; /* -b/--bootstrap SERVERS, or NULL */
};

#define CLI_GO_ON (-1)
/* One option (getopt's c and optarg). Returns CLI_GO_ON when it was a shared one and parsing
 * goes on, else the exit code to leave with: EXIT_OK after --help or --version (printed),
 * EXIT_USAGE for an option nobody knows (usage on stderr). */
int cli_shared_option(int c, const char *arg, const char *service, void (*usage)(FILE *),
                      struct cli_shared *s);

/* The shared options' help lines, for programs whose usage lists commands (admin, audit). */
void cli_print_global_options(FILE *f);

/* For a program that takes options only: CLI_GO_ON when argv has nothing from index first on
 * (getopt's optind), else EXIT_USAGE after saying which argument was not expected. */
int cli_no_operands(const char *service, int argc, char **argv, int first);

/* A whole number from the command line, min..max. 0 and *out, or -1 after printing
 * "sisopi-SERVICE: --OPTION: "TEXT" is not a number from MIN to MAX" (exit with EXIT_USAGE). */
int cli_number(const char *service, const char *option, const char *text, long min, long max,
               long *out);

/* The options before a command (sisopi-admin, sisopi-audit): the shared ones. */
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
