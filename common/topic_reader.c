/*
 * topic_reader: start every partition at an explicit offset (its beginning, or where the
 * caller says) and stop at the high watermarks read at the start, so a busy topic still gives
 * a finite, well-defined answer.
 */
#include "topic_reader.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "kafka_client.h"
#include "strutil.h"

/*
 * A consumer without a group. librdkafka's high-level consumer needs a group.id even for
 * assign(), and each such handle then finds a coordinator it never uses; closing it makes
 * the coordinator's connection drop, and in librdkafka 2.0 the metadata refresh that follows
 * can race with the handle's own destruction and abort the process
 * (rd_kafka_broker_destroy_final: "thrd_is_current" assertion). The simple consumer
 * (consume_start on a queue) reads explicit offsets with no group at all.
 */
static rd_kafka_t *make_consumer(const struct config *cfg, char *errstr, size_t n)
{
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, errstr, n);
    if (!conf)
        return NULL;
    if (kafka_conf_set(conf, "enable.auto.commit", "false", errstr, n) < 0 ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, n) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, n);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}

/* The partitions being fetched into one queue. */
struct fetch {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *q;
    int32_t *started;
    int n_started;
};

/* Starts fetching every partition of tp at its offset into one queue. Returns 0 or -1. */
static int fetch_start(struct fetch *f, rd_kafka_t *rk, const char *topic,
                       const rd_kafka_topic_partition_list_t *tp, char *errstr, size_t errstr_size)
{
    *f = (struct fetch){.rk = rk};
    f->rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!f->rkt) {
        snprintf(errstr, errstr_size, "%s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    f->q = rd_kafka_queue_new(rk);
    f->started = xcalloc((size_t)tp->cnt + 1, sizeof(int32_t));
    for (int i = 0; i < tp->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &tp->elems[i];
        if (rd_kafka_consume_start_queue(f->rkt, e->partition, e->offset, f->q) < 0) {
            snprintf(errstr, errstr_size, "%s [%d]: cannot start reading at %" PRId64 ": %s", topic,
                     e->partition, e->offset, rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        f->started[f->n_started++] = e->partition;
    }
    return 0;
}

static void fetch_stop(struct fetch *f)
{
    for (int i = 0; i < f->n_started; i++)
        rd_kafka_consume_stop(f->rkt, f->started[i]);
    free(f->started);
    if (f->q)
        rd_kafka_queue_destroy(f->q);
    if (f->rkt)
        rd_kafka_topic_destroy(f->rkt);
    *f = (struct fetch){0};
}

/*
 * Reads tp (each partition from its start offset) until every one of them reached
 * end[partition]; remaining is how many partitions tp holds. Returns 0, the callback's
 * non-zero value, or -1 with errstr (an error, or the deadline passed).
 */
static int read_to_ends(rd_kafka_t *rk, const char *topic, rd_kafka_topic_partition_list_t *tp,
                        const int64_t *end, int remaining, int64_t deadline, int timeout_ms,
                        topic_reader_cb cb, void *opaque, char *errstr, size_t errstr_size)
{
    struct fetch f;
    int rc = fetch_start(&f, rk, topic, tp, errstr, errstr_size) < 0 ? -1 : 0;
    while (rc == 0 && remaining > 0) {
        if (clock_mono_ms() > deadline) {
            snprintf(errstr, errstr_size, "%s: not read to its end within %d ms", topic,
                     timeout_ms);
            rc = -1;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consume_queue(f.q, 200);
        if (!m)
            continue;
        if (m->err) {
            bool fatal = m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF;
            if (fatal) {
                snprintf(errstr, errstr_size, "%s [%d]: %s", topic, m->partition,
                         rd_kafka_message_errstr(m));
                rc = -1;
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->offset < end[m->partition]) {
            rc = cb(m, opaque);
            if (m->offset + 1 == end[m->partition])
                remaining--;
        }
        rd_kafka_message_destroy(m);
    }
    fetch_stop(&f);
    return rc;
}

/* The low and high watermarks of every partition. Returns 0 or -1 with errstr. */
static int query_offsets(rd_kafka_t *rk, const char *topic, int parts, int64_t *lo, int64_t *hi,
                         int timeout_ms, char *errstr, size_t errstr_size)
{
    for (int p = 0; p < parts; p++) {
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, topic, p, &lo[p], &hi[p], timeout_ms);
        if (err) {
            snprintf(errstr, errstr_size, "%s [%d]: cannot read its offsets: %s", topic, p,
                     rd_kafka_err2str(err));
            return -1;
        }
    }
    return 0;
}

int topic_read_all(const struct config *cfg, const char *topic, int timeout_ms, topic_reader_cb cb,
                   void *opaque, char *errstr, size_t errstr_size)
{
    rd_kafka_t *rk = make_consumer(cfg, errstr, errstr_size);
    if (!rk)
        return -1;
    int rc = -1, parts = kafka_topic_partitions(rk, topic, timeout_ms, errstr, errstr_size);
    int64_t *end = NULL, deadline = clock_mono_ms() + timeout_ms;
    rd_kafka_topic_partition_list_t *tp = NULL;
    if (parts == 0)
        snprintf(errstr, errstr_size, "topic %s does not exist", topic);
    if (parts <= 0)
        goto out;

    end = xcalloc((size_t)parts, sizeof(int64_t));
    int64_t *start = xcalloc((size_t)parts, sizeof(int64_t));
    int remaining = 0;
    if (query_offsets(rk, topic, parts, start, end, timeout_ms, errstr, errstr_size) < 0) {
        free(start);
        goto out;
    }
    tp = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++) {
        if (end[p] > start[p]) {
            rd_kafka_topic_partition_list_add(tp, topic, p)->offset = start[p];
            remaining++;
        }
    }
    free(start);
    if (remaining == 0) {
        rc = 0;
        goto out;
    }
    rc = read_to_ends(rk, topic, tp, end, remaining, deadline, timeout_ms, cb, opaque, errstr,
                      errstr_size);
out:
    if (tp)
        rd_kafka_topic_partition_list_destroy(tp);
    free(end);
    rd_kafka_destroy(rk);
    return rc;
}

int topic_read_range(const struct config *cfg, const char *topic, int32_t partition, int64_t from,
                     int64_t to, int timeout_ms, topic_reader_cb cb, void *opaque, char *errstr,
                     size_t errstr_size)
{
    if (from >= to || partition < 0)
        return 0;
    rd_kafka_t *rk = make_consumer(cfg, errstr, errstr_size);
    if (!rk)
        return -1;
    int64_t *end = xcalloc((size_t)partition + 1, sizeof(int64_t));
    end[partition] = to;
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, topic, partition)->offset = from;
    int rc = read_to_ends(rk, topic, tp, end, 1, clock_mono_ms() + timeout_ms, timeout_ms, cb,
                          opaque, errstr, errstr_size);
    rd_kafka_topic_partition_list_destroy(tp);
    free(end);
    rd_kafka_destroy(rk);
    return rc;
}

int topic_read_partitions(const struct config *cfg, const char *topic, const int32_t *parts,
                          const int64_t *from, size_t n, int64_t *low, int64_t *high,
                          int timeout_ms, topic_reader_cb cb, void *opaque, char *errstr,
                          size_t errstr_size)
{
    if (n == 0)
        return 0;
    rd_kafka_t *rk = make_consumer(cfg, errstr, errstr_size);
    if (!rk)
        return -1;
    int32_t max = 0;
    for (size_t i = 0; i < n; i++)
        max = parts[i] > max ? parts[i] : max;
    int64_t *end = xcalloc((size_t)max + 1, sizeof(int64_t)),
            deadline = clock_mono_ms() + timeout_ms;
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new((int)n);
    int rc = 0, remaining = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, topic, parts[i], &lo, &hi, timeout_ms);
        if (e) {
            snprintf(errstr, errstr_size, "%s [%d]: cannot read its offsets: %s", topic, parts[i],
                     rd_kafka_err2str(e));
            rc = -1;
            break;
        }
        if (low)
            low[i] = lo;
        if (high)
            high[i] = hi;
        int64_t start = from[i] < lo ? lo : from[i];
        end[parts[i]] = hi;
        if (start < hi) {
            rd_kafka_topic_partition_list_add(tp, topic, parts[i])->offset = start;
            remaining++;
        }
    }
    if (rc == 0 && remaining > 0)
        rc = read_to_ends(rk, topic, tp, end, remaining, deadline, timeout_ms, cb, opaque, errstr,
                          errstr_size);
    rd_kafka_topic_partition_list_destroy(tp);
    free(end);
    rd_kafka_destroy(rk);
    return rc;
}

