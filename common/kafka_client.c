/*
 * kafka_client: configuration and metadata helpers over librdkafka.
 */
#include "kafka_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avro_codec.h"
#include "log.h"
#include "partitioner.h"
#include "strutil.h"

int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                   size_t errstr_size)
{
    char why[256];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "kafka property %s: %s", key, why);
        return -1;
    }
    return 0;
}

/* librdkafka's own log lines, in ours. Its warning that a shared property does not apply to
 * this kind of client is expected (one properties list serves producers and consumers). */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    enum log_level l = level <= 3   ? LEVEL_ERROR
                       : level == 4 ? LEVEL_WARN
                       : level <= 6 ? LEVEL_INFO
                                    : LEVEL_DEBUG;
    if (strcmp(fac, "CONFWARN") == 0 &&
        (strstr(buf, "is a consumer property") || strstr(buf, "is a producer property")))
        l = LEVEL_DEBUG;
    log_kv(l, "kafka", "facility", fac, "msg", buf, NULL);
}

rd_kafka_conf_t *kafka_conf_new(const struct config *cfg, char *errstr, size_t errstr_size)
{
    const struct kafka_config *k = &cfg->kafka;
    if (!k->bootstrap || !*k->bootstrap) {
        snprintf(errstr, errstr_size,
                 "%s: kafka.bootstrap: not set (set it, or use --bootstrap SERVERS or %s)",
                 cfg->path ? cfg->path : "(defaults)", CONFIG_ENV_BOOTSTRAP);
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (kafka_conf_set(conf, "bootstrap.servers", k->bootstrap, errstr, errstr_size) < 0)
        goto fail;
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    for (size_t i = 0; i < k->n_properties; i++) {
        if (kafka_conf_set(conf, k->properties[i].key, k->properties[i].value, errstr,
                           errstr_size) < 0) {
            size_t n = strlen(errstr);
            snprintf(errstr + n, errstr_size - n, " (%s: kafka.properties)", cfg->path);
            goto fail;
        }
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *kafka_producer_new(rd_kafka_conf_t *conf, char *errstr, size_t errstr_size)
{
    /* Set after kafka.properties, so no property can weaken them: losing or duplicating a
     * record, or reordering one person's messages, would be a correctness bug. The
     * partitioner is Java's, for anything not placed explicitly. */
    if (kafka_conf_set(conf, "partitioner", "murmur2_random", errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "acks", "all", errstr, errstr_size) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}

char *kafka_header_text(const rd_kafka_message_t *m, const char *name)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || !v)
        return NULL;
    char *s = xmalloc(n + 1);
    memcpy(s, v, n);
    s[n] = '\0';
    return s;
}

int64_t kafka_header_num(const rd_kafka_message_t *m, const char *name)
{
    char *s = kafka_header_text(m, name);
    size_t n = s ? strlen(s) : 0;
    int64_t v = n && n <= 18 && strspn(s, "0123456789") == n ? strtoll(s, NULL, 10) : -1;
    free(s);
    return v;
}

int kafka_subscribe_topic(rd_kafka_t *rk, const char *topic, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (e) {
        snprintf(err, errlen, "cannot subscribe to %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

void kafka_consumer_destroy(rd_kafka_t *rk)
{
    if (!rk)
        return;
    rd_kafka_consumer_close(rk);
    /* Closing leaves the group's coordinator: librdkafka drops that connection on the
     * coordinator's own thread, which then asks any broker for fresh metadata. In 2.0 that
     * broker may be one rd_kafka_destroy is already tearing down, and the process aborts
     * (rd_kafka_broker_destroy_final: "thrd_is_current"). A moment between the two lets the
     * coordinator's thread finish first. */
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    rd_kafka_destroy(rk);
}

int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                           size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err) {
        snprintf(errstr, errstr_size, "cannot read the cluster's metadata: %s",
                 rd_kafka_err2str(err));
        return -1;
    }
    int n = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) == 0 && !md->topics[i].err)
            n = md->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return n;
}

int kafka_check_topic(rd_kafka_t *rk, const struct config *cfg, const char *topic, int timeout_ms,
                      char *errstr, size_t errstr_size)
{
    int n = kafka_topic_partitions(rk, topic, timeout_ms, errstr, errstr_size);
    if (n < 0)
        return -1;
    if (n == 0) {
        snprintf(errstr, errstr_size,
                 "topic %s does not exist on %s (create it with %d partitions: sisopi-admin "
                 "topics create)",
                 topic, cfg->kafka.bootstrap, cfg->kafka.partitions);
        return -1;
    }
    if (n != cfg->kafka.partitions) {
        snprintf(errstr, errstr_size,
                 "topic %s has %d partitions but %s says kafka.partitions = %d; they must agree "
                 "(the end markers count records per partition)",
                 topic, n, cfg->path ? cfg->path : "the config", cfg->kafka.partitions);
        return -1;
    }
    return 0;
}

int kafka_produce_users(rd_kafka_t *rk, const struct config *cfg, int32_t partition,
                        const char *key, const void *value, size_t len, bool (*stop)(void *opaque),
                        void *opaque, char *err, size_t errlen)
{
    const char *topic = cfg->kafka.topic_users;
    size_t klen = key ? strlen(key) : 0;
    if (partition == KAFKA_KEY_PARTITION)
        partition = partitioner_partition(key ? key : "", klen, cfg->kafka.partitions);
    for (;;) {
        if (stop && stop(opaque)) {
            snprintf(err, errlen, "stopped producing to %s: a delivery failed", topic);
            return -1;
        }
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY((void *)key, klen), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!e)
            return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(err, errlen, "cannot produce to %s [%d]: %s", topic, partition,
                     rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(rk, 50);
    }
}

int kafka_produce_users_msg(rd_kafka_t *rk, const struct config *cfg, int32_t partition,
                            const char *key, const struct users_msg *m, bool (*stop)(void *opaque),
                            void *opaque, char *err, size_t errlen)
{
    void *buf = NULL;
    size_t len = 0;
    if (users_msg_encode(m, &buf, &len, err, errlen) < 0)
        return -1;
    int rc = kafka_produce_users(rk, cfg, partition, key, buf, len, stop, opaque, err, errlen);
    free(buf);
    return rc;
}
