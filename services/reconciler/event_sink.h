/*
 * event_sink: the reconciler's producer for sisopi.events, the dead-letter topic and its
 * journal. Events are keyed by record_uid (import summaries by
 * import_id); a flush tells whether everything produced so far is durable on the broker.
 */
#ifndef SISOPI_EVENT_SINK_H
#define SISOPI_EVENT_SINK_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "config.h"
#include "records.h"

struct event_sink;

/* An idempotent producer from the config. NULL with err on failure. */
struct event_sink *event_sink_open(const struct config *cfg, char *err, size_t errlen);
void event_sink_close(struct event_sink *s);

/* Encodes and produces e (copied). Returns 0 or -1 with err (an encoding error). */
int event_sink_emit(struct event_sink *s, const struct event *e, char *err, size_t errlen);

/* Why a message went to the dead-letter topic, in kinds an operator's tools can sort by. */
enum dead_letter_kind {
    DEAD_LETTER_DECODE,    /* users_msg_decode refused it: not Avro, another schema, or a field
                              the message contract forbids */
    DEAD_LETTER_INVALID,   /* decoded, but a record no reconciler may apply (invalid_record) */
    DEAD_LETTER_MISPLACED, /* keyed or partitioned where its person's state is not */
};

/* The kind as a stable class-like name, e.g. "sisopi.DecodeError", for the header Kafka
 * Connect names the exception's class in. */
const char *dead_letter_class(enum dead_letter_kind kind);

/* Sends an undecodable or invalid message to the dead-letter topic, unchanged, with headers
 * sisopi-error (the reason), sisopi-topic, sisopi-partition, sisopi-offset, and the same as
 * Kafka Connect's dead letters carry them: __connect.errors.topic, .partition, .offset (decimal
 * text), .exception.class.name (dead_letter_class) and .exception.message (the reason). */
int event_sink_dead_letter(struct event_sink *s, const rd_kafka_message_t *m,
                           enum dead_letter_kind kind, const char *reason, char *err,
                           size_t errlen);

/* Produces a journal entry (journal.h) to the journal topic's partition `partition`, keyed by
 * the record_uid. Durable once event_sink_flush() says so. Returns 0 or -1 with err. */
int event_sink_journal(struct event_sink *s, int32_t partition, const char *key, const void *value,
                       size_t len, char *err, size_t errlen);
/* The journal offset after the last entry this producer had acknowledged in partition, or -1
 * when it wrote none there. */
int64_t event_sink_journal_next(const struct event_sink *s, int32_t partition);

/* Waits until everything produced is acknowledged (or timeout_ms passed). Returns 0, or -1
 * with err if anything failed or is still in flight: the caller must not commit past it. */
int event_sink_flush(struct event_sink *s, int timeout_ms, char *err, size_t errlen);

struct event_sink_stats {
    int64_t events, dead_letters, failed;
};
struct event_sink_stats event_sink_stats(const struct event_sink *s);

#endif
