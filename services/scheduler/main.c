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
            "  -b, --bootstrap SERVERS  Kafka bootstrap servers (overrides the config)\n"
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
    enum { OPT_ONCE = CLI_OPT_BOOTSTRAP + 1, OPT_METRICS };
    static const struct option opts[] = {CLI_SHARED_OPTIONS,
                                         {"once", no_argument, NULL, OPT_ONCE},
                                         {"metrics", required_argument, NULL, OPT_METRICS},
                                         {NULL, 0, NULL, 0}};
    struct cli_shared sh = {0};
    const char *metrics = NULL;
    struct scheduler_opts o = {0};
    int c, rc;
    while ((c = getopt_long(argc, argv, CLI_SHARED_SHORT, opts, NULL)) != -1) {
        switch (c) {
        case OPT_ONCE:
            o.once = true;
            break;
        case OPT_METRICS:
            metrics = optarg;
            break;
        default:
            if ((rc = cli_shared_option(c, optarg, "scheduler", usage, &sh)) != CLI_GO_ON)
                return rc;
        }
    }
    if ((rc = cli_no_operands("scheduler", argc, argv, optind)) != CLI_GO_ON)
        return rc;
    struct config cfg;
    if (cli_load(&cfg, "scheduler", sh.config, sh.bootstrap) < 0)
        return EXIT_FAILED;
    cli_warn_settings(&cfg);
    o.metrics_listen = metrics ? metrics : cfg.metrics.scheduler;
    rc = scheduler_run(&cfg, &o);
    config_free(&cfg);
    return rc;
}
