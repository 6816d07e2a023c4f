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
            "      --bootstrap SERVERS  Kafka bootstrap servers (overrides the config)\n"
            "      --until-idle         exit once every assigned partition is caught up and no\n"
            "                           import is open (for scripts and tests)\n"
            "      --idle-open SEC      with --until-idle: exit after SEC seconds caught up even\n"
            "                           if imports without end marker remain (default 10)\n"
            "      --metrics HOST:PORT  serve /metrics and /healthz there (default\n"
            "                           metrics.reconciler, 127.0.0.1:9464; \"\" = off; port 0 =\n"
            "                           any free port, logged as metrics_listening)\n"
            "  -h, --help               this help\n"
            "  -V, --version            version\n"
            "\n"
            "Exit codes: 0 stopped (signal or idle); 1 failed (see the log); 64 bad usage.\n",
            CLI_ENV_CONFIG, CLI_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
    enum { OPT_BOOTSTRAP = 256, OPT_UNTIL_IDLE, OPT_IDLE_OPEN, OPT_METRICS };
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},
                                         {"until-idle", no_argument, NULL, OPT_UNTIL_IDLE},
                                         {"idle-open", required_argument, NULL, OPT_IDLE_OPEN},
                                         {"metrics", required_argument, NULL, OPT_METRICS},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *bootstrap = NULL, *metrics = NULL;
    struct member_opts o = {.idle_open_seconds = 10};
    int c;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case OPT_BOOTSTRAP:
            bootstrap = optarg;
            break;
        case OPT_UNTIL_IDLE:
            o.until_idle = true;
            break;
        case OPT_IDLE_OPEN:
            o.idle_open_seconds = atoi(optarg);
            break;
        case OPT_METRICS:
            metrics = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'V':
            cli_print_version("reconciler");
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    struct config cfg;
    if (cli_load(&cfg, "reconciler", config, bootstrap) < 0)
        return EXIT_FAILED;
    cli_warn_settings(&cfg);
    o.metrics_listen = metrics ? metrics : cfg.metrics.reconciler;
    int rc = member_run(&cfg, &o);
    config_free(&cfg);
    return rc;
}
