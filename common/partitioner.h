/*
 * partitioner: which partition of sisopi.users a record_uid belongs to.
 * Kafka's Java default (murmur2, positive, modulo) so that any producer agrees with sisopi.
 */
#ifndef SISOPI_PARTITIONER_H
#define SISOPI_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit value. */
int32_t partitioner_murmur2(const void *key, size_t len);

/* The partition of key among partition_count (> 0) partitions. */
int32_t partitioner_partition(const char *key, size_t len, int32_t partition_count);

#endif
