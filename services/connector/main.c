/*
 * sisopi-connector: replicates the persons of each school authority to the authority's own
 * directory (connector.c), and repairs or checks it (resync.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "connector.h"
#include "resync.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: sisopi-connector [-c FILE] [--bootstrap SERVERS] --authority NAME\n"
            "                        [--until-idle] [--metrics HOST:PORT]\n"
            "       sisopi-connector [-c FILE] resync --authority NAME [--school S]\n"
            "                        [--record-uid X] [--dry-run]\n"
            "       sisopi-connector [-c FILE] verify --authority NAME [--school S]\n"
            "                        [--record-uid X]\n"
            "\n"
            "Makes the directory of the school authority NAME (connector.authorities) hold\n"
            "exactly its schools' persons as the central directory has them: only the\n"
            "authority's schools, their classes and groups, the mapped attributes. It follows\n"
            "sisopi.events in the consumer group connector.group_prefix + NAME and, for each\n"
            "event naming a person, reads the person's central entry and makes the\n"
            "authority's entry equal to it. Offsets are committed after the writes. A\n"
            "directory that is away is retried with back-off; a person the authority refuses\n"
            "becomes a Rejected event and a dead letter on connector.dead_letter_topic.\n"
            "\n"
            "Commands:\n"
            "  (none)    run as the consumer group member of the authority\n"
            "  resync    make the authority equal to its view of the central directory for\n"
            "            every person (or --school, --record-uid), removing what the connector\n"
            "            made that should not be there\n"
            "  verify    list the differences, change nothing\n"
            "\n"
            "  -c, --config FILE        config file (default $%s or %s)\n"
            "  -b, --bootstrap SERVERS  Kafka bootstrap servers (overrides the config)\n"
            "  -a, --authority NAME     the school authority (required)\n"
            "      --until-idle         exit once every assigned partition is caught up\n"
            "      --metrics HOST:PORT  serve /metrics and /healthz there (default\n"
            "                           connector.metrics, 127.0.0.1:9467; \"\" = off)\n"
            "      --school S           resync, verify: only the persons of school S\n"
            "      --record-uid X       resync, verify: only the person X\n"
            "      --dry-run            resync: print what would be done, change nothing\n"
            "  -h, --help               this help\n"
            "  -V, --version            version\n"
            "\n"
            "Exit codes: 0 stopped (signal), caught up (--until-idle) or done; 1 failed\n"
            "(a directory or the broker unavailable); 2 verify found differences, or resync\n"
            "had persons the authority refused; 64 bad usage.\n",
            CLI_ENV_CONFIG, CLI_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
    enum {
        OPT_UNTIL_IDLE = CLI_OPT_BOOTSTRAP + 1,
        OPT_METRICS,
        OPT_SCHOOL,
        OPT_RECORD_UID,
        OPT_DRY_RUN
    };
    static const struct option opts[] = {CLI_SHARED_OPTIONS,
                                         {"authority", required_argument, NULL, 'a'},
                                         {"until-idle", no_argument, NULL, OPT_UNTIL_IDLE},
                                         {"metrics", required_argument, NULL, OPT_METRICS},
                                         {"school", required_argument, NULL, OPT_SCHOOL},
                                         {"record-uid", required_argument, NULL, OPT_RECORD_UID},
                                         {"dry-run", no_argument, NULL, OPT_DRY_RUN},
                                         {NULL, 0, NULL, 0}};
    struct cli_shared sh = {0};
    struct connector_opts co = {0};
    struct resync_opts ro = {0};
    const char *metrics = NULL;
    int c, rc;
    while ((c = getopt_long(argc, argv, CLI_SHARED_SHORT "a:", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            co.authority = ro.authority = optarg;
            break;
        case OPT_UNTIL_IDLE:
            co.until_idle = true;
            break;
        case OPT_METRICS:
            metrics = optarg;
            break;
        case OPT_SCHOOL:
            ro.school = optarg;
            break;
        case OPT_RECORD_UID:
            ro.record_uid = optarg;
            break;
        case OPT_DRY_RUN:
            ro.dry_run = true;
            break;
        default:
            if ((rc = cli_shared_option(c, optarg, "connector", usage, &sh)) != CLI_GO_ON)
                return rc;
        }
    }
    const char *cmd = optind < argc ? argv[optind] : NULL;
    bool resync = cmd && strcmp(cmd, "resync") == 0, verify = cmd && strcmp(cmd, "verify") == 0;
    const char *bad = NULL;
    if (cmd && !resync && !verify)
        bad = "unknown command (resync, verify, or none)";
    else if (optind + (cmd ? 1 : 0) < argc)
        bad = "too many arguments";
    else if (!co.authority)
        bad = "--authority NAME is required";
    else if (!cmd && (ro.school || ro.record_uid || ro.dry_run))
        bad = "--school, --record-uid and --dry-run belong to resync and verify";
    else if (cmd && (co.until_idle || metrics))
        bad = "--until-idle and --metrics belong to the service (no command)";
    else if (verify && ro.dry_run)
        bad = "verify never writes: --dry-run belongs to resync";
    if (bad) {
        fprintf(stderr, "sisopi-connector: %s\n", bad);
        usage(stderr);
        return EXIT_USAGE;
    }
    struct config cfg;
    if (cli_load(&cfg, "connector", sh.config, sh.bootstrap) < 0)
        return EXIT_FAILED;
    if (cmd) {
        ro.verify = verify;
        rc = resync_run(&cfg, &ro);
    } else {
        co.metrics_listen = metrics ? metrics : cfg.connector.metrics;
        rc = connector_run(&cfg, &co);
    }
    config_free(&cfg);
    return rc;
}
