/*
 * group_offsets: prints the reconcilers' committed offset and the end of each partition of
 * sisopi.users, so that fault tests can show what was committed while the directory was away.
 * It asks the group coordinator (OffsetFetch) and never joins the group.
 *
 *   group_offsets -c CFG
 *
 * One line per partition: "PARTITION COMMITTED END"; COMMITTED is -1 when nothing is committed.
 * Exit 1 when the broker cannot answer within 10 s.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "kafka_client.h"

#define WAIT_MS 10000

static int print_offsets(rd_kafka_t *rk, const struct config *cfg)
{
    const char *topic = cfg->kafka.topic_users;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(cfg->kafka.partitions);
    for (int p = 0; p < cfg->kafka.partitions; p++)
        rd_kafka_topic_partition_list_add(l, topic, p);
    int rc = 0;
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, WAIT_MS);
    if (e) {
        fprintf(stderr, "group_offsets: committed offsets of group %s: %s\n",
                cfg->reconciler.group_id, rd_kafka_err2str(e));
        rc = 1;
        goto out;
    }
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo = -1, hi = -1;
        const rd_kafka_topic_partition_t *t = &l->elems[i];
        if (t->err) {
            fprintf(stderr, "group_offsets: %s [%" PRId32 "]: %s\n", topic, t->partition,
                    rd_kafka_err2str(t->err));
            rc = 1;
            goto out;
        }
        e = rd_kafka_query_watermark_offsets(rk, topic, t->partition, &lo, &hi, WAIT_MS);
        if (e) {
            fprintf(stderr, "group_offsets: end of %s [%" PRId32 "]: %s\n", topic, t->partition,
                    rd_kafka_err2str(e));
            rc = 1;
            goto out;
        }
        printf("%" PRId32 " %" PRId64 " %" PRId64 "\n", t->partition,
               t->offset < 0 ? -1 : t->offset, hi);
    }
out:
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "-c") != 0) {
        fprintf(stderr, "usage: group_offsets -c CFG\n");
        return 64;
    }
    struct config cfg;
    char err[512];
    if (cli_load(&cfg, "group_offsets", argv[2], NULL) < 0)
        return 1;
    rd_kafka_conf_t *conf = kafka_conf_new(&cfg, err, sizeof(err));
    if (conf && kafka_conf_set(conf, "group.id", cfg.reconciler.group_id, err, sizeof(err)) < 0) {
        rd_kafka_conf_destroy(conf);
        conf = NULL;
    }
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)) : NULL;
    if (!rk) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        fprintf(stderr, "group_offsets: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    int rc = print_offsets(rk, &cfg);
    kafka_consumer_destroy(rk);
    config_free(&cfg);
    return rc;
}
