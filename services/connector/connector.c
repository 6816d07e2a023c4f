/*
 * connector: one loop: poll an event, sync its person (retrying while a directory is away),
 * store its offset; commit the stored offsets every COMMIT_EVERY events or when idle.
 * A replay of anything after the last commit changes nothing (level-triggered), so a crash,
 * a rebalance or a member kicked out during a long outage only costs reads.
 */
#include "connector.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avro_codec.h"
#include "cli.h"
#include "clock.h"
#include "kafka_client.h"
#include "log.h"
#include "metrics.h"
#include "service_metrics.h"
#include "strutil.h"
#include "sync.h"

#define POLL_MS         500
#define COMMIT_EVERY    200
#define BACKOFF_FIRST_S 0.5
#define BACKOFF_MAX_S   30.0
#define FLUSH_MS        10000
#define IDLE_POLLS      3

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

char *connector_group_id(const struct config *cfg, const char *name)
{
    return xconcat(cfg->connector.group_prefix, name, NULL);
}

struct member {
    const struct config *cfg;
    const struct connector_authority *a;
    struct sync_ctx sync;
    rd_kafka_t *rk, *producer;
    struct metrics *metrics;
    struct metrics_http *http;
    char label[128]; /* authority="NAME" */
    uint64_t events, skipped, retries, dead_letters, undecodable, stored;
    int64_t last_success_ms;
    int64_t lag;
    bool retrying;
    char retry_why[600];
    double next_metrics;
};

/* ---- metrics ---- */

static void declare_metrics(struct metrics *m)
{
    metrics_declare(m, "sisopi_connector_lag", METRICS_GAUGE,
                    "Events of sisopi.events this authority's group has not handled yet (sum "
                    "over its assigned partitions).");
    metrics_declare(m, "sisopi_connector_writes_total", METRICS_COUNTER,
                    "Writes to the authority's directory, by op (add, rename, modify, delete, "
                    "group) and result (ok, failed).");
    metrics_declare(m, "sisopi_connector_persons_total", METRICS_COUNTER,
                    "Persons synced, by result (changed, unchanged, rejected).");
    metrics_declare(m, "sisopi_connector_rejected_total", METRICS_COUNTER,
                    "Persons the authority refused (a Rejected event and a dead letter each).");
    metrics_declare(m, "sisopi_connector_retries_total", METRICS_COUNTER,
                    "Attempts that found a directory (central or the authority's) unavailable "
                    "and were retried after a back-off.");
    metrics_declare(m, "sisopi_connector_last_success_timestamp_seconds", METRICS_GAUGE,
                    "Unix time of the last person synced successfully.");
    metrics_declare(m, "sisopi_connector_events_total", METRICS_COUNTER,
                    "Events read, by result (synced, skipped: no person or not for the "
                    "connector, undecodable: sent to the dead-letter topic).");
    service_metrics_declare_ldap(m);
}

static void set2(struct metrics *m, const char *name, const char *base, const char *k1,
                 const char *v1, const char *k2, const char *v2, double v)
{
    char lab[256];
    snprintf(lab, sizeof(lab), "%s", base);
    metrics_label(lab, sizeof(lab), k1, v1);
    if (k2)
        metrics_label(lab, sizeof(lab), k2, v2);
    metrics_set(m, name, lab, v);
}

