/*
 * reconciler: the consumer loop around reconcile_batch().
 */
#include "reconciler.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kafka_client.h"
#include "log.h"
#include "reconcile.h"
#include "reconciler_metrics.h"
#include "strutil.h"

#define POLL_MS       500
#define BACKOFF_MAX_S 30
#define ASSIGN_WAIT_S 60

struct reconciler {
    const struct config *cfg;
    struct reconcile_core core;
    rd_kafka_t *rk;
    int32_t *assigned;
    size_t n_assigned;
    bool rebalance_failed;
    bool closing; /* leaving the group: revoked partitions keep their slices */
    struct reconciler_metrics *metrics;
    char err[512];
};

/* The loop is alive; healthy unless the directory is away or retries are going on. */
static void publish(struct reconciler *r, const char *trouble)
{
    const char *why = trouble                                           ? trouble
                      : r->core.ldap && ldap_conn_is_down(r->core.ldap) ? "ldap: connection lost"
                                                                        : "ok";
    reconciler_metrics_publish(r->metrics, &r->core, r->rk, r->assigned, r->n_assigned,
                               strcmp(why, "ok") == 0, why);
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_assigned(struct reconciler *r)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    free(r->assigned);
    r->assigned = NULL;
    r->n_assigned = 0;
    if (rd_kafka_assignment(r->rk, &a) || !a)
        return;
    r->assigned = xcalloc((size_t)a->cnt + 1, sizeof(int32_t));
    for (int i = 0; i < a->cnt; i++)
        r->assigned[r->n_assigned++] = a->elems[i].partition;
    rd_kafka_topic_partition_list_destroy(a);
}

/* New partitions: make their state slices current before their first message. */
static void on_assign(struct reconciler *r, rd_kafka_topic_partition_list_t *parts)
{
    size_t n = (size_t)parts->cnt;
    int32_t *p = xcalloc(n + 1, sizeof(int32_t));
    int64_t *committed = xcalloc(n + 1, sizeof(int64_t));
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(parts);
    if (rd_kafka_committed(r->rk, c, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < c->cnt; i++)
            c->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    }
    for (int i = 0; i < c->cnt; i++) {
        p[i] = c->elems[i].partition;
        committed[i] = c->elems[i].offset;
    }
    char err[512];
    if (reconcile_prepare_partitions(&r->core, p, committed, n, err, sizeof(err)) < 0) {
        log_kv(LOG_ERROR, "prepare_failed", "error", err, NULL);
        r->rebalance_failed = true;
        snprintf(r->err, sizeof(r->err), "%s", err);
    }
    rd_kafka_topic_partition_list_destroy(c);
    free(p);
    free(committed);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct reconciler *r = opaque;
    char n[16];
    snprintf(n, sizeof(n), "%d", parts->cnt);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_kv(LOG_INFO, "partitions_assigned", "count", n, NULL);
        on_assign(r, parts);
        rd_kafka_incremental_assign(rk, parts);
    } else {
        /* Everything before was committed after its batch: nothing to flush here. A slice
         * given to a live member is forgotten: that member may apply a batch whose commit
         * fails, and then the committed offset would wrongly prove this slice current. */
        log_kv(LOG_INFO, "partitions_revoked", "count", n, NULL);
        if (!r->closing) {
            int32_t *p = xcalloc((size_t)parts->cnt + 1, sizeof(int32_t));
            for (int i = 0; i < parts->cnt; i++)
                p[i] = parts->elems[i].partition;
            char e[512];
            if (reconcile_forget_partitions(&r->core, p, (size_t)parts->cnt, e, sizeof(e)) < 0) {
                log_kv(LOG_ERROR, "forget_failed", "error", e, NULL);
                r->rebalance_failed = true;
                snprintf(r->err, sizeof(r->err), "%s", e);
            }
            free(p);
        }
        rd_kafka_incremental_unassign(rk, parts);
    }
    set_assigned(r);
}

