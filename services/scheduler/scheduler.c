/*
 * scheduler: one thread, one loop: send what is due, read events until the next due date or
 * the next sweep (at most a second), sweep when it is time. A failed sweep is retried with a
 * growing pause; the events keep the schedule current meanwhile.
 */
#include "scheduler.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_codec.h"
#include "cli.h"
#include "clock.h"
#include "dir_conn.h"
#include "dir_layout.h"
#include "import_id.h"
#include "kafka_client.h"
#include "log.h"
#include "partitioner.h"
#include "purge_schedule.h"
#include "purge_sweep.h"
#include "service_metrics.h"
#include "topic_reader.h"
#include "uid_set.h"

#define KAFKA_TIMEOUT_MS 10000
#define FLUSH_TIMEOUT_MS 30000
#define RETRY_FIRST_MS   5000

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct sched {
    const struct config *cfg;
    rd_kafka_t *producer;
    struct topic_tail *tail;
    struct dir_conn *ldap;
    struct purge_schedule *plan;
    struct uid_set *warned; /* DNs already warned about: once per process, not every sweep */
    int64_t found, sent, skipped_role, skipped_active, skipped_uid, failed, events, undecodable;
    int64_t sweeps, sweep_failures;
    int64_t last_sweep_ok_ms; /* wall clock at the end of the last successful sweep; 0: none */
    bool sweep_ok;
    struct metrics *metrics;
    struct metrics_http *http;
};

static void declare_metrics(struct metrics *m)
{
    metrics_declare(m, "sisopi_purges_scheduled", METRICS_GAUGE,
                    "Accounts in limbo the scheduler knows a purge date of.");
    metrics_declare(m, "sisopi_purges_due", METRICS_GAUGE,
                    "Of those, the ones whose date has passed (ordered, not yet deleted). "
                    "Staying above 0 means the reconciler is not carrying the orders out.");
    metrics_declare(m, "sisopi_purge_orders_total", METRICS_COUNTER,
                    "PurgeDue orders written to sisopi.users, by result (sent, lost: not "
                    "acknowledged by the broker, sent again later).");
    metrics_declare(m, "sisopi_purge_skipped_accounts", METRICS_GAUGE,
                    "Accounts with a purge date the last sweep skipped, by reason.");
    metrics_declare(m, "sisopi_sweeps_total", METRICS_COUNTER,
                    "Directory sweeps for purge dates, by result (ok, failed).");
    metrics_declare(m, "sisopi_last_sweep_timestamp_seconds", METRICS_GAUGE,
                    "Unix time at which the last successful directory sweep ended (one runs at "
                    "start, then every scheduler.sweep_interval). Older than two intervals "
                    "means the purge dates are not being read.");
    metrics_declare(m, "sisopi_events_consumed_total", METRICS_COUNTER,
                    "Messages of sisopi.events read (to learn purge dates between sweeps).");
    service_metrics_declare_ldap(m);
}

static void set_labeled(struct metrics *m, const char *name, const char *label, const char *value,
                        double v)
{
    char lab[64] = "";
    metrics_label(lab, sizeof(lab), label, value);
    metrics_set(m, name, lab, v);
}

static void publish_metrics(struct sched *s)
{
    struct metrics *m = s->metrics;
    metrics_heartbeat(m);
    metrics_health(m, s->sweep_ok, s->sweep_ok ? "ok" : "the last directory sweep failed");
    metrics_set(m, "sisopi_purges_scheduled", NULL, (double)purge_schedule_size(s->plan));
    metrics_set(m, "sisopi_purges_due", NULL,
                (double)purge_schedule_count_due(s->plan, clock_wall_ms()));
    set_labeled(m, "sisopi_purge_orders_total", "result", "sent", (double)(s->sent - s->failed));
    set_labeled(m, "sisopi_purge_orders_total", "result", "lost", (double)s->failed);
    set_labeled(m, "sisopi_purge_skipped_accounts", "reason", "no_school_role",
                (double)s->skipped_role);
    set_labeled(m, "sisopi_purge_skipped_accounts", "reason", "active", (double)s->skipped_active);
    set_labeled(m, "sisopi_purge_skipped_accounts", "reason", "no_record_uid",
                (double)s->skipped_uid);
    set_labeled(m, "sisopi_sweeps_total", "result", "ok", (double)(s->sweeps - s->sweep_failures));
    set_labeled(m, "sisopi_sweeps_total", "result", "failed", (double)s->sweep_failures);
    if (s->last_sweep_ok_ms > 0)
        metrics_set(m, "sisopi_last_sweep_timestamp_seconds", NULL,
                    (double)s->last_sweep_ok_ms / 1000.0);
    metrics_set(m, "sisopi_events_consumed_total", NULL, (double)s->events);
    service_metrics_publish_ldap(m, s->ldap);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct sched *s = opaque;
    if (m->err) {
        s->failed++;
        log_kv(LEVEL_ERROR, "purge_due_lost", "error", rd_kafka_err2str(m->err), "msg",
               "a PurgeDue was not delivered; it is sent again after scheduler.sweep_interval",
               NULL);
    }
}