/* The lag of the assigned partitions, from the cached high watermarks. */
static void update_lag(struct member *r)
{
    rd_kafka_topic_partition_list_t *as = NULL;
    if (!r->rk || rd_kafka_assignment(r->rk, &as) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    rd_kafka_position(r->rk, as);
    int64_t lag = 0;
    for (int i = 0; i < as->cnt; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_topic_partition_t *p = &as->elems[i];
        if (rd_kafka_get_watermark_offsets(r->rk, p->topic, p->partition, &lo, &hi) != 0 || hi < 0)
            continue;
        /* No position yet (nothing read from it since the start): unknown, not counted,
         * rather than the whole partition; it shows once the first event is read. */
        if (p->offset >= 0 && hi > p->offset)
            lag += hi - p->offset;
    }
    r->lag = lag;
    rd_kafka_topic_partition_list_destroy(as);
}

static void publish(struct member *r)
{
    double now = clock_mono_s();
    if (now < r->next_metrics)
        return;
    r->next_metrics = now + 1.0;
    struct metrics *m = r->metrics;
    const struct sync_ctx *s = &r->sync;
    update_lag(r);
    metrics_heartbeat(m);
    char why[640];
    snprintf(why, sizeof(why), "retrying: %s", r->retry_why);
    metrics_health(m, !r->retrying, r->retrying ? why : "ok");
    metrics_set(m, "sisopi_connector_lag", r->label, (double)r->lag);
    for (int k = 0; k < VIEW_OP_KIND_COUNT; k++) {
        set2(m, "sisopi_connector_writes_total", r->label, "op", view_op_name(k), "result", "ok",
             (double)s->writes[k][0]);
        set2(m, "sisopi_connector_writes_total", r->label, "op", view_op_name(k), "result",
             "failed", (double)s->writes[k][1]);
    }
    set2(m, "sisopi_connector_persons_total", r->label, "result", "changed", NULL, NULL,
         (double)(s->persons - s->unchanged - s->rejected));
    set2(m, "sisopi_connector_persons_total", r->label, "result", "unchanged", NULL, NULL,
         (double)s->unchanged);
    set2(m, "sisopi_connector_persons_total", r->label, "result", "rejected", NULL, NULL,
         (double)s->rejected);
    metrics_set(m, "sisopi_connector_rejected_total", r->label, (double)s->rejected);
    metrics_set(m, "sisopi_connector_retries_total", r->label, (double)r->retries);
    if (r->last_success_ms)
        metrics_set(m, "sisopi_connector_last_success_timestamp_seconds", r->label,
                    (double)r->last_success_ms / 1000.0);
    set2(m, "sisopi_connector_events_total", r->label, "result", "synced", NULL, NULL,
         (double)(r->events - r->skipped - r->undecodable));
    set2(m, "sisopi_connector_events_total", r->label, "result", "skipped", NULL, NULL,
         (double)r->skipped);
    set2(m, "sisopi_connector_events_total", r->label, "result", "undecodable", NULL, NULL,
         (double)r->undecodable);
    service_metrics_publish_ldap(m, s->target);
}

/* ---- Kafka ---- */

static rd_kafka_t *make_consumer(struct member *r, char *err, size_t n)
{
    const struct config *cfg = r->cfg;
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, n);
    if (!conf)
        return NULL;
    char *gid = connector_group_id(cfg, r->a->name);
    /* Set after kafka.properties: without them offsets could run ahead of the writes. */
    int rc =
        kafka_conf_set(conf, "group.id", gid, err, n) < 0 ||
        kafka_conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", err, n) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", err, n) < 0 ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", err, n) < 0 ||
        kafka_conf_set(conf, "auto.offset.reset", "earliest", err, n) < 0;
    free(gid);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, n);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    if (kafka_subscribe_topic(rk, cfg->kafka.topic_events, err, n) < 0) {
        kafka_consumer_destroy(rk);
        return NULL;
    }
    return rk;
}

/* Produces value to topic and waits for the broker's acknowledgement. 0 or -1. */
static int produce_acked(struct member *r, const char *topic, const void *key, size_t key_len,
                         const void *value, size_t len, rd_kafka_headers_t *h)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(
        r->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY((void *)key, key_len),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e) {
        rd_kafka_headers_destroy(h);
        log_kv(LEVEL_ERROR, "produce_failed", "topic", topic, "error", rd_kafka_err2str(e), NULL);
        return -1;
    }
    if (rd_kafka_flush(r->producer, FLUSH_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_kv(LEVEL_ERROR, "produce_failed", "topic", topic, "error", "not acknowledged", NULL);
        return -1;
    }
    return 0;
}

/* The original message, unchanged, on the connector's dead-letter topic with why. */
static int dead_letter(struct member *r, const rd_kafka_message_t *m, const char *why)
{
    char part[16], off[24];
    snprintf(part, sizeof(part), "%" PRId32, m->partition);
    snprintf(off, sizeof(off), "%" PRId64, m->offset);
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    rd_kafka_header_add(h, "sisopi-error", -1, why, -1);
    rd_kafka_header_add(h, "sisopi-topic", -1, topic, -1);
    rd_kafka_header_add(h, "sisopi-partition", -1, part, -1);
    rd_kafka_header_add(h, "sisopi-offset", -1, off, -1);
    rd_kafka_header_add(h, "sisopi-authority", -1, r->a->name, -1);
    rd_kafka_header_add(h, "__connect.errors.topic", -1, topic, -1);
    rd_kafka_header_add(h, "__connect.errors.partition", -1, part, -1);
    rd_kafka_header_add(h, "__connect.errors.offset", -1, off, -1);
    rd_kafka_header_add(h, "__connect.errors.exception.message", -1, why, -1);
    int rc =
        produce_acked(r, r->cfg->connector.topic_dlq, m->key, m->key_len, m->payload, m->len, h);
    r->dead_letters += rc == 0;
    return rc;
}

/* The connector's Rejected event on sisopi.events (cause "connector:NAME"; the connector
 * skips its own events). */
