/*
 * kafka_client: librdkafka handles built from the config (bootstrap, pass-through properties)
 * and the few metadata questions the services ask. The only module that knows rd_kafka_conf.
 */
#ifndef SISOPI_KAFKA_CLIENT_H
#define SISOPI_KAFKA_CLIENT_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "records.h"

/* A conf with bootstrap.servers and kafka.properties applied (properties win, so an operator
 * can override anything). Returns NULL with err naming the property that was refused. */
rd_kafka_conf_t *kafka_conf_new(const struct config *cfg, char *err, size_t errlen);

/* Sets one property on conf; returns 0 or -1 with err. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                   size_t errlen);

/* An idempotent producer (acks=all, no loss, no duplicates, order kept per partition,
 * Java's murmur2 partitioner); these win over kafka.properties. conf is consumed in every
 * case. */
rd_kafka_t *kafka_producer_new(rd_kafka_conf_t *conf, char *err, size_t errlen);

/* The last header `name` of m as a NUL-terminated copy (free it), or NULL when absent. */
char *kafka_header_text(const rd_kafka_message_t *m, const char *name);

/* The last header `name` of m as a decimal number without sign (what sisopi writes for
 * partitions and offsets), or -1 when absent or anything else. */
int64_t kafka_header_num(const rd_kafka_message_t *m, const char *name);

/* Makes rk (a new group consumer, rd_kafka_poll_set_consumer already called) subscribe to
 * topic alone. Returns 0, or -1 with err. */
int kafka_subscribe_topic(rd_kafka_t *rk, const char *topic, char *err, size_t errlen);

/* Closes a consumer that joined a group (or looked up its coordinator) and destroys it, in
 * the order librdkafka 2.0 survives. NULL is fine. */
void kafka_consumer_destroy(rd_kafka_t *rk);

/*
 * The partition count of topic, asking for the metadata of all topics so that a missing topic
 * is not auto-created by the asking. Returns the count, 0 when the topic does not exist, or
 * -1 with err when the cluster could not be asked within timeout_ms.
 */
int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                           size_t errlen);

/* Checks that topic exists with exactly cfg->kafka.partitions partitions: the end markers of
 * an import count records per partition, so every party must agree. */
int kafka_check_topic(rd_kafka_t *rk, const struct config *cfg, const char *topic, int timeout_ms,
                      char *err, size_t errlen);

/*
 * Produces one message of sisopi.users: value (len bytes, copied) keyed by key (may be NULL), to
 * partition, or to the key's partition (partitioner.h, what every producer computes) when
 * partition is KAFKA_KEY_PARTITION. While librdkafka's queue is full it serves the delivery
 * reports and tries again, unless stop(opaque) (may be NULL) says to give up (the caller saw a
 * delivery fail). Returns 0 or -1 with err.
 */
#define KAFKA_KEY_PARTITION (-1)
int kafka_produce_users(rd_kafka_t *rk, const struct config *cfg, int32_t partition,
                        const char *key, const void *value, size_t len, bool (*stop)(void *opaque),
                        void *opaque, char *err, size_t errlen);

/* users_msg_encode(m) produced as above. */
int kafka_produce_users_msg(rd_kafka_t *rk, const struct config *cfg, int32_t partition,
                            const char *key, const struct users_msg *m, bool (*stop)(void *opaque),
                            void *opaque, char *err, size_t errlen);

#endif
