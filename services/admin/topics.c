/*
 * sisopi-admin topics check|create: the three topics as the config wants them, through
 * librdkafka's Admin API (CreateTopics, DescribeConfigs) against a real broker. The dev
 * broker (librdkafka's mock cluster) answers metadata but no admin request: check works
 * there except for the configs, create only when nothing is missing.
 */
#include "topics.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kafka_client.h"

/* What each topic should be. retention.ms -1: kept forever. */
struct want {
    const char *role; /* "users", "events", "dlq" */
    const char *name;
    const char *retention_ms;
    bool exact_partitions; /* the end markers count per partition: must equal the config */
};

#define N_TOPICS 4

static void wants(const struct config *cfg, struct want w[N_TOPICS])
{
    /* sisopi.users: 400 days, longer than a school year: an import held by the guard waits
     * for its release, a reconciler taking over a partition re-reads open imports, and the
     * audit's report and verify read the records (docs/operations.md). Not forever: they are
     * children's personal data. Events: the audit trail, forever; the dead letters: nothing
     * is lost, forever. */
    w[0] = (struct want){"users", cfg->kafka.topic_users, "34560000000", true};
    w[1] = (struct want){"events", cfg->kafka.topic_events, "-1", false};
    w[2] = (struct want){"dlq", cfg->kafka.topic_dlq, "-1", false};
    /* The reconciler's journal: only what no commit covers yet is ever read (minutes), so a
     * week is plenty; partitioned like sisopi.users (docs/reconciler.md). */
    w[3] = (struct want){"journal", cfg->kafka.topic_journal, "604800000", true};
}

/* The topic's retention.ms via DescribeConfigs into out; 0, or -1 with err. */
static int describe_retention(rd_kafka_t *rk, const char *topic, int timeout_ms, char *out,
                              size_t out_n, char *err, size_t n)
{
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, NULL, 0);
    rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    int rc = -1;
    if (!ev) {
        snprintf(err, n, "no answer to DescribeConfigs within %d ms", timeout_ms);
    } else if (rd_kafka_event_error(ev)) {
        snprintf(err, n, "DescribeConfigs: %s", rd_kafka_event_error_string(ev));
    } else {
        size_t cnt = 0;
        const rd_kafka_ConfigResource_t **r = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(ev), &cnt);
        snprintf(out, out_n, "(not set)");
        const rd_kafka_ConfigResource_t *one = cnt == 1 ? r[0] : NULL;
        if (!one || rd_kafka_ConfigResource_error(one)) {
            snprintf(err, n, "DescribeConfigs %s: %s", topic,
                     one ? rd_kafka_ConfigResource_error_string(one) : "no answer for it");
        } else {
            size_t ne = 0;
            const rd_kafka_ConfigEntry_t **e = rd_kafka_ConfigResource_configs(one, &ne);
            for (size_t i = 0; i < ne; i++) {
                const char *v = rd_kafka_ConfigEntry_value(e[i]);
                if (strcmp(rd_kafka_ConfigEntry_name(e[i]), "retention.ms") == 0)
                    snprintf(out, out_n, "%s", v ? v : "(null)");
            }
            rc = 0;
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return rc;
}

/* Checks one topic; prints a line; returns the number of problems (configs the broker cannot
 * describe are a warning, not a problem). */
static int check_one(rd_kafka_t *rk, const struct config *cfg, const struct want *w, int timeout_ms,
                     char *no_describe, size_t no_describe_size)
{
    char err[512], ret[64];
    int parts = kafka_topic_partitions(rk, w->name, timeout_ms, err, sizeof(err));
    if (parts < 0) {
        printf("%-7s %-26s ERROR  %s\n", w->role, w->name, err);
        return 1;
    }
    if (parts == 0) {
        printf("%-7s %-26s MISSING  (sisopi-admin topics create)\n", w->role, w->name);
        return 1;
    }
    if (w->exact_partitions && parts != cfg->kafka.partitions) {
        printf("%-7s %-26s WRONG  %d partitions, the config says kafka.partitions = %d: the end "
               "markers count records per partition, every party must agree; a new topic is "
               "needed\n",
               w->role, w->name, parts, cfg->kafka.partitions);
        return 1;
    }
    /* Once the broker did not describe one topic, it is not asked again for the next: an
     * operator should not wait for the same timeout three times. */
    if (*no_describe ||
        describe_retention(rk, w->name, timeout_ms, ret, sizeof(ret), err, sizeof(err)) < 0) {
        if (!*no_describe)
            snprintf(no_describe, no_describe_size, "%s", err);
        printf("%-7s %-26s ok     %d partitions; retention.ms not checked: %s\n", w->role, w->name,
               parts, no_describe);
        return 0;
    }
    if (strcmp(ret, w->retention_ms) != 0 && strcmp(w->retention_ms, "-1") == 0) {
        printf("%-7s %-26s WRONG  %d partitions; retention.ms = %s, should be -1 (kept "
               "forever)\n",
               w->role, w->name, parts, ret);
        return 1;
    }
    printf("%-7s %-26s ok     %d partitions, retention.ms = %s\n", w->role, w->name, parts, ret);
    return 0;
}

