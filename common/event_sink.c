/*
 * event_sink: producing events and dead letters, and knowing when they are durable.
 */
#include "event_sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_codec.h"
#include "kafka_client.h"
#include "strutil.h"

struct event_sink {
    rd_kafka_t *rk;
    const struct config *cfg;
    int64_t produced, acked, failed, dead_letters;
    int64_t failed_total; /* for the statistics; failed counts since the last flush */
    char first_error[256];
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct event_sink *s = opaque;
    if (m->err) {
        if (s->failed++ == 0)
            snprintf(s->first_error, sizeof(s->first_error), "%s", rd_kafka_err2str(m->err));
        return;
    }
    s->acked++;
}

struct event_sink *event_sink_open(const struct config *cfg, char *err, size_t n)
{
    struct event_sink *s = xcalloc(1, sizeof(*s));
    s->cfg = cfg;
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, n);
    if (!conf) {
        free(s);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, s);
    s->rk = kafka_producer_new(conf, err, n);
    if (!s->rk) {
        free(s);
        return NULL;
    }
    return s;
}

void event_sink_close(struct event_sink *s)
{
    if (!s)
        return;
    rd_kafka_flush(s->rk, 10000);
    rd_kafka_destroy(s->rk);
    free(s);
}

static int produce(struct event_sink *s, const char *topic, const char *key, size_t key_len,
                   void *buf, size_t len, rd_kafka_headers_t *hdrs, char *err, size_t n)
{
    for (;;) {
        rd_kafka_resp_err_t e =
            hdrs ? rd_kafka_producev(s->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
                                     RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_HEADERS(hdrs),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)
                 : rd_kafka_producev(s->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
                                     RD_KAFKA_V_VALUE(buf, len),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!e) {
            s->produced++;
            return 0;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            snprintf(err, n, "cannot produce to %s: %s", topic, rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(s->rk, 50);
    }
}

int event_sink_emit(struct event_sink *s, const struct event *e, char *err, size_t n)
{
    void *buf = NULL;
    size_t len = 0;
    if (event_encode(e, &buf, &len, err, n) < 0)
        return -1;
    const char *key = e->record_uid ? e->record_uid : e->import_id;
    int rc =
        produce(s, s->cfg->kafka.topic_events, key, key ? strlen(key) : 0, buf, len, NULL, err, n);
    free(buf);
    rd_kafka_poll(s->rk, 0);
    return rc;
}

int event_sink_dead_letter(struct event_sink *s, const rd_kafka_message_t *m, const char *reason,
                           char *err, size_t n)
{
    char part[16], off[24];
    snprintf(part, sizeof(part), "%" PRId32, m->partition);
    snprintf(off, sizeof(off), "%" PRId64, m->offset);
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    rd_kafka_header_add(h, "sisopi-error", -1, reason, -1);
    rd_kafka_header_add(h, "sisopi-topic", -1, rd_kafka_topic_name(m->rkt), -1);
    rd_kafka_header_add(h, "sisopi-partition", -1, part, -1);
    rd_kafka_header_add(h, "sisopi-offset", -1, off, -1);
    int rc = produce(s, s->cfg->kafka.topic_dlq, m->key, m->key_len, m->payload, m->len, h, err, n);
    if (rc == 0)
        s->dead_letters++;
    return rc;
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