static void warn_once(struct sched *s, const char *dn, const char *event, const char *why)
{
    if (uid_set_has(s->warned, dn))
        return;
    uid_set_add(s->warned, dn, 0);
    log_kv(LEVEL_WARN, event, "dn", dn, "msg", why, NULL);
}

static int on_candidate(const struct purge_candidate *c, void *opaque)
{
    struct sched *s = opaque;
    s->found++;
    if (!c->has_role) {
        s->skipped_role++;
        warn_once(s, c->dn, "purge_skipped",
                  "has a purge date but no student, teacher or staff role (e.g. an "
                  "administrator): not purged");
    } else if (!c->record_uid) {
        s->skipped_uid++;
        warn_once(s, c->dn, "purge_skipped", "has a purge date but no ucsschoolRecordUID");
    } else if (!c->locked) {
        s->skipped_active++;
        warn_once(s, c->dn, "purge_skipped",
                  "has a purge date but is active (not in limbo): not purged");
    } else {
        purge_schedule_set(s->plan, c->record_uid, c->purge_at_ms);
    }
    return 0;
}

/* Reads the directory's purge dates up to upto_ms into the schedule. Returns 0 or -1. */
static int sweep_once(struct sched *s, int64_t upto_ms);

/* A sweep, counted for the metrics and the health. */
static int sweep(struct sched *s, int64_t upto_ms)
{
    s->sweeps++;
    s->sweep_ok = sweep_once(s, upto_ms) == 0;
    s->sweep_failures += !s->sweep_ok;
    if (s->sweep_ok)
        s->last_sweep_ok_ms = clock_wall_ms();
    return s->sweep_ok ? 0 : -1;
}

static int sweep_once(struct sched *s, int64_t upto_ms)
{
    char err[512];
    if (dir_conn_is_down(s->ldap) && dir_conn_reconnect(s->ldap, err, sizeof(err)) != 0) {
        log_kv(LEVEL_WARN, "sweep_failed", "error", err, NULL);
        return -1;
    }
    s->found = s->skipped_role = s->skipped_active = s->skipped_uid = 0;
    purge_schedule_sweep_begin(s->plan);
    if (purge_sweep(s->ldap, s->cfg, upto_ms, on_candidate, s, err, sizeof(err)) < 0) {
        log_kv(LEVEL_WARN, "sweep_failed", "error", err, NULL);
        return -1;
    }
    size_t gone = purge_schedule_sweep_end(s->plan);
    char f[24], sc[24], g[24];
    snprintf(f, sizeof(f), "%" PRId64, s->found);
    snprintf(sc, sizeof(sc), "%zu", purge_schedule_size(s->plan));
    snprintf(g, sizeof(g), "%zu", gone);
    log_kv(LEVEL_INFO, "swept", "found", f, "scheduled", sc, "purged_since", g, NULL);
    return 0;
}

static int send_order(const char *record_uid, int64_t purge_at_ms, void *opaque)
{
    struct sched *s = opaque;
    const struct config *cfg = s->cfg;
    struct users_msg m = {.type = USERS_MSG_PURGE_DUE};
    m.u.purge.record_uid = (char *)record_uid;
    m.u.purge.purge_at_ms = purge_at_ms;
    m.u.purge.produced_at_ms = clock_wall_ms();
    char err[256];
    if (kafka_produce_users_msg(s->producer, cfg, KAFKA_KEY_PARTITION, record_uid, &m, NULL, NULL,
                                err, sizeof(err)) < 0) {
        log_kv(LEVEL_ERROR, "purge_due_failed", "record_uid", record_uid, "error", err, NULL);
        return -1;
    }
    char at[24];
    layout_generalized_time(purge_at_ms, at);
    log_kv(LEVEL_INFO, "purge_due_sent", "record_uid", record_uid, "purge_at", at, NULL);
    s->sent++;
    return 0;
}

