/*
 * sisopi-ingest: validates a school's CSV export and publishes it to sisopi.users, or, with
 * --watch, does so for every file a source database drops into a directory.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ingest.h"
#include "kafka_client.h"
#include "log.h"
#include "outcome.h"
#include "strutil.h"
#include "watch.h"

#define DEFAULT_WAIT_S 600.0 /* --wait without --timeout */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: sisopi-ingest [-c FILE] [--bootstrap SERVERS] --school S --role ROLE\n"
            "                     [--source-uid X] [--dry-run] [--check]\n"
            "                     [--wait [--timeout DURATION]] FILE.csv\n"
            "       sisopi-ingest [-c FILE] [--bootstrap SERVERS] --watch DIR [--once]\n"
            "                     [--interval SECONDS] [--dry-run] [--wait [--timeout DURATION]]\n"
            "\n"
            "Reads one school's export of one role, checks every row, and publishes the\n"
            "persons to Kafka (sisopi.users) followed by the end markers that let the\n"
            "reconciler remove the persons the school no longer lists. A file with more bad\n"
            "rows than import.tolerate_errors publishes nothing.\n"
            "\n"
            "  -c, --config FILE      config file (default $%s or %s)\n"
            "  -b, --bootstrap SERVERS\n"
            "                         Kafka bootstrap servers (overrides the config and\n"
            "                         $%s)\n"
            "  -s, --school S         the school (OU) the file belongs to\n"
            "  -r, --role ROLE        student, teacher, staff or teacher_and_staff\n"
            "      --source-uid X     source database name (default import.source_uid)\n"
            "  -n, --dry-run          publish nothing: print what the reconciler would do now,\n"
            "                         person by person, read from the directory\n"
            "      --check            validate and report only; publish nothing\n"
            "      --wait             then wait until every partition's reconciler answered\n"
            "                         (completed, held, incomplete; rejected persons) and\n"
            "                         print the outcome (with --watch: into each .report)\n"
            "      --timeout D        with --wait: at most this long (e.g. 90s, 10m; default\n"
            "                         10m)\n"
            "      --watch DIR        import every DIR/<school>/<role>[-<any>].csv dropped there;\n"
            "                         moves each to DIR/done/ or DIR/failed/ with a .report\n"
            "      --once             with --watch: import what is there, then exit\n"
            "      --interval SEC     with --watch: seconds between scans (default 5)\n"
            "      --metrics HOST:PORT\n"
            "                         with --watch: serve /metrics and /healthz there (default\n"
            "                         metrics.ingest, 127.0.0.1:9466; \"\" = off)\n"
            "  -q, --quiet            no progress lines\n"
            "  -h, --help             this help\n"
            "  -V, --version          version\n"
            "\n"
            "Exit codes: 0 published; 2 published, but bad rows were skipped (tolerated);\n"
            "1 failed, nothing that removes anyone was published; 64 bad command line.\n"
            "With --wait: 0 completed everywhere; 2 completed, but bad rows were skipped or\n"
            "persons rejected; 3 held by the deletion guard (sisopi-admin release); 4\n"
            "incomplete on a partition (import again); 5 no outcome within --timeout.\n",
            CLI_ENV_CONFIG, CLI_DEFAULT_CONFIG, CONFIG_ENV_BOOTSTRAP);
}

struct options {
    struct cli_shared sh; /* -c, --bootstrap */
    const char *school, *role, *source_uid, *watch_dir, *file, *metrics;
    bool dry_run, check, once, quiet, wait;
    int interval;
    double timeout_s; /* --wait's */
};

