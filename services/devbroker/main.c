/*
 * sisopi-devbroker: librdkafka's mock cluster on loopback, with sisopi's topics created
 * (configured partitions) before any client can auto-create them. For development and tests
 * only: nothing survives a restart. Production runs a real Kafka cluster.
 */
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "strutil.h"

/* Kafka's API key of OffsetCommit (the protocol's number; librdkafka's name for it is private). */
#define KAFKA_API_OFFSET_COMMIT 8

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: sisopi-devbroker [-c FILE] [--bootstrap-file FILE] [--brokers N]\n"
            "\n"
            "Runs librdkafka's mock Kafka cluster on 127.0.0.1 for development and tests, with\n"
            "the topics of the config (kafka.topics.*) created with kafka.partitions partitions.\n"
            "Prints the bootstrap servers on stdout, and writes them to FILE if asked, then\n"
            "runs until SIGTERM or SIGINT. Nothing is kept across restarts.\n"
            "\n"
            "  -c, --config FILE        sisopi config (default $%s or %s)\n"
            "      --bootstrap-file F   write the bootstrap servers to F (atomically)\n"
            "      --brokers N          number of mock brokers (default 3)\n"
            "  -h, --help               this help\n"
            "  -V, --version            version\n"
            "\n"
            "Fault injection (tests), each logged as brokers_down / brokers_up:\n"
            "  SIGUSR1       every broker down: connections closed, new ones refused\n"
            "  SIGUSR2       every broker up again\n"
            "  SIGRTMIN+N    broker N (1..brokers) down alone, e.g. kill -s RTMIN+1 PID: the\n"
            "                partitions it leads become unreachable, the others keep working\n"
            "  SIGHUP        the next 3 offset commits are refused with REBALANCE_IN_PROGRESS,\n"
            "                what a group answers while it rebalances (commit_refusal_set)\n",
            CLI_ENV_CONFIG, CLI_DEFAULT_CONFIG);
}

/* Writes text to path via a temporary file and rename(2), so readers never see half of it. */
static int write_atomically(const char *path, const char *text)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (!f)
        goto out;
    if (fprintf(f, "%s\n", text) < 0 || fclose(f) != 0)
        goto out;
    rc = rename(tmp, path);
out:
    if (rc < 0)
        fprintf(stderr, "sisopi-devbroker: cannot write %s: %s\n", path, strerror(errno));
    free(tmp);
    return rc;
}

static int create_topics(rd_kafka_mock_cluster_t *mc, const struct config *cfg, int brokers)
{
    const char *topics[] = {cfg->kafka.topic_users, cfg->kafka.topic_events, cfg->kafka.topic_dlq,
                            cfg->kafka.topic_journal, cfg->connector.topic_dlq};
    int repl = cfg->kafka.replication_factor < brokers ? cfg->kafka.replication_factor : brokers;
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mc, topics[i], cfg->kafka.partitions, repl);
        if (err) {
            fprintf(stderr, "sisopi-devbroker: cannot create topic %s: %s\n", topics[i],
                    rd_kafka_err2str(err));
            return -1;
        }
        char parts[16];
        snprintf(parts, sizeof(parts), "%d", cfg->kafka.partitions);
        log_kv(LEVEL_INFO, "topic_created", "topic", topics[i], "partitions", parts, NULL);
    }
    return 0;
}

/* Sets brokers first..last (ids start at 1) down or up. */
static void set_brokers(rd_kafka_mock_cluster_t *mc, int first, int last, bool up)
{
    for (int id = first; id <= last; id++) {
        rd_kafka_resp_err_t e =
            up ? rd_kafka_mock_broker_set_up(mc, id) : rd_kafka_mock_broker_set_down(mc, id);
        if (e)
            fprintf(stderr, "sisopi-devbroker: broker %d: %s\n", id, rd_kafka_err2str(e));
    }
    char ids[32];
    if (first == last)
        snprintf(ids, sizeof(ids), "%d", first);
    else
        snprintf(ids, sizeof(ids), "%d-%d", first, last);
    log_kv(LEVEL_WARN, up ? "brokers_up" : "brokers_down", "brokers", ids, NULL);
}

