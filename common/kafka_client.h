/*
 * kafka_client: librdkafka handles built from the config (bootstrap, pass-through properties)
 * and the few metadata questions the services ask. The only module that knows rd_kafka_conf.
 */
#ifndef SISOPI_KAFKA_CLIENT_H
#define SISOPI_KAFKA_CLIENT_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "config.h"

/* A conf with bootstrap.servers and kafka.properties applied (properties win, so an operator
 * can override anything). Returns NULL with errstr naming the property that was refused. */
rd_kafka_conf_t *kafka_conf_new(const struct config *cfg, char *errstr, size_t errstr_size);

/* Sets one property on conf; returns 0 or -1 with errstr. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                   size_t errstr_size);

/* An idempotent producer (acks=all, no loss, no duplicates, order kept per partition,
 * Java's murmur2 partitioner); these win over kafka.properties. conf is consumed in every
 * case. */
rd_kafka_t *kafka_producer_new(rd_kafka_conf_t *conf, char *errstr, size_t errstr_size);

/*
 * The partition count of topic, asking for the metadata of all topics so that a missing topic
 * is not auto-created by the asking. Returns the count, 0 when the topic does not exist, or
 * -1 with errstr when the cluster could not be asked within timeout_ms.
 */
int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                           size_t errstr_size);

/* Checks that topic exists with exactly cfg->kafka.partitions partitions: the end markers of
 * an import count records per partition, so every party must agree. */
int kafka_check_topic(rd_kafka_t *rk, const struct config *cfg, const char *topic, int timeout_ms,
                      char *errstr, size_t errstr_size);

#endif