static rd_kafka_t *make_consumer(struct reconciler *r, char *err, size_t n)
{
    const struct config *cfg = r->cfg;
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, n);
    if (!conf)
        return NULL;
    /* Set after kafka.properties: without them offsets could run ahead of the state. */
    if (kafka_conf_set(conf, "group.id", cfg->reconciler.group_id, err, n) < 0 ||
        kafka_conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", err, n) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "false", err, n) < 0 ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", err, n) < 0 ||
        kafka_conf_set(conf, "auto.offset.reset", "earliest", err, n) < 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "false", err, n) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, r);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, n);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, cfg->kafka.topic_users, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (e) {
        snprintf(err, n, "cannot subscribe to %s: %s", cfg->kafka.topic_users, rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

/* Commits the offsets after the batch's last message of each partition, synchronously: a
 * partition that moves must find exactly what this reconciler applied. */
static void commit_batch(struct reconciler *r, rd_kafka_message_t **msgs, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(l, r->cfg->kafka.topic_users, msgs[i]->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(l, r->cfg->kafka.topic_users, msgs[i]->partition);
        if (msgs[i]->offset + 1 > p->offset)
            p->offset = msgs[i]->offset + 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(r->rk, l, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_kv(LOG_WARN, "commit_failed", "error", rd_kafka_err2str(e), "msg",
               "the state is saved; a partition that moves now is rebuilt from the directory",
               NULL);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Up to batch_size messages: waits for the first, then takes what is there. */
static size_t poll_batch(struct reconciler *r, rd_kafka_message_t **out, size_t max)
{
    size_t n = 0;
    while (n < max) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, n == 0 ? POLL_MS : 0);
        if (!m)
            break;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_kv(LOG_WARN, "consumer_error", "error", rd_kafka_message_errstr(m), NULL);
            rd_kafka_message_destroy(m);
            continue;
        }
        out[n++] = m;
    }
    return n;
}

/* Caught up: the state has applied every assigned partition up to its end. */
static bool caught_up(struct reconciler *r)
{
    if (r->n_assigned == 0)
        return false;
    for (size_t i = 0; i < r->n_assigned; i++) {
        int64_t lo = -1, hi = -1;
        /* The fetcher keeps each partition's end up to date; ask the broker only before its
         * first answer (a query per partition costs a round trip). */
        if (rd_kafka_get_watermark_offsets(r->rk, r->cfg->kafka.topic_users, r->assigned[i], &lo,
                                           &hi) ||
            lo < 0 || hi < 0) {
            if (rd_kafka_query_watermark_offsets(r->rk, r->cfg->kafka.topic_users, r->assigned[i],
                                                 &lo, &hi, 5000))
                return false;
        }
        if (hi > lo && reconcile_next_offset(&r->core, r->assigned[i]) < hi)
            return false;
    }
    return true;
}

/* Re-runs a batch until it goes through, backing off while the directory or the broker is
 * away. Returns the final result. */
static enum reconcile_rc run_batch(struct reconciler *r, rd_kafka_message_t **msgs, size_t n)
{
    int backoff = 1;
    for (;;) {
        char err[512];
        enum reconcile_rc rc = reconcile_batch(&r->core, msgs, n, err, sizeof(err));
        if (rc != RECONCILE_RETRY) {
            if (rc == RECONCILE_FATAL)
                log_kv(LOG_ERROR, "batch_failed", "error", err, NULL);
            return rc;
        }
        char s[16];
        snprintf(s, sizeof(s), "%d", backoff);
        log_kv(LOG_WARN, "batch_retry", "error", err, "retry_in_s", s, NULL);
        char trouble[600];
        snprintf(trouble, sizeof(trouble), "retrying: %s", err);
        /* No rd_kafka_poll() here: the consumer's queue is forwarded to the consumer queue
         * (rd_kafka_poll_set_consumer), and serving it with rd_kafka_poll aborts inside
         * librdkafka (rd_kafka_q_serve: res != RD_KAFKA_OP_RES_PASS) as soon as a fetch or
         * rebalance op is waiting. An outage longer than max.poll.interval.ms (5 min) costs
         * this member its partitions; whoever gets them re-applies from the committed
         * offset, which changes nothing already applied. */
        for (int i = 0; i < backoff * 10 && !stop_requested; i++) {
            publish(r, trouble);
            usleep(100000);
        }
        if (stop_requested)
            return RECONCILE_RETRY;
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
        if (ldap_conn_is_down(r->core.ldap)) {
            if (ldap_conn_reconnect(r->core.ldap, err, sizeof(err)) != LDAP_SUCCESS)
                log_kv(LOG_WARN, "ldap_reconnect_failed", "error", err, NULL);
        }
    }
}

static void log_summary(struct reconciler *r)
{
    char m[24], dl[24], un[24], cr[24], mo[24], li[24], rj[24], de[24], ps[24];
    snprintf(m, sizeof(m), "%" PRId64, r->core.messages);
    snprintf(dl, sizeof(dl), "%" PRId64, r->core.dead_letters);
    snprintf(un, sizeof(un), "%" PRId64, r->core.unchanged);
    snprintf(cr, sizeof(cr), "%" PRId64, r->core.totals[EVENT_CREATED]);
    snprintf(mo, sizeof(mo), "%" PRId64,
             r->core.totals[EVENT_MODIFIED] + r->core.totals[EVENT_SCHOOL_ADDED] +
                 r->core.totals[EVENT_SCHOOL_REMOVED] + r->core.totals[EVENT_REACTIVATED]);
    snprintf(li, sizeof(li), "%" PRId64, r->core.totals[EVENT_MOVED_TO_LIMBO]);
    snprintf(rj, sizeof(rj), "%" PRId64, r->core.totals[EVENT_REJECTED]);
    snprintf(de, sizeof(de), "%" PRId64, r->core.totals[EVENT_DELETED]);
    snprintf(ps, sizeof(ps), "%" PRId64, r->core.purges_skipped);
    log_kv(LOG_INFO, "summary", "messages", m, "created", cr, "modified", mo, "limbo", li,
           "deleted", de, "purges_skipped", ps, "unchanged", un, "rejected", rj, "dead_letters", dl,
           NULL);
    struct apply_stats a = applier_stats(r->core.applier);
    char ad[24], rn[24], md[24], dt[24], gm[24], ge[24];
    snprintf(ad, sizeof(ad), "%" PRId64, a.adds);
    snprintf(rn, sizeof(rn), "%" PRId64, a.renames);
    snprintf(md, sizeof(md), "%" PRId64, a.modifies);
    snprintf(dt, sizeof(dt), "%" PRId64, a.deletes);
    snprintf(gm, sizeof(gm), "%" PRId64, a.group_modifies);
    snprintf(ge, sizeof(ge), "%" PRId64, a.group_errors);
    log_kv(LOG_INFO, "ldap_summary", "adds", ad, "moves", rn, "modifies", md, "deletes", dt,
           "group_modifies", gm, "group_errors", ge, NULL);
}

static int loop(struct reconciler *r, const struct reconciler_opts *o)
{
    size_t max = (size_t)r->cfg->reconciler.batch_size;
    rd_kafka_message_t **msgs = xcalloc(max, sizeof(*msgs));
    double started = mono_s(), idle_since = 0;
    int rc = EXIT_OK;
    while (!stop_requested) {
        size_t n = poll_batch(r, msgs, max);
        publish(r, r->rebalance_failed ? r->err : NULL);
        if (r->rebalance_failed) {
            log_kv(LOG_ERROR, "stopping", "error", r->err, NULL);
            rc = EXIT_FAILED;
            break;
        }
        if (n == 0) {
            if (!o->until_idle)
                continue;
            if (r->n_assigned == 0 && mono_s() - started > ASSIGN_WAIT_S) {
                log_kv(LOG_ERROR, "no_partitions", "msg", "no partition assigned", NULL);
                rc = EXIT_FAILED;
                break;
            }
            if (!caught_up(r)) {
                idle_since = 0;
                continue;
            }
            size_t open = reconcile_open_imports(&r->core, r->assigned, r->n_assigned);
            if (idle_since == 0)
                idle_since = mono_s();
            if (open == 0 || mono_s() - idle_since > o->idle_open_seconds) {
                if (open) {
                    char s[24];
                    snprintf(s, sizeof(s), "%zu", open);
                    log_kv(LOG_WARN, "open_imports", "count", s, "msg",
                           "imports without ImportEnd remain (they remove nobody)", NULL);
                }
                break;
            }
            continue;
        }
        idle_since = 0;
        double t0 = mono_s();
        enum reconcile_rc brc = run_batch(r, msgs, n);
        if (log_enabled(LOG_DEBUG)) {
            char sn[24], sd[24];
            snprintf(sn, sizeof(sn), "%zu", n);
            snprintf(sd, sizeof(sd), "%.3f", mono_s() - t0);
            log_kv(LOG_DEBUG, "batch", "messages", sn, "seconds", sd, NULL);
        }
        if (brc == RECONCILE_OK)
            commit_batch(r, msgs, n);
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(msgs[i]);
        if (brc == RECONCILE_FATAL) {
            rc = EXIT_FAILED;
            break;
        }
    }
    free(msgs);
    return rc;
}

int reconciler_run(const struct config *cfg, const struct reconciler_opts *o)
{
    struct reconciler r = {.cfg = cfg};
    char err[512];
    int rc = EXIT_FAILED;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (reconcile_core_open(&r.core, cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "sisopi-reconciler: %s\n", err);
        return EXIT_FAILED;
    }
    if (!(r.metrics = reconciler_metrics_new(o->metrics_listen, err, sizeof(err)))) {
        fprintf(stderr, "sisopi-reconciler: %s\n", err);
        goto out;
    }
    if (ldap_conn_open(cfg, &r.core.ldap, err, sizeof(err)) != LDAP_SUCCESS) {
        fprintf(stderr, "sisopi-reconciler: %s\n", err);
        goto out;
    }
    ldap_conn_set_window(r.core.ldap, cfg->reconciler.window);
    r.core.applier = applier_new(cfg, r.core.ldap);
    if (!(r.core.events = event_sink_open(cfg, err, sizeof(err)))) {
        fprintf(stderr, "sisopi-reconciler: %s\n", err);
        goto out;
    }
    if (!(r.rk = make_consumer(&r, err, sizeof(err)))) {
        fprintf(stderr, "sisopi-reconciler: %s\n", err);
        goto out;
    }
    log_kv(LOG_INFO, "started", "group", cfg->reconciler.group_id, "ldap", cfg->ldap.uri, "state",
           cfg->reconciler.state_dir, NULL);
    rc = loop(&r, o);
    log_summary(&r);
    r.closing = true;
    rd_kafka_consumer_close(r.rk);
    rd_kafka_destroy(r.rk);
out:
    reconciler_metrics_free(r.metrics);
    event_sink_close(r.core.events);
    applier_free(r.core.applier);
    ldap_conn_close(r.core.ldap);
    reconcile_core_close(&r.core);
    free(r.assigned);
    return rc;
}