int main(int argc, char **argv)
{
    enum { OPT_BOOTSTRAP_FILE = CLI_OPT_BOOTSTRAP + 1, OPT_BROKERS };
    static const struct option opts[] = {
        CLI_SHARED_OPTIONS,
        {"bootstrap-file", required_argument, NULL, OPT_BOOTSTRAP_FILE},
        {"brokers", required_argument, NULL, OPT_BROKERS},
        {NULL, 0, NULL, 0}};
    struct cli_shared sh = {0};
    const char *bootstrap_file = NULL;
    int brokers = 3, c, rc = EXIT_FAILED;
    long n;
    char errstr[512];

    while ((c = getopt_long(argc, argv, CLI_SHARED_SHORT, opts, NULL)) != -1) {
        switch (c) {
        case OPT_BOOTSTRAP_FILE:
            bootstrap_file = optarg;
            break;
        case OPT_BROKERS:
            if (cli_number("devbroker", "brokers", optarg, 1, 16, &n) < 0)
                return EXIT_USAGE;
            brokers = (int)n;
            break;
        default:
            if ((rc = cli_shared_option(c, optarg, "devbroker", usage, &sh)) != CLI_GO_ON)
                return rc;
        }
    }
    if (sh.bootstrap) {
        fprintf(stderr, "sisopi-devbroker: --bootstrap: the dev broker is the broker; it writes "
                        "its own addresses (--bootstrap-file)\n");
        return EXIT_USAGE;
    }
    if ((rc = cli_no_operands("devbroker", argc, argv, optind)) != CLI_GO_ON)
        return rc;
    rc = EXIT_FAILED;

    struct config cfg;
    if (cli_load(&cfg, "devbroker", sh.config, NULL) < 0)
        return EXIT_FAILED;

    /* Block the signals before librdkafka starts its threads, so they inherit the mask and
     * only sigwait() below ever sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGUSR2);
    sigaddset(&sigs, SIGHUP);
    for (int id = 1; id <= brokers; id++)
        sigaddset(&sigs, SIGRTMIN + id);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "sisopi-devbroker: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        goto out_cfg;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "sisopi-devbroker: cannot start the mock cluster\n");
        goto out_rk;
    }
    if (create_topics(mc, &cfg, brokers) < 0)
        goto out_mc;

    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    if (bootstrap_file && write_atomically(bootstrap_file, bootstrap) < 0)
        goto out_mc;
    printf("%s\n", bootstrap);
    fflush(stdout);
    log_kv(LEVEL_INFO, "started", "bootstrap", bootstrap, "bootstrap_file", bootstrap_file, NULL);

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGUSR1 || sig == SIGUSR2) {
            set_brokers(mc, 1, brokers, sig == SIGUSR2);
            continue;
        }
        if (sig == SIGHUP) {
            rd_kafka_mock_push_request_errors(
                mc, KAFKA_API_OFFSET_COMMIT, 3, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
                RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
            log_kv(LEVEL_INFO, "commit_refusal_set", "count", "3", NULL);
            continue;
        }
        if (sig > SIGRTMIN && sig <= SIGRTMIN + brokers) {
            set_brokers(mc, sig - SIGRTMIN, sig - SIGRTMIN, false);
            continue;
        }
        log_kv(LEVEL_INFO, "stopping", "signal", strsignal(sig), NULL);
        break;
    }
    if (bootstrap_file)
        unlink(bootstrap_file);
    rc = EXIT_OK;
out_mc:
    rd_kafka_mock_cluster_destroy(mc);
out_rk:
    rd_kafka_destroy(rk);
out_cfg:
    config_free(&cfg);
    return rc;
}
