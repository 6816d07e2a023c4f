/*
 * sisopi-scheduler: sends PurgeDue for accounts whose grace period in limbo is over
 * (scheduler.c).
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "scheduler.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: sisopi-scheduler [-c FILE] [--bootstrap SERVERS] [--once]\n"
            "\n"
            "Finds accounts in limbo whose purge date has passed and writes a PurgeDue for\n"
            "each to sisopi.users; the reconciler then deletes the account if it is still in\n"
            "limbo with that very date. Purge dates come from the directory\n"
            "(ucsschoolPurgeTimestamp, read at start and every scheduler.sweep_interval) and,\n"
            "in between, from sisopi.events. It keeps no local state. Accounts with a purge\n"
            "date but no student/teacher/staff role (e.g. administrators), or active ones, are\n"
            "skipped with a warning.\n"
            "\n"
            "  -c, --config FILE        config file (default $%s or %s)\n"
            "      --bootstrap SERVERS  Kafka bootstrap servers (overrides the config)\n"
            "      --once               sweep for what is due now, send the orders, print a\n"
            "                           summary and exit (for cron and tests)\n"
            "      --metrics HOST:PORT  serve /metrics and /healthz there (default\n"
            "                           metrics.scheduler, 127.0.0.1:9465; \"\" = off)\n"
            "  -h, --help               this help\n"
            "  -V, --version            version\n"
            "\n"
            "Exit codes: 0 stopped (signal) or done (--once); 1 failed (directory or broker\n"
            "unavailable, an order not delivered); 64 bad usage.\n",
            CLI_ENV_CONFIG, CLI_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
    enum { OPT_BOOTSTRAP = 256, OPT_ONCE, OPT_METRICS };
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},
                                         {"once", no_argument, NULL, OPT_ONCE},
                                         {"metrics", required_argument, NULL, OPT_METRICS},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *bootstrap = NULL, *metrics = NULL;
    struct scheduler_opts o = {0};
    int c;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case OPT_BOOTSTRAP:
            bootstrap = optarg;
            break;
        case OPT_ONCE:
            o.once = true;
            break;
        case OPT_METRICS:
            metrics = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'V':
            cli_print_version("scheduler");
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
    if (cli_load(&cfg, "scheduler", config, bootstrap) < 0)
        return EXIT_FAILED;
    cli_warn_settings(&cfg);
    o.metrics_listen = metrics ? metrics : cfg.metrics.scheduler;
    int rc = scheduler_run(&cfg, &o);
    config_free(&cfg);
    return rc;
}
