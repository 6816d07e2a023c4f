/*
 * cli: config loading and version output shared by the services.
 */
#include "cli.h"

#include <librdkafka/rdkafka.h>
#include <ldap.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#ifndef SISOPI_VERSION
#define SISOPI_VERSION "0.1.0"
#endif

const char *cli_config_path(const char *given)
{
    if (given)
        return given;
    const char *env = getenv(CLI_ENV_CONFIG);
    return env && *env ? env : CLI_DEFAULT_CONFIG;
}

int cli_load(struct config *cfg, const char *service, const char *config_path,
             const char *bootstrap)
{
    char err[CONFIG_ERRSTR_SIZE];
    const char *path = cli_config_path(config_path);
    if (config_load(cfg, path, bootstrap, err, sizeof(err)) < 0) {
        fprintf(stderr, "sisopi-%s: %s\n", service, err);
        config_free(cfg);
        return -1;
    }
    /* Each program binds with its own directory account when the file gives it one. */
    config_use_account(cfg, service);
    log_init(service, cfg->output.log_format, cfg->output.log_level);
    return 0;
}

int cli_parse_global(int argc, char **argv, const char *service, void (*usage)(FILE *),
                     struct cli_global *g)
{
    static const struct option opts[] = {CLI_SHARED_OPTIONS, {NULL, 0, NULL, 0}};
    struct cli_shared s = {0};
    int c;
    memset(g, 0, sizeof(*g));
    /* "+": stop at the command, whose options are its own. */
    while ((c = getopt_long(argc, argv, "+" CLI_SHARED_SHORT, opts, NULL)) != -1) {
        int rc = cli_shared_option(c, optarg, service, usage, &s);
        if (rc != CLI_GO_ON)
            return rc;
    }
    g->config = s.config;
    g->bootstrap = s.bootstrap;
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    g->command = optind;
    return -1;
}

int cli_shared_option(int c, const char *arg, const char *service, void (*usage)(FILE *),
                      struct cli_shared *s)
{
    switch (c) {
    case 'c':
        s->config = arg;
        return CLI_GO_ON;
    case 'b':
    case CLI_OPT_BOOTSTRAP:
        s->bootstrap = arg;
        return CLI_GO_ON;
    case 'h':
        usage(stdout);
        return EXIT_OK;
    case 'V':
        cli_print_version(service);
        return EXIT_OK;
    default:
        usage(stderr);
        return EXIT_USAGE;
    }
}

void cli_print_global_options(FILE *f)
{
    fprintf(f,
            "Options (before the command):\n"
            "  -c, --config FILE        config file (default $%s or %s)\n"
            "  -b, --bootstrap SERVERS  Kafka bootstrap servers (overrides the config)\n"
            "  -h, --help               this help\n"
            "  -V, --version            version\n",
            CLI_ENV_CONFIG, CLI_DEFAULT_CONFIG);
}

int cli_no_operands(const char *service, int argc, char **argv, int first)
{
    if (first >= argc)
        return CLI_GO_ON;
    fprintf(stderr,
            "sisopi-%s: unexpected argument \"%s\": this program takes options only (see "
            "sisopi-%s --help)\n",
            service, argv[first], service);
    return EXIT_USAGE;
}

int cli_number(const char *service, const char *option, const char *text, long min, long max,
               long *out)
{
    char *end = NULL;
    errno = 0;
    long v = text && *text ? strtol(text, &end, 10) : 0;
    if (!text || !*text || *end || errno || v < min || v > max) {
        fprintf(stderr, "sisopi-%s: --%s: \"%s\" is not a number from %ld to %ld\n", service,
                option, text ? text : "", min, max);
        return -1;
    }
    *out = v;
    return 0;
}

void cli_print_version(const char *service)
{
    printf("sisopi-%s %s (commit %s; librdkafka %s, OpenLDAP %d.%d.%d)\n", service, SISOPI_VERSION,
           SISOPI_COMMIT, rd_kafka_version_str(), LDAP_VENDOR_VERSION_MAJOR,
           LDAP_VENDOR_VERSION_MINOR, LDAP_VENDOR_VERSION_PATCH);
}

void cli_warn_settings(const struct config *cfg)
{
    if (cfg->import.deletion_grace_seconds == 0)
        log_kv(LEVEL_WARN, "no_grace_period", "msg",
               "import.deletion_grace_period is 0: accounts are purged as soon as they reach "
               "limbo",
               NULL);
}