static int emit_rejected(struct member *r, const rd_kafka_message_t *m, const struct event *in,
                         const struct sync_outcome *o)
{
    struct event e = {0};
    char cause[96];
    snprintf(cause, sizeof(cause), "connector:%s", r->a->name);
    e.type = EVENT_REJECTED;
    e.produced_at_ms = clock_wall_ms();
    e.record_uid = in->record_uid;
    e.source_uid = in->source_uid;
    e.cause = cause;
    e.input_topic = (char *)rd_kafka_topic_name(m->rkt);
    e.input_partition = m->partition;
    e.input_offset = m->offset;
    e.dn_before = *o->dn_before ? (char *)o->dn_before : NULL;
    e.dn_after = *o->dn_after ? (char *)o->dn_after : NULL;
    e.reason = (char *)o->reason;
    void *buf = NULL;
    size_t len = 0;
    char err[256];
    if (event_encode(&e, &buf, &len, err, sizeof(err)) < 0) {
        log_kv(LEVEL_ERROR, "event_encode_failed", "error", err, NULL);
        return -1;
    }
    int rc = produce_acked(r, r->cfg->kafka.topic_events, in->record_uid, strlen(in->record_uid),
                           buf, len, rd_kafka_headers_new(0));
    free(buf);
    return rc;
}

/* Sleeps up to s seconds unless a stop is requested. */
static void pause_s(double s)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
    for (double t = 0; t < s && !stop_requested; t += 0.1)
        nanosleep(&ts, NULL);
}

static bool for_us(const struct event *e)
{
    if (!e->record_uid || !*e->record_uid || e->dry_run)
        return false;
    if (e->type == EVENT_REJECTED || e->type == EVENT_IMPORT_COMPLETED ||
        e->type == EVENT_IMPORT_HELD || e->type == EVENT_IMPORT_INCOMPLETE ||
        e->type == EVENT_IMPORT_RELEASED)
        return false; /* nothing changed in the directory */
    return !(e->cause && strncmp(e->cause, "connector:", 10) == 0);
}

