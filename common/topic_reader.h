/*
 * topic_reader: reads a whole topic, every partition from its beginning to its current end,
 * without a consumer group and without committing anything: how auditors and tests replay.
 */
#ifndef SISOPI_TOPIC_READER_H
#define SISOPI_TOPIC_READER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "config.h"

/* Called for every message in partition order (partitions interleaved). Return 0 to go on,
 * non-zero to stop reading (topic_read_all then returns that value). */
typedef int (*topic_reader_cb)(const rd_kafka_message_t *m, void *opaque);

/*
 * Reads topic from the beginning of each partition up to the end it had when reading started.
 * Returns 0 when everything was read, the callback's non-zero value if it stopped, or -1 with
 * err (topic missing, broker unreachable, or not done within timeout_ms).
 */
int topic_read_all(const struct config *cfg, const char *topic, int timeout_ms, topic_reader_cb cb,
                   void *opaque, char *err, size_t errlen);

/*
 * Reads partition of topic from offset `from` up to, not including, offset `to`, calling cb
 * for each message. Returns 0, the callback's non-zero value, or -1 with err.
 */
int topic_read_range(const struct config *cfg, const char *topic, int32_t partition, int64_t from,
                     int64_t to, int timeout_ms, topic_reader_cb cb, void *opaque, char *err,
                     size_t errlen);

/*
 * Reads n partitions of topic: parts[i] from offset from[i] (one below the partition's
 * beginning, e.g. -1, reads from the beginning) up to the end it has when reading starts.
 * low[i] and high[i] (either may be NULL) get the beginning and that end, so a caller can tell
 * whether what it asked for was still there. Returns 0, the callback's non-zero value, or -1
 * with err.
 */
int topic_read_partitions(const struct config *cfg, const char *topic, const int32_t *parts,
                          const int64_t *from, size_t n, int64_t *low, int64_t *high,
                          int timeout_ms, topic_reader_cb cb, void *opaque, char *err,
                          size_t errlen);

/*
 * A tail of topic: every partition from its end as of this call, so it sees what is written
 * from now on. Nothing is committed and no consumer group is joined. NULL with err on failure.
 */
struct topic_tail;
struct topic_tail *topic_tail_open(const struct config *cfg, const char *topic, int timeout_ms,
                                   char *err, size_t errlen);

/* The next message (or error event) within timeout_ms, or NULL; rd_kafka_message_destroy it. */
rd_kafka_message_t *topic_tail_poll(struct topic_tail *t, int timeout_ms);

/* Stops reading and frees t (NULL is fine). */
void topic_tail_close(struct topic_tail *t);

#endif