static void follow_event(struct sched *s, const rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_kv(LEVEL_WARN, "events_read", "error", rd_kafka_message_errstr(m), NULL);
        return;
    }
    struct event e;
    char err[256];
    s->events++;
    if (event_decode(m->payload, m->len, &e, err, sizeof(err)) < 0) {
        /* Not ours to judge: the sweep still finds every date in the directory. */
        if (s->undecodable++ == 0)
            log_kv(LEVEL_WARN, "event_undecodable", "error", err, NULL);
    } else {
        purge_schedule_apply_event(s->plan, &e);
    }
    event_free(&e);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int run_loop(struct sched *s)
{
    const int64_t interval = s->cfg->scheduler.sweep_interval_seconds * 1000;
    int64_t next_sweep = clock_wall_ms() + interval, retry = RETRY_FIRST_MS;
    while (!stop_requested) {
        int64_t now = clock_wall_ms();
        /* An order that cannot be sent (queue full, broker away) stays due: try again in a
         * second, not in a busy loop. */
        bool stuck = purge_schedule_take_due(s->plan, now, send_order, s, NULL) != 0;
        rd_kafka_poll(s->producer, 0);
        if (now >= next_sweep) {
            if (sweep(s, INT64_MAX) == 0) {
                next_sweep = now + interval;
                retry = RETRY_FIRST_MS;
            } else {
                next_sweep = now + min64(retry, interval);
                retry = min64(retry * 2, interval);
            }
            continue;
        }
        publish_metrics(s);
        int64_t wait =
            stuck ? 1000 : min64(min64(purge_schedule_next_due(s->plan), next_sweep) - now, 1000);
        rd_kafka_message_t *m = topic_tail_poll(s->tail, (int)(wait > 0 ? wait : 0));
        if (m) {
            follow_event(s, m);
            rd_kafka_message_destroy(m);
        }
    }
    return EXIT_OK;
}

static int run_once(struct sched *s)
{
    int64_t now = clock_wall_ms();
    if (sweep(s, now) < 0)
        return EXIT_FAILED;
    size_t n = 0;
    int rc = purge_schedule_take_due(s->plan, now, send_order, s, &n);
    if (rd_kafka_flush(s->producer, FLUSH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
        s->failed += rd_kafka_outq_len(s->producer);
    printf("sisopi-scheduler: %" PRId64 " accounts due, %" PRId64 " PurgeDue sent, %" PRId64
           " skipped (%" PRId64 " without a school role, %" PRId64 " active, %" PRId64
           " without record_uid), %" PRId64 " not delivered\n",
           s->found, s->sent - s->failed, s->skipped_role + s->skipped_active + s->skipped_uid,
           s->skipped_role, s->skipped_active, s->skipped_uid, s->failed);
    return rc || s->failed ? EXIT_FAILED : EXIT_OK;
}

static rd_kafka_t *open_producer(struct sched *s, char *err, size_t n)
{
    rd_kafka_conf_t *conf = kafka_conf_new(s->cfg, err, n);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_t *rk = kafka_producer_new(conf, err, n);
    if (rk &&
        kafka_check_topic(rk, s->cfg, s->cfg->kafka.topic_users, KAFKA_TIMEOUT_MS, err, n) < 0) {
        rd_kafka_destroy(rk);
        rk = NULL;
    }
    return rk;
}

int scheduler_run(const struct config *cfg, const struct scheduler_opts *o)
{
    struct sched s = {.cfg = cfg, .warned = uid_set_new(), .metrics = metrics_new("scheduler")};
    char err[512];
    int rc = EXIT_FAILED;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    s.plan = purge_schedule_new(cfg->scheduler.sweep_interval_seconds * 1000);
    declare_metrics(s.metrics);
    if (!o->once &&
        service_metrics_start(s.metrics, o->metrics_listen, &s.http, err, sizeof(err)) < 0)
        goto fail;
    if (!(s.producer = open_producer(&s, err, sizeof(err))))
        goto fail;
    /* The tail first, then the sweep: a change is in the sweep or after the tail's start. */
    if (!o->once && !(s.tail = topic_tail_open(cfg, cfg->kafka.topic_events, KAFKA_TIMEOUT_MS, err,
                                               sizeof(err))))
        goto fail;
    if (dir_conn_open(cfg, &s.ldap, err, sizeof(err)) != LDAP_SUCCESS)
        goto fail;
    if (o->once) {
        rc = run_once(&s);
        goto out;
    }
    char iv[24];
    snprintf(iv, sizeof(iv), "%" PRId64, cfg->scheduler.sweep_interval_seconds);
    log_kv(LEVEL_INFO, "started", "ldap", cfg->ldap.uri, "sweep_interval_s", iv, NULL);
    if (sweep(&s, INT64_MAX) < 0) {
        snprintf(err, sizeof(err), "the first sweep of the directory failed (see the log)");
        goto fail;
    }
    rc = run_loop(&s);
    char sent[24], ev[24];
    snprintf(sent, sizeof(sent), "%" PRId64, s.sent);
    snprintf(ev, sizeof(ev), "%" PRId64, s.events);
    log_kv(LEVEL_INFO, "summary", "purge_due_sent", sent, "events_read", ev, NULL);
    goto out;
fail:
    fprintf(stderr, "sisopi-scheduler: %s\n", err);
out:
    if (s.producer) {
        rd_kafka_flush(s.producer, FLUSH_TIMEOUT_MS);
        rd_kafka_destroy(s.producer);
    }
    topic_tail_close(s.tail);
    metrics_http_stop(s.http);
    metrics_free(s.metrics);
    dir_conn_close(s.ldap);
    purge_schedule_free(s.plan);
    uid_set_free(s.warned);
    return rc;
}