/* Handles one message. 0 when done with it (its offset may be stored), -1 when stopping. */
static int handle(struct member *r, const rd_kafka_message_t *m)
{
    struct event e;
    char err[256];
    r->events++;
    if (event_decode(m->payload, m->len, &e, err, sizeof(err)) < 0) {
        r->undecodable++;
        log_kv(LEVEL_WARN, "event_undecodable", "error", err, "msg",
               "sent to the connector's dead-letter topic; the partition goes on", NULL);
        for (double b = BACKOFF_FIRST_S; dead_letter(r, m, err) < 0 && !stop_requested;
             b = b * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : b * 2)
            pause_s(b);
        return stop_requested ? -1 : 0;
    }
    if (!for_us(&e)) {
        r->skipped++;
        event_free(&e);
        return 0;
    }
    double backoff = BACKOFF_FIRST_S;
    int rc = 0;
    for (;;) {
        struct sync_outcome o;
        enum sync_result res = sync_person(&r->sync, e.source_uid, e.record_uid, NULL, &o);
        if (res == SYNC_OK) {
            r->last_success_ms = clock_wall_ms();
            break;
        }
        if (res == SYNC_REJECTED) {
            log_kv(LEVEL_WARN, "rejected", "authority", r->a->name, "record_uid", e.record_uid,
                   "reason", o.reason, NULL);
            if (emit_rejected(r, m, &e, &o) == 0 && dead_letter(r, m, o.reason) == 0)
                break;
            snprintf(o.reason, sizeof(o.reason),
                     "cannot write the Rejected event or the dead "
                     "letter");
        }
        /* Unavailable: nothing is committed past this event until it is done. */
        r->retries++;
        if (!r->retrying)
            log_kv(LEVEL_WARN, "retrying", "authority", r->a->name, "record_uid", e.record_uid,
                   "reason", o.reason, NULL);
        r->retrying = true;
        snprintf(r->retry_why, sizeof(r->retry_why), "%s", o.reason);
        r->next_metrics = 0;
        publish(r);
        pause_s(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
        if (stop_requested) {
            rc = -1;
            break;
        }
    }
    if (r->retrying && rc == 0) {
        log_kv(LEVEL_INFO, "recovered", "authority", r->a->name, NULL);
        r->retrying = false;
    }
    event_free(&e);
    return rc;
}

static void commit(struct member *r)
{
    if (!r->stored)
        return;
    rd_kafka_resp_err_t e = rd_kafka_commit(r->rk, NULL, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_kv(LEVEL_WARN, "commit_failed", "error", rd_kafka_err2str(e), "msg",
               "the events after the last commit are synced again (which changes nothing)", NULL);
    r->stored = 0;
}

/* Whether every assigned partition has been read to its end (for --until-idle). */
static bool caught_up(struct member *r)
{
    rd_kafka_topic_partition_list_t *as = NULL;
    if (rd_kafka_assignment(r->rk, &as) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    bool done = as->cnt > 0;
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(as);
    rd_kafka_position(r->rk, as);
    /* A partition nothing was read from in this run has no position: its committed offset
     * is where it stands. */
    if (done && rd_kafka_committed(r->rk, committed, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        done = false;
    for (int i = 0; done && i < as->cnt; i++) {
        rd_kafka_topic_partition_t *p = &as->elems[i];
        int64_t lo = 0, hi = 0, pos = p->offset >= 0 ? p->offset : committed->elems[i].offset;
        if (rd_kafka_query_watermark_offsets(r->rk, p->topic, p->partition, &lo, &hi, 5000) != 0)
            done = false;
        else if (hi > lo && (pos < 0 ? lo : pos) < hi)
            done = false;
    }
    rd_kafka_topic_partition_list_destroy(committed);
    rd_kafka_topic_partition_list_destroy(as);
    return done;
}

/* Marks m done: the next commit includes it. */
static void store_offset(struct member *r, const rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset =
        m->offset + 1;
    rd_kafka_offsets_store(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

static int run_loop(struct member *r, bool until_idle)
{
    int idle = 0;
    while (!stop_requested) {
        publish(r);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, POLL_MS);
        if (!m) {
            commit(r);
            if (until_idle && ++idle >= IDLE_POLLS && caught_up(r))
                return EXIT_OK;
            continue;
        }
        idle = 0;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_kv(LEVEL_WARN, "consume_error", "error", rd_kafka_message_errstr(m), NULL);
            rd_kafka_message_destroy(m);
            continue;
        }
        if (handle(r, m) < 0) {
            rd_kafka_message_destroy(m);
            break;
        }
        store_offset(r, m);
        rd_kafka_message_destroy(m);
        if (++r->stored >= COMMIT_EVERY)
            commit(r);
    }
    commit(r);
    return EXIT_OK;
}

int connector_run(const struct config *cfg, const struct connector_opts *o)
{
    struct member r = {.cfg = cfg};
    char err[512];
    int rc = EXIT_FAILED;
    r.a = config_connector_authority(cfg, o->authority);
    if (!r.a) {
        fprintf(stderr, "sisopi-connector: %s: no authority \"%s\" in connector.authorities\n",
                cfg->path, o->authority);
        return EXIT_USAGE;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    metrics_label(r.label, sizeof(r.label), "authority", r.a->name);
    r.metrics = metrics_new("connector");
    declare_metrics(r.metrics);
    sync_init(&r.sync, cfg, r.a);
    if (service_metrics_start(r.metrics, o->metrics_listen, &r.http, err, sizeof(err)) < 0)
        goto fail;
    rd_kafka_conf_t *pc = kafka_conf_new(cfg, err, sizeof(err));
    if (!pc || !(r.producer = kafka_producer_new(pc, err, sizeof(err))))
        goto fail;
    /* The directories may be away at the start: wait for them, visibly. */
    for (double b = BACKOFF_FIRST_S; sync_open(&r.sync, err, sizeof(err)) < 0;
         b = b * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : b * 2) {
        sync_close(&r.sync);
        r.retries++;
        r.retrying = true;
        snprintf(r.retry_why, sizeof(r.retry_why), "%s", err);
        log_kv(LEVEL_WARN, "directory_unavailable", "authority", r.a->name, "error", err, NULL);
        r.next_metrics = 0;
        publish(&r);
        pause_s(b);
        if (stop_requested) {
            rc = EXIT_OK;
            goto out;
        }
    }
    r.retrying = false;
    if (!(r.rk = make_consumer(&r, err, sizeof(err))))
        goto fail;
    char *gid = connector_group_id(cfg, r.a->name);
    log_kv(LEVEL_INFO, "started", "authority", r.a->name, "group_id", gid, "target", r.a->uri,
           NULL);
    free(gid);
    rc = run_loop(&r, o->until_idle);
    char ev[24], rj[24];
    snprintf(ev, sizeof(ev), "%" PRIu64, r.events);
    snprintf(rj, sizeof(rj), "%" PRIu64, r.sync.rejected);
    log_kv(LEVEL_INFO, "summary", "authority", r.a->name, "events", ev, "rejected", rj, NULL);
    goto out;
fail:
    fprintf(stderr, "sisopi-connector: %s\n", err);
out:
    kafka_consumer_destroy(r.rk);
    if (r.producer) {
        rd_kafka_flush(r.producer, FLUSH_MS);
        rd_kafka_destroy(r.producer);
    }
    sync_close(&r.sync);
    metrics_http_stop(r.http);
    metrics_free(r.metrics);
    return rc;
}