/* CreateTopics for the missing ones; prints each result. Returns the number of failures. */
static int create_missing(rd_kafka_t *rk, const struct config *cfg, const struct want *w,
                          const bool *missing, int timeout_ms)
{
    rd_kafka_NewTopic_t *nt[N_TOPICS];
    size_t n = 0;
    char err[512];
    for (size_t i = 0; i < N_TOPICS; i++) {
        if (!missing[i])
            continue;
        nt[n] = rd_kafka_NewTopic_new(w[i].name, cfg->kafka.partitions,
                                      cfg->kafka.replication_factor, err, sizeof(err));
        if (!nt[n]) {
            printf("%-7s %-26s ERROR  %s\n", w[i].role, w[i].name, err);
            return 1;
        }
        rd_kafka_NewTopic_set_config(nt[n], "retention.ms", w[i].retention_ms);
        rd_kafka_NewTopic_set_config(nt[n], "cleanup.policy", "delete");
        n++;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, NULL, 0);
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, NULL, 0);
    rd_kafka_CreateTopics(rk, nt, n, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    int failed = 0;
    if (!ev || rd_kafka_event_error(ev)) {
        printf("CreateTopics failed: %s (sisopi-devbroker cannot create topics: it creates "
               "them itself at start)\n",
               ev ? rd_kafka_event_error_string(ev) : "no answer in time");
        failed = (int)n;
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **r =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(r[i]);
            printf("%-26s %s\n", rd_kafka_topic_result_name(r[i]),
                   e ? rd_kafka_topic_result_error_string(r[i]) : "created");
            failed +=
                e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    for (size_t i = 0; i < n; i++)
        rd_kafka_NewTopic_destroy(nt[i]);
    return failed;
}

int admin_topics(const struct config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"timeout", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    bool create = argc >= 2 && strcmp(argv[1], "create") == 0;
    if (argc < 2 || (!create && strcmp(argv[1], "check") != 0)) {
        fprintf(stderr, "sisopi-admin: topics: say check or create\n");
        return EXIT_USAGE;
    }
    int timeout_ms = 10000, c;
    long sec;
    argc--, argv++;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 't')
            return EXIT_USAGE;
        if (cli_number("admin", "timeout", optarg, 1, 3600, &sec) < 0)
            return EXIT_USAGE;
        timeout_ms = (int)sec * 1000;
    }
    if (optind != argc)
        return EXIT_USAGE;
    char err[512];
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, sizeof(err));
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)) : NULL;
    if (!rk) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        fprintf(stderr, "sisopi-admin: %s\n", err);
        return EXIT_FAILED;
    }
    struct want w[N_TOPICS];
    wants(cfg, w);
    bool missing[N_TOPICS] = {false};
    int problems = 0, n_missing = 0;
    for (size_t i = 0; create && i < N_TOPICS; i++) {
        int p = kafka_topic_partitions(rk, w[i].name, timeout_ms, err, sizeof(err));
        missing[i] = p == 0;
        n_missing += p == 0;
        problems += p < 0;
    }
    if (create && !problems && n_missing)
        problems += create_missing(rk, cfg, w, missing, timeout_ms);
    if (!problems) { /* after a create too: what the broker now has */
        char no_describe[512] = "";
        /* librdkafka's mock cluster (the dev broker) names itself so; it answers no admin
         * request, and waiting for it to time out says nothing. */
        char *cluster = rd_kafka_clusterid(rk, timeout_ms);
        if (cluster && strncmp(cluster, "mockCluster", 11) == 0)
            snprintf(no_describe, sizeof(no_describe),
                     "the dev broker (cluster %s) cannot describe configs", cluster);
        if (cluster)
            rd_kafka_mem_free(rk, cluster);
        for (size_t i = 0; i < N_TOPICS; i++)
            problems += check_one(rk, cfg, &w[i], timeout_ms, no_describe, sizeof(no_describe));
    } else if (create && n_missing == 0) {
        fprintf(stderr, "sisopi-admin: %s\n", err);
    }
    rd_kafka_destroy(rk);
    return problems ? EXIT_FAILED : EXIT_OK;
}
