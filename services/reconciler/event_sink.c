/*
 * event_sink: producing events and dead letters, and knowing when they are durable.
 */
#include "event_sink.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_codec.h"
#include "kafka_client.h"
#include "log.h"
#include "strutil.h"

struct event_sink {
    rd_kafka_t *rk;
    const struct config *cfg;
    int64_t produced, acked, failed, dead_letters;
    int64_t failed_total; /* for the statistics; failed counts since the last flush */
    char first_error[256];
    int64_t *journal_next; /* by partition: the journal offset after this producer's last
                              acknowledged entry there, -1 before the first */
    int32_t journal_parts;
};

static int dead_letter_stub(struct event_sink *s, const rd_kafka_headers_t *orig, const void *key,
                            size_t key_len, size_t value_len, const char *topic, int32_t partition,
                            int64_t offset);

static bool too_large(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           e == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct event_sink *s = opaque;
    if (m->err && too_large(m->err) && m->len > 0 &&
        strcmp(rd_kafka_topic_name(m->rkt), s->cfg->kafka.topic_dlq) == 0) {
        /* The broker refused a dead letter for its size (the topic's max.message.bytes is
         * below the producer's): send it without its value, or the partition it came from
         * would retry it forever. */
        rd_kafka_headers_t *h = NULL;
        if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
            h = NULL;
        char *topic = kafka_header_text(m, "sisopi-topic");
        int stub = dead_letter_stub(s, h, m->key, m->key_len, m->len, topic ? topic : "",
                                    (int32_t)kafka_header_num(m, "sisopi-partition"),
                                    kafka_header_num(m, "sisopi-offset"));
        free(topic);
        if (stub == 0) {
            s->produced--; /* the stub, in flight now, takes its place */
            return;
        }
    }
    if (m->err) {
        if (s->failed++ == 0)
            snprintf(s->first_error, sizeof(s->first_error), "%s", rd_kafka_err2str(m->err));
        return;
    }
    s->acked++;
    if (m->partition >= 0 && m->partition < s->journal_parts &&
        strcmp(rd_kafka_topic_name(m->rkt), s->cfg->kafka.topic_journal) == 0 &&
        m->offset + 1 > s->journal_next[m->partition])
        s->journal_next[m->partition] = m->offset + 1;
}

/* Asks for the events topic's metadata now, best effort: the producer connects and learns the
 * leaders before the first batch, which otherwise waited for them (0.9 s on the dev broker).
 * A broker that is away is not an error here; the first flush says so if it still is. */