static int parse_options(int argc, char **argv, struct options *o)
{
    enum {
        OPT_SOURCE_UID = CLI_OPT_BOOTSTRAP + 1,
        OPT_CHECK,
        OPT_WATCH,
        OPT_ONCE,
        OPT_INTERVAL,
        OPT_METRICS,
        OPT_WAIT,
        OPT_TIMEOUT
    };
    static const struct option opts[] = {CLI_SHARED_OPTIONS,
                                         {"school", required_argument, NULL, 's'},
                                         {"role", required_argument, NULL, 'r'},
                                         {"source-uid", required_argument, NULL, OPT_SOURCE_UID},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"check", no_argument, NULL, OPT_CHECK},
                                         {"watch", required_argument, NULL, OPT_WATCH},
                                         {"once", no_argument, NULL, OPT_ONCE},
                                         {"interval", required_argument, NULL, OPT_INTERVAL},
                                         {"metrics", required_argument, NULL, OPT_METRICS},
                                         {"wait", no_argument, NULL, OPT_WAIT},
                                         {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {NULL, 0, NULL, 0}};
    int c, rc;
    long n;
    int64_t secs;
    bool timeout_given = false;
    memset(o, 0, sizeof(*o));
    o->interval = 5;
    o->timeout_s = DEFAULT_WAIT_S;
    while ((c = getopt_long(argc, argv, CLI_SHARED_SHORT "s:r:nq", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->school = optarg;
            break;
        case 'r':
            o->role = optarg;
            break;
        case OPT_SOURCE_UID:
            o->source_uid = optarg;
            break;
        case 'n':
            o->dry_run = true;
            break;
        case OPT_CHECK:
            o->check = true;
            break;
        case OPT_WATCH:
            o->watch_dir = optarg;
            break;
        case OPT_ONCE:
            o->once = true;
            break;
        case OPT_INTERVAL:
            if (cli_number("ingest", "interval", optarg, 1, 86400, &n) < 0)
                return -1;
            o->interval = (int)n;
            break;
        case OPT_METRICS:
            o->metrics = optarg;
            break;
        case OPT_WAIT:
            o->wait = true;
            break;
        case OPT_TIMEOUT:
            if (config_parse_duration(optarg, &secs) < 0 || secs < 1) {
                fprintf(stderr,
                        "sisopi-ingest: --timeout: \"%s\" is not a duration such as 90s, 10m "
                        "or 1h\n",
                        optarg);
                return -1;
            }
            o->timeout_s = (double)secs;
            timeout_given = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        default:
            if ((rc = cli_shared_option(c, optarg, "ingest", usage, &o->sh)) == EXIT_OK)
                exit(EXIT_OK); /* --help, --version */
            if (rc != CLI_GO_ON)
                return -1;
        }
    }
    if (timeout_given && !o->wait) {
        fprintf(stderr, "sisopi-ingest: --timeout is --wait's: add --wait\n");
        return -1;
    }
    if (o->wait && o->dry_run) {
        fprintf(stderr, "sisopi-ingest: --dry-run publishes nothing: there is nothing to --wait "
                        "for (the dry run prints what would happen)\n");
        return -1;
    }
    if (o->wait && o->check) {
        fprintf(stderr,
                "sisopi-ingest: --check publishes nothing: there is nothing to --wait for\n");
        return -1;
    }
    if (o->watch_dir) {
        if (optind != argc || o->school || o->role) {
            fprintf(stderr, "sisopi-ingest: --watch takes no FILE, --school or --role: they come "
                            "from the file's place DIR/<school>/<role>.csv\n");
            return -1;
        }
        return 0;
    }
    if (optind != argc - 1 || !o->school || !o->role) {
        fprintf(stderr, "sisopi-ingest: need --school, --role and exactly one FILE (see --help)\n");
        return -1;
    }
    o->file = argv[optind];
    return 0;
}

static rd_kafka_t *make_producer(const struct config *cfg)
{
    char err[512];
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, sizeof(err));
    if (!conf) {
        fprintf(stderr, "sisopi-ingest: %s\n", err);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, ingest_dr_cb);
    rd_kafka_t *rk = kafka_producer_new(conf, err, sizeof(err));
    if (!rk)
        fprintf(stderr, "sisopi-ingest: %s\n", err);
    return rk;
}

static int run_file(rd_kafka_t *rk, const struct config *cfg, const struct options *o)
{
    const char *sid = o->source_uid ? o->source_uid : cfg->import.source_uid;
    char err[512];
    enum role role;
    int bad = ingest_check_job(cfg, o->school, o->role, sid, &role, err, sizeof(err));
    if (bad < 0) {
        fprintf(stderr, "sisopi-ingest: %s\n", err);
        return bad == -1 ? EXIT_USAGE : EXIT_FAILED; /* -1: --school or --role itself */
    }
    struct ingest_job job = {
        .cfg = cfg,
        .path = o->file,
        .school = o->school,
        .role = role,
        .source_uid = sid,
        .dry_run = o->dry_run,
        .check_only = o->check,
        .report = stderr,
        .progress = !o->quiet,
    };
    struct ingest_result res;
    int rc = outcome_run(rk, &job, o->wait, o->timeout_s, stderr, stdout, &res);
    ingest_result_free(&res);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    struct config cfg;
    rd_kafka_t *rk = NULL;
    int rc;

    if (parse_options(argc, argv, &o) < 0)
        return EXIT_USAGE;
    if (cli_load(&cfg, "ingest", o.sh.config, o.sh.bootstrap) < 0)
        return EXIT_FAILED;
    if (!o.check && !(rk = make_producer(&cfg))) {
        config_free(&cfg);
        return EXIT_FAILED;
    }
    if (o.watch_dir) {
        struct watch_opts w = {.dir = o.watch_dir,
                               .source_uid = o.source_uid,
                               .dry_run = o.dry_run,
                               .once = o.once,
                               .interval = o.interval,
                               .progress = !o.quiet,
                               .wait = o.wait,
                               .timeout_s = o.timeout_s,
                               .metrics_listen = o.metrics ? o.metrics : cfg.metrics.ingest};
        rc = watch_run(rk, &cfg, &w);
    } else {
        rc = run_file(rk, &cfg, &o);
    }
    if (rk) {
        rd_kafka_flush(rk, 10000);
        rd_kafka_destroy(rk);
    }
    config_free(&cfg);
    return rc;
}