struct topic_tail {
    struct fetch f;
};

struct topic_tail *topic_tail_open(const struct config *cfg, const char *topic, int timeout_ms,
                                   char *errstr, size_t errstr_size)
{
    rd_kafka_t *rk = make_consumer(cfg, errstr, errstr_size);
    if (!rk)
        return NULL;
    int parts = kafka_topic_partitions(rk, topic, timeout_ms, errstr, errstr_size);
    if (parts == 0)
        snprintf(errstr, errstr_size, "topic %s does not exist", topic);
    int64_t *lo = parts > 0 ? xcalloc((size_t)parts, sizeof(int64_t)) : NULL;
    int64_t *hi = parts > 0 ? xcalloc((size_t)parts, sizeof(int64_t)) : NULL;
    /* Explicit offsets, not OFFSET_END: "the end" must be taken now, before the caller reads
     * anything else, not whenever the fetcher starts. */
    if (parts <= 0 ||
        query_offsets(rk, topic, parts, lo, hi, timeout_ms, errstr, errstr_size) < 0) {
        free(lo);
        free(hi);
        rd_kafka_destroy(rk);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(tp, topic, p)->offset = hi[p];
    free(lo);
    free(hi);
    struct topic_tail *t = xcalloc(1, sizeof(*t));
    int rc = fetch_start(&t->f, rk, topic, tp, errstr, errstr_size);
    rd_kafka_topic_partition_list_destroy(tp);
    if (rc < 0) {
        topic_tail_close(t);
        return NULL;
    }
    return t;
}

rd_kafka_message_t *topic_tail_poll(struct topic_tail *t, int timeout_ms)
{
    return rd_kafka_consume_queue(t->f.q, timeout_ms);
}

void topic_tail_close(struct topic_tail *t)
{
    if (!t)
        return;
    rd_kafka_t *rk = t->f.rk;
    fetch_stop(&t->f);
    rd_kafka_destroy(rk);
    free(t);
}
