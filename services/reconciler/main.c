/*
 * sisopi-reconciler: applies sisopi.users to the directory (member.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "member.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: sisopi-reconciler [-c FILE] [--bootstrap SERVERS] [--until-idle]\n"
            "\n"
            "Consumes sisopi.users as a member of the consumer group reconciler.group_id and\n"
            "applies the SiSoPi rules to the directory: creates accounts, adds and removes\n"
            "schools, moves persons into and out of the limbo OU, purges them on PurgeDue.\n"
            "Every change becomes an event on sisopi.events; messages it cannot decode or\n"
            "apply go to sisopi.users.dlq with the reason. Start several to share the\n"
            "partitions.\n"
            "\n"
            "  -c, --config FILE        config file (default $%s or %s)\n"
            "  -b, --bootstrap SERVERS  Kafka bootstrap servers (overrides the config)\n"
            "      --until-idle         exit once every assigned partition is caught up and no\n"
            "                           import is open (for scripts and tests)\n"
            "      --idle-open SEC      with --until-idle: exit after SEC seconds caught up even\n"
            "                           if imports without end marker remain (default 10)\n"
            "      --metrics HOST:PORT  serve /metrics and /healthz there (default\n"
            "                           metrics.reconciler, 127.0.0.1:9464; \"\" = off; port 0 =\n"
            "                           any free port, logged as metrics_listening; PORT+N adds\n"
            "                           N, for templated units: 127.0.0.1:9470+%%i)\n"
            "  -h, --help               this help\n"
            "  -V, --version            version\n"
            "\n"
            "Exit codes: 0 stopped (signal or idle); 1 failed (see the log); 64 bad usage.\n",
            CLI_ENV_CONFIG, CLI_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
    enum { OPT_UNTIL_IDLE = CLI_OPT_BOOTSTRAP + 1, OPT_IDLE_OPEN, OPT_METRICS };
    static const struct option opts[] = {CLI_SHARED_OPTIONS,
                                         {"until-idle", no_argument, NULL, OPT_UNTIL_IDLE},
                                         {"idle-open", required_argument, NULL, OPT_IDLE_OPEN},
                                         {"metrics", required_argument, NULL, OPT_METRICS},
                                         {NULL, 0, NULL, 0}};
    struct cli_shared sh = {0};
    const char *metrics = NULL;
    struct member_opts o = {.idle_open_seconds = 10};
    long n;
    int c, rc;
    while ((c = getopt_long(argc, argv, CLI_SHARED_SHORT, opts, NULL)) != -1) {
        switch (c) {
        case OPT_UNTIL_IDLE:
            o.until_idle = true;
            break;
        case OPT_IDLE_OPEN:
            if (cli_number("reconciler", "idle-open", optarg, 0, 86400, &n) < 0)
                return EXIT_USAGE;
            o.idle_open_seconds = (int)n;
            break;
        case OPT_METRICS:
            metrics = optarg;
            break;
        default:
            if ((rc = cli_shared_option(c, optarg, "reconciler", usage, &sh)) != CLI_GO_ON)
                return rc;
        }
    }
    if ((rc = cli_no_operands("reconciler", argc, argv, optind)) != CLI_GO_ON)
        return rc;
    struct config cfg;
    if (cli_load(&cfg, "reconciler", sh.config, sh.bootstrap) < 0)
        return EXIT_FAILED;
    cli_warn_settings(&cfg);
    o.metrics_listen = metrics ? metrics : cfg.metrics.reconciler;
    rc = member_run(&cfg, &o);
    config_free(&cfg);
    return rc;
}