static void warm_up(struct event_sink *s)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(s->rk, s->cfg->kafka.topic_events, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (t && rd_kafka_metadata(s->rk, 0, t, &md, 3000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
}

struct event_sink *event_sink_open(const struct config *cfg, char *err, size_t n)
{
    struct event_sink *s = xcalloc(1, sizeof(*s));
    s->cfg = cfg;
    s->journal_parts = cfg->kafka.partitions;
    s->journal_next = xcalloc((size_t)s->journal_parts, sizeof(int64_t));
    for (int32_t p = 0; p < s->journal_parts; p++)
        s->journal_next[p] = -1;
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, n);
    if (!conf) {
        free(s->journal_next);
        free(s);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, s);
    s->rk = kafka_producer_new(conf, err, n);
    if (!s->rk) {
        free(s->journal_next);
        free(s);
        return NULL;
    }
    warm_up(s);
    return s;
}

void event_sink_close(struct event_sink *s)
{
    if (!s)
        return;
    rd_kafka_flush(s->rk, 10000);
    rd_kafka_destroy(s->rk);
    free(s->journal_next);
    free(s);
}

/* Produces one message, waiting while the local queue is full. On success the headers belong
 * to librdkafka; on failure they stay the caller's. */
static rd_kafka_resp_err_t produce_one(struct event_sink *s, const char *topic, const void *key,
                                       size_t key_len, const void *buf, size_t len,
                                       rd_kafka_headers_t *hdrs)
{
    for (;;) {
        rd_kafka_resp_err_t e =
            hdrs ? rd_kafka_producev(s->rk, RD_KAFKA_V_TOPIC(topic),
                                     RD_KAFKA_V_KEY((void *)key, key_len),
                                     RD_KAFKA_V_VALUE((void *)buf, len), RD_KAFKA_V_HEADERS(hdrs),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)
                 : rd_kafka_producev(s->rk, RD_KAFKA_V_TOPIC(topic),
                                     RD_KAFKA_V_KEY((void *)key, key_len),
                                     RD_KAFKA_V_VALUE((void *)buf, len),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!e) {
            s->produced++;
            return e;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return e;
        rd_kafka_poll(s->rk, 50);
    }
}

static int produce(struct event_sink *s, const char *topic, const char *key, size_t key_len,
                   void *buf, size_t len, char *err, size_t n)
{
    rd_kafka_resp_err_t e = produce_one(s, topic, key, key_len, buf, len, NULL);
    if (e) {
        snprintf(err, n, "cannot produce to %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int event_sink_emit(struct event_sink *s, const struct event *e, char *err, size_t n)
{
    void *buf = NULL;
    size_t len = 0;
    if (event_encode(e, &buf, &len, err, n) < 0)
        return -1;
    const char *key = e->record_uid ? e->record_uid : e->import_id;
    int rc = produce(s, s->cfg->kafka.topic_events, key, key ? strlen(key) : 0, buf, len, err, n);
    free(buf);
    rd_kafka_poll(s->rk, 0);
    return rc;
}

int event_sink_journal(struct event_sink *s, int32_t partition, const char *key, const void *value,
                       size_t len, char *err, size_t n)
{
    if (partition < 0 || partition >= s->journal_parts) {
        snprintf(err, n, "journal: partition %d out of range", partition);
        return -1;
    }
    rd_kafka_resp_err_t e;
    for (;;) {
        e = rd_kafka_producev(
            s->rk, RD_KAFKA_V_TOPIC(s->cfg->kafka.topic_journal), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY((void *)key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(s->rk, 50);
    }
    if (e) {
        snprintf(err, n, "cannot produce to %s: %s", s->cfg->kafka.topic_journal,
                 rd_kafka_err2str(e));
        return -1;
    }
    s->produced++;
    return 0;
}

int64_t event_sink_journal_next(const struct event_sink *s, int32_t partition)
{
    return partition >= 0 && partition < s->journal_parts ? s->journal_next[partition] : -1;
}

/* Keys longer than this are left out of a stub along with the value. */
#define STUB_MAX_KEY 1024

/* The dead letter of a message too large for the dead-letter topic: its headers plus why the
 * value (and a huge key) is missing. The original stays where the headers point. */
static int dead_letter_stub(struct event_sink *s, const rd_kafka_headers_t *orig, const void *key,
                            size_t key_len, size_t value_len, const char *topic, int32_t partition,
                            int64_t offset)
{
    rd_kafka_headers_t *h = orig ? rd_kafka_headers_copy(orig) : rd_kafka_headers_new(6);
    char note[400], bytes[24];
    snprintf(note, sizeof(note),
             "the value of %zu bytes%s is larger than %s takes; the message stays in %s [%" PRId32
             "] at offset %" PRId64,
             value_len, key_len > STUB_MAX_KEY ? " (and its key)" : "", s->cfg->kafka.topic_dlq,
             topic, partition, offset);
    snprintf(bytes, sizeof(bytes), "%zu", value_len);
    rd_kafka_header_add(h, "sisopi-value-omitted", -1, note, -1);
    rd_kafka_header_add(h, "sisopi-value-bytes", -1, bytes, -1);
    if (key_len > STUB_MAX_KEY)
        key = NULL, key_len = 0;
    rd_kafka_resp_err_t e = produce_one(s, s->cfg->kafka.topic_dlq, key, key_len, NULL, 0, h);
    if (e) {
        rd_kafka_headers_destroy(h);
        return -1;
    }
    log_kv(LEVEL_WARN, "dead_letter_without_value", "msg", note, NULL);
    return 0;
}

const char *dead_letter_class(enum dead_letter_kind kind)
{
    switch (kind) {
    case DEAD_LETTER_DECODE:
        return "sisopi.DecodeError";
    case DEAD_LETTER_INVALID:
        return "sisopi.ValidationError";
    case DEAD_LETTER_MISPLACED:
        return "sisopi.MisplacedError";
    }
    return "sisopi.Error";
}

int event_sink_dead_letter(struct event_sink *s, const rd_kafka_message_t *m,
                           enum dead_letter_kind kind, const char *reason, char *err, size_t n)
{
    char part[16], off[24];
    const char *topic = rd_kafka_topic_name(m->rkt);
    snprintf(part, sizeof(part), "%" PRId32, m->partition);
    snprintf(off, sizeof(off), "%" PRId64, m->offset);
    rd_kafka_headers_t *h = rd_kafka_headers_new(11);
    rd_kafka_header_add(h, "sisopi-error", -1, reason, -1);
    rd_kafka_header_add(h, "sisopi-topic", -1, topic, -1);
    rd_kafka_header_add(h, "sisopi-partition", -1, part, -1);
    rd_kafka_header_add(h, "sisopi-offset", -1, off, -1);
    /* Kafka Connect's names and forms (UTF-8 text, numbers in decimal), so that tools made
     * for its dead-letter queues read ours. */
    rd_kafka_header_add(h, "__connect.errors.topic", -1, topic, -1);
    rd_kafka_header_add(h, "__connect.errors.partition", -1, part, -1);
    rd_kafka_header_add(h, "__connect.errors.offset", -1, off, -1);
    rd_kafka_header_add(h, "__connect.errors.exception.class.name", -1, dead_letter_class(kind),
                        -1);
    rd_kafka_header_add(h, "__connect.errors.exception.message", -1, reason, -1);
    rd_kafka_resp_err_t e =
        produce_one(s, s->cfg->kafka.topic_dlq, m->key, m->key_len, m->payload, m->len, h);
    if (e && too_large(e)) {
        /* Larger than this producer may send (message.max.bytes): a retry would fail the
         * same way for ever and block the partition behind it. */
        int rc = dead_letter_stub(s, h, m->key, m->key_len, m->len, topic, m->partition, m->offset);
        rd_kafka_headers_destroy(h);
        if (rc == 0) {
            s->dead_letters++;
            return 0;
        }
        snprintf(err, n, "cannot produce to %s: %s", s->cfg->kafka.topic_dlq, rd_kafka_err2str(e));
        return -1;
    }
    if (e) {
        rd_kafka_headers_destroy(h);
        snprintf(err, n, "cannot produce to %s: %s", s->cfg->kafka.topic_dlq, rd_kafka_err2str(e));
        return -1;
    }
    s->dead_letters++;
    return 0;
}

int event_sink_flush(struct event_sink *s, int timeout_ms, char *err, size_t n)
{
    rd_kafka_flush(s->rk, timeout_ms);
    rd_kafka_poll(s->rk, 0);
    char fatal[256];
    if (rd_kafka_fatal_error(s->rk, fatal, sizeof(fatal))) {
        snprintf(err, n, "event producer failed: %s", fatal);
        return -1;
    }
    if (s->failed) {
        snprintf(err, n, "%" PRId64 " events were not delivered (first: %s)", s->failed,
                 s->first_error);
        /* The caller produces them again on its retry: count from a clean slate, or one
         * outage would fail every flush after it. */
        s->failed_total += s->failed;
        s->produced -= s->failed;
        s->failed = 0;
        return -1;
    }
    if (s->acked < s->produced) {
        snprintf(err, n, "%" PRId64 " events still in flight after %d ms", s->produced - s->acked,
                 timeout_ms);
        return -1;
    }
    return 0;
}

struct event_sink_stats event_sink_stats(const struct event_sink *s)
{
    return (struct event_sink_stats){s->produced - s->dead_letters, s->dead_letters,
                                     s->failed_total + s->failed};
}
