/*
 * member: the consumer loop around reconcile_batch().
 */
#include "member.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "dir_schema.h"
#include "failpoint.h"
#include "kafka_client.h"
#include "log.h"
#include "reconcile.h"
#include "reconciler_metrics.h"
#include "strutil.h"

#define POLL_MS              500
#define RETRY_POLL_MS        100 /* serving the consumer while a batch waits for its retry */
#define BACKOFF_MAX_S        30
#define ASSIGN_WAIT_S        60
#define COMMITTED_WAIT_MS    10000
#define COMMIT_RETRY_S       1.0 /* a refused commit is tried again this long after */
#define FIRST_ANSWER_WAIT_MS 30000
#define LEAVE_WAIT_MS        10000

/* One flag per partition number of sisopi.users, grown on demand. */
struct part_flags {
    bool *v;
    size_t n;
};

struct member {
    const struct config *cfg;
    struct reconcile_core core;
    rd_kafka_t *rk;
    int32_t *assigned;
    size_t n_assigned;
    bool rebalance_failed;
    struct reconciler_metrics *metrics;
    char err[512];
    /* The batch in hand. rebalance_cb (which runs only inside rd_kafka_consumer_poll, never
     * while reconcile_batch runs) takes a revoked partition's messages out of it. */
    rd_kafka_message_t **batch;
    size_t n_batch, max_batch;
    /* Messages the next batch may take (<= max_batch): halved when a batch's last attempt
     * took more than half of max.poll.interval.ms, since the consumer is not polled while
     * reconcile_batch runs and a member that misses it loses its partitions, its commit and,
     * when every retry is as slow, all progress; doubled again when batches are quick. */
    size_t batch_limit;
    double max_poll_s;
    double attempt_s; /* how long the last reconcile_batch call took */
    /* Fetched messages no batch may take yet, in arrival order (so in offset order per
     * partition): their partition's slice is not prepared, or they came while a batch was
     * retrying. Paused partitions deliver nothing new, so this stays small. */
    rd_kafka_message_t **held;
    size_t n_held, cap_held;
    struct part_flags paused;     /* paused by us; librdkafka keeps it across unassign/assign */
    struct part_flags unprepared; /* assigned, but the directory was away when the slice had
                                     to be rebuilt: paused until it is prepared */
    /* By partition: the offset the group has not taken yet (the next one after what this
     * member applied; 0 when nothing waits). A commit refused during a rebalance is tried
     * again while the partition stays here: else a partition that receives nothing new
     * would keep an old committed offset, and its next owner would replay what was done. */
    int64_t *uncommitted;
    size_t n_uncommitted;
    double commit_at;    /* next attempt at the refused commits */
    bool retrying;       /* a batch is retrying: every assigned partition is paused */
    bool rebalanced;     /* the group has answered once (an assignment, even an empty one) */
    double prepare_at;   /* next attempt to prepare the unprepared partitions */
    int prepare_backoff; /* seconds */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static bool flag_get(const struct part_flags *f, int32_t p)
{
    return p >= 0 && (size_t)p < f->n && f->v[p];
}

static void flag_set(struct part_flags *f, int32_t p, bool on)
{
    if (p < 0 || ((size_t)p >= f->n && !on))
        return;
    if ((size_t)p >= f->n) {
        size_t n = (size_t)p + 16;
        f->v = xrealloc(f->v, n * sizeof(bool));
        memset(f->v + f->n, 0, (n - f->n) * sizeof(bool));
        f->n = n;
    }
    f->v[p] = on;
}

static bool is_assigned(const struct member *r, int32_t p)
{
    for (size_t i = 0; i < r->n_assigned; i++)
        if (r->assigned[i] == p)
            return true;
    return false;
}

static size_t count_unprepared(const struct member *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_assigned; i++)
        n += flag_get(&r->unprepared, r->assigned[i]);
    return n;
}

/* The loop is alive; healthy unless the directory is away or retries are going on. */
static void publish(struct member *r, const char *trouble)
{
    char buf[128];
    size_t waiting = trouble ? 0 : count_unprepared(r);
    if (waiting) {
        snprintf(buf, sizeof(buf), "waiting for the directory: %zu partitions not prepared",
                 waiting);
        trouble = buf;
    }
    const char *why = trouble                                          ? trouble
                      : r->core.ldap && dir_conn_is_down(r->core.ldap) ? "ldap: connection lost"
                                                                       : "ok";
    reconciler_metrics_publish(r->metrics, &r->core, r->rk, r->assigned, r->n_assigned,
                               strcmp(why, "ok") == 0, why);
}

static void set_assigned(struct member *r)
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

/* Pauses or resumes partitions of sisopi.users and remembers which ones we paused. A
 * partition librdkafka does not know (never assigned) is left as it is. */
static void set_paused(struct member *r, const int32_t *parts, size_t n, bool pause)
{
    if (n == 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, r->cfg->kafka.topic_users, parts[i]);
    rd_kafka_resp_err_t e =
        pause ? rd_kafka_pause_partitions(r->rk, l) : rd_kafka_resume_partitions(r->rk, l);
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_resp_err_t pe = e ? e : l->elems[i].err;
        if (pe) {
            char ps[16];
            snprintf(ps, sizeof(ps), "%" PRId32, l->elems[i].partition);
            log_kv(LEVEL_WARN, pause ? "pause_failed" : "resume_failed", "partition", ps, "error",
                   rd_kafka_err2str(pe), NULL);
        }
        /* A failed resume clears the flag too: the partition is then unknown to librdkafka,
         * and its next assignment starts unpaused. */
        if (!pe || !pause)
            flag_set(&r->paused, l->elems[i].partition, pause);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* A batch failed: stop fetching everything assigned until it went through. Fetching on
 * would fill memory with messages that cannot be applied before it anyway (they wait for
 * the same directory and broker), and the consumer must keep being polled meanwhile. */
static void enter_retry(struct member *r)
{
    int32_t *p = xcalloc(r->n_assigned + 1, sizeof(int32_t));
    size_t n = 0;
    for (size_t i = 0; i < r->n_assigned; i++)
        if (!flag_get(&r->paused, r->assigned[i]))
            p[n++] = r->assigned[i];
    set_paused(r, p, n, true);
    free(p);
    r->retrying = true;
}

/* Resumes what enter_retry (or an assignment during the retry) paused, except partitions
 * whose slice still waits to be prepared. Partitions revoked meanwhile are resumed too, so
 * that they come back unpaused if they are assigned again. */
static void leave_retry(struct member *r)
{
    int32_t *p = xcalloc(r->paused.n + 1, sizeof(int32_t));
    size_t n = 0;
    for (size_t i = 0; i < r->paused.n; i++)
        if (r->paused.v[i] && !flag_get(&r->unprepared, (int32_t)i))
            p[n++] = (int32_t)i;
    set_paused(r, p, n, false);
    free(p);
    r->retrying = false;
}

/* Drops the messages of the listed partitions from v (n of them). Returns how many. */
static size_t drop_from(rd_kafka_message_t **v, size_t *n,
                        const rd_kafka_topic_partition_list_t *parts)
{
    size_t k = 0, dropped = 0;
    for (size_t i = 0; i < *n; i++) {
        bool gone = false;
        for (int j = 0; j < parts->cnt && !gone; j++)
            gone = parts->elems[j].partition == v[i]->partition;
        if (gone) {
            rd_kafka_message_destroy(v[i]);
            dropped++;
        } else {
            v[k++] = v[i];
        }
    }
    *n = k;
    return dropped;
}

/*
 * Makes the state slices of parts current (reconcile_prepare_partitions) from the group's
 * committed offsets and their marks. Returns 0 when done, 1 when it has to wait (the directory
 * is away for a rebuild, the journal cannot be read, or the broker cannot tell the committed
 * offsets: a guessed offset could make a stale slice look current), -1 on a failure of the
 * state store (r->err).
 */
static int prepare(struct member *r, const int32_t *parts, size_t n)
{
    int64_t *committed = xcalloc(n + 1, sizeof(int64_t));
    struct journal_mark *marks = xcalloc(n + 1, sizeof(*marks));
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_new((int)n + 1);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(c, r->cfg->kafka.topic_users, parts[i]);
    char err[512] = "";
    int rc = 0;
    rd_kafka_resp_err_t e = rd_kafka_committed(r->rk, c, COMMITTED_WAIT_MS);
    for (int i = 0; i < c->cnt && !e; i++)
        e = c->elems[i].err;
    if (e) {
        snprintf(err, sizeof(err), "cannot read the committed offsets: %s", rd_kafka_err2str(e));
        reconciler_metrics_committed(r->metrics, parts, NULL, n);
        rc = 1;
    } else {
        /* rd_kafka_committed answers in the list's order: committed[i] is parts[i]'s. */
        for (int i = 0; i < c->cnt; i++) {
            committed[i] = c->elems[i].offset;
            journal_mark_parse(c->elems[i].metadata, c->elems[i].metadata_size, &marks[i]);
        }
        reconciler_metrics_committed(r->metrics, parts, committed, n);
        rc = reconcile_prepare_partitions(&r->core, parts, committed, marks, n, err, sizeof(err));
        if (rc < 0 && dir_conn_is_down(r->core.ldap))
            rc = 1;
    }
    char ns[24];
    snprintf(ns, sizeof(ns), "%zu", n);
    if (rc > 0) {
        log_kv(LEVEL_WARN, "prepare_deferred", "partitions", ns, "error", err, "msg",
               "the partitions stay paused until their state can be made current", NULL);
    } else if (rc < 0) {
        log_kv(LEVEL_ERROR, "prepare_failed", "error", err, NULL);
        r->rebalance_failed = true;
        snprintf(r->err, sizeof(r->err), "%s", err);
    }
    rd_kafka_topic_partition_list_destroy(c);
    free(committed);
    free(marks);
    return rc;
}

/* New partitions: make their state slices current before their first message, or keep them
 * paused until that is possible. */
static void on_assign(struct member *r, rd_kafka_topic_partition_list_t *parts)
{
    size_t n = (size_t)parts->cnt;
    if (n == 0)
        return; /* a cooperative rebalance that gives this member nothing new */
    int32_t *p = xcalloc(n + 1, sizeof(int32_t));
    for (size_t i = 0; i < n; i++)
        p[i] = parts->elems[i].partition;
    if (prepare(r, p, n) > 0) {
        for (size_t i = 0; i < n; i++)
            flag_set(&r->unprepared, p[i], true);
        r->prepare_backoff = 1;
        r->prepare_at = clock_mono_s() + r->prepare_backoff;
    }
    free(p);
}

/* After an assignment: paused while a batch retries or the slice waits to be prepared,
 * else fetching (a partition paused in an earlier assignment would stay paused forever). */
static void align_paused(struct member *r, const rd_kafka_topic_partition_list_t *parts)
{
    int32_t *pause = xcalloc((size_t)parts->cnt + 1, sizeof(int32_t));
    int32_t *resume = xcalloc((size_t)parts->cnt + 1, sizeof(int32_t));
    size_t np = 0, nr = 0;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        bool want = r->retrying || flag_get(&r->unprepared, p);
        if (want && !flag_get(&r->paused, p))
            pause[np++] = p;
        else if (!want && flag_get(&r->paused, p))
            resume[nr++] = p;
    }
    set_paused(r, pause, np, true);
    set_paused(r, resume, nr, false);
    free(pause);
    free(resume);
}

/* Partitions taken away: their messages in hand are dropped unapplied (the next owner applies
 * them from the committed offset, which is before them: nothing of theirs was committed). The
 * slices stay: if a partition comes back and the last commit is still this member's, nobody
 * else applied anything to it, and whatever anyone wrote without committing is in the
 * journal. */
static void on_revoke(struct member *r, rd_kafka_topic_partition_list_t *parts)
{
    size_t dropped =
        drop_from(r->batch, &r->n_batch, parts) + drop_from(r->held, &r->n_held, parts);
    if (dropped) {
        char d[24];
        snprintf(d, sizeof(d), "%zu", dropped);
        log_kv(LEVEL_WARN, "messages_dropped", "count", d, "msg",
               "revoked before they were applied; their next owner applies them", NULL);
    }
    int32_t *p = xcalloc((size_t)parts->cnt + 1, sizeof(int32_t));
    for (int i = 0; i < parts->cnt; i++) {
        int32_t q = parts->elems[i].partition;
        flag_set(&r->unprepared, q, false);
        if (q >= 0 && (size_t)q < r->n_uncommitted)
            r->uncommitted[q] = 0; /* the group has the rest from its next owner */
        p[i] = q;
    }
    reconcile_release_partitions(&r->core, p, (size_t)parts->cnt);
    reconciler_metrics_committed(r->metrics, p, NULL, (size_t)parts->cnt);
    free(p);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct member *r = opaque;
    char n[16];
    snprintf(n, sizeof(n), "%d", parts->cnt);
    bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    r->rebalanced = true;
    log_kv(LEVEL_INFO, assign ? "partitions_assigned" : "partitions_revoked", "count", n, NULL);
    if (r->retrying)
        log_kv(LEVEL_WARN, "rebalance_while_retrying", assign ? "assigned" : "revoked", n, NULL);
    if (assign) {
        on_assign(r, parts);
        rd_kafka_incremental_assign(rk, parts);
        set_assigned(r);
        align_paused(r, parts);
    } else {
        on_revoke(r, parts);
        rd_kafka_incremental_unassign(rk, parts);
        set_assigned(r);
    }
}

/* Tries again to prepare the assigned partitions that wait for it, with back-off. */
static void retry_prepare(struct member *r)
{
    if (count_unprepared(r) == 0 || clock_mono_s() < r->prepare_at)
        return;
    int32_t *p = xcalloc(r->n_assigned + 1, sizeof(int32_t));
    size_t n = 0;
    for (size_t i = 0; i < r->n_assigned; i++)
        if (flag_get(&r->unprepared, r->assigned[i]))
            p[n++] = r->assigned[i];
    char err[512];
    int rc = 1;
    if (dir_conn_is_down(r->core.ldap) &&
        dir_conn_reconnect(r->core.ldap, err, sizeof(err)) != LDAP_SUCCESS)
        log_kv(LEVEL_WARN, "ldap_reconnect_failed", "error", err, NULL);
    else
        rc = prepare(r, p, n);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            flag_set(&r->unprepared, p[i], false);
        if (!r->retrying)
            set_paused(r, p, n, false);
        char ns[24];
        snprintf(ns, sizeof(ns), "%zu", n);
        log_kv(LEVEL_INFO, "partitions_prepared", "partitions", ns, NULL);
        r->prepare_backoff = 1;
    } else if (rc > 0) {
        r->prepare_backoff =
            r->prepare_backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : r->prepare_backoff * 2;
        r->prepare_at = clock_mono_s() + r->prepare_backoff;
    }
    free(p);
}

/* The consumer's max.poll.interval.ms (kafka.properties may set it), in seconds. */
static double max_poll_seconds(rd_kafka_t *rk)
{
    char v[32];
    size_t n = sizeof(v);
    long ms = 300000;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "max.poll.interval.ms", v, &n) == RD_KAFKA_CONF_OK)
        ms = strtol(v, NULL, 10);
    return (double)(ms > 0 ? ms : 300000) / 1000.0;
}

static rd_kafka_t *make_consumer(struct member *r, char *err, size_t n)
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
    if (kafka_subscribe_topic(rk, cfg->kafka.topic_users, err, n) < 0) {
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

/* Remembers the offsets after the batch's last message of each partition as uncommitted. */
static void note_applied(struct member *r)
{
    for (size_t i = 0; i < r->n_batch; i++) {
        int32_t p = r->batch[i]->partition;
        if (p < 0)
            continue;
        if ((size_t)p >= r->n_uncommitted) {
            size_t n = (size_t)p + 16;
            r->uncommitted = xrealloc(r->uncommitted, n * sizeof(int64_t));
            memset(r->uncommitted + r->n_uncommitted, 0, (n - r->n_uncommitted) * sizeof(int64_t));
            r->n_uncommitted = n;
        }
        if (r->batch[i]->offset + 1 > r->uncommitted[p])
            r->uncommitted[p] = r->batch[i]->offset + 1;
    }
}

/* Commits the uncommitted offsets of the assigned partitions, synchronously, each with its
 * mark (journal.h): a partition that moves must find exactly what this reconciler applied,
 * and whether the slice that applied it was this one. A refused commit stays uncommitted and
 * is tried again COMMIT_RETRY_S later (loop). */
static void commit_applied(struct member *r)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)r->n_assigned);
    for (size_t i = 0; i < r->n_assigned; i++) {
        int32_t p = r->assigned[i];
        if ((size_t)p >= r->n_uncommitted || r->uncommitted[p] == 0)
            continue;
        struct journal_mark mark;
        char meta[128];
        reconcile_commit_mark(&r->core, p, r->uncommitted[p], &mark);
        journal_mark_format(&mark, meta, sizeof(meta));
        rd_kafka_topic_partition_t *e =
            rd_kafka_topic_partition_list_add(l, r->cfg->kafka.topic_users, p);
        e->offset = r->uncommitted[p];
        e->metadata = xstrdup(meta); /* freed with the list */
        e->metadata_size = strlen(meta);
    }
    if (l->cnt > 0) {
        failpoint("before_commit");
        rd_kafka_resp_err_t e = rd_kafka_commit(r->rk, l, 0);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            log_kv(LEVEL_WARN, "commit_failed", "error", rd_kafka_err2str(e), "msg",
                   "the state is saved; the commit is tried again while the partitions stay, "
                   "a partition that moves now is rebuilt from the directory",
                   NULL);
            r->commit_at = clock_mono_s() + COMMIT_RETRY_S;
        } else {
            for (int i = 0; i < l->cnt; i++)
                r->uncommitted[l->elems[i].partition] = 0;
            r->commit_at = 0;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Whether a refused commit waits for its next attempt and the time for it has come. */
static bool commit_due(const struct member *r)
{
    return r->commit_at > 0 && clock_mono_s() >= r->commit_at;
}

/* A fetched message worth keeping: not an error, and of a partition still assigned (one
 * revoked in the very poll that returned it belongs to its next owner). */
static bool keep_message(struct member *r, rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_kv(LEVEL_WARN, "consumer_error", "error", rd_kafka_message_errstr(m), NULL);
        rd_kafka_message_destroy(m);
        return false;
    }
    if (!is_assigned(r, m->partition)) {
        rd_kafka_message_destroy(m);
        return false;
    }
    return true;
}

static void hold(struct member *r, rd_kafka_message_t *m)
{
    if (r->n_held == r->cap_held) {
        r->cap_held = r->cap_held ? 2 * r->cap_held : 64;
        r->held = xrealloc(r->held, r->cap_held * sizeof(*r->held));
    }
    r->held[r->n_held++] = m;
}

/* Fills r->batch with up to batch_limit messages: the held ones of prepared partitions first,
 * then fetched ones; waits up to POLL_MS for the first. Messages of partitions that wait to
 * be prepared are held. */
static void poll_batch(struct member *r)
{
    size_t k = 0;
    r->n_batch = 0;
    for (size_t i = 0; i < r->n_held; i++) {
        rd_kafka_message_t *m = r->held[i];
        if (r->n_batch < r->batch_limit && !flag_get(&r->unprepared, m->partition))
            r->batch[r->n_batch++] = m;
        else
            r->held[k++] = m;
    }
    r->n_held = k;
    while (r->n_batch < r->batch_limit) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, r->n_batch == 0 ? POLL_MS : 0);
        if (!m)
            break;
        if (!keep_message(r, m))
            continue;
        if (flag_get(&r->unprepared, m->partition))
            hold(r, m);
        else
            r->batch[r->n_batch++] = m;
    }
}

/* Caught up: the state has applied every assigned partition up to its end. */
static bool caught_up(struct member *r)
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

/*
 * Waits up to ms while serving the consumer: rebalances happen and the member stays in the
 * group however long the outage (max.poll.interval.ms counts from the last consumer poll).
 * The paused partitions deliver nothing; a message fetched before the pause took effect is
 * held, never lost. Ends early when a revocation emptied the batch.
 */
static void wait_serving(struct member *r, int ms, const char *trouble)
{
    double until = clock_mono_s() + ms / 1000.0;
    while (!stop_requested && !r->rebalance_failed && r->n_batch > 0) {
        publish(r, trouble);
        int left = (int)((until - clock_mono_s()) * 1000.0);
        if (left <= 0)
            break;
        rd_kafka_message_t *m =
            rd_kafka_consumer_poll(r->rk, left < RETRY_POLL_MS ? left : RETRY_POLL_MS);
        if (m && keep_message(r, m))
            hold(r, m);
    }
}

/*
 * Re-runs the batch in hand until it goes through, backing off while the directory or the
 * broker is away, with every assigned partition paused meanwhile. A partition revoked during
 * the wait leaves the batch unapplied (on_revoke). Returns the final result; RECONCILE_RETRY
 * only when asked to stop (or a rebalance failed) before it went through.
 */
static enum reconcile_rc run_batch(struct member *r)
{
    int backoff = 1, attempt = 0;
    double started = clock_mono_s();
    enum reconcile_rc rc = RECONCILE_OK;
    while (r->n_batch > 0) {
        char err[512];
        attempt++;
        double t0 = clock_mono_s();
        rc = reconcile_batch(&r->core, r->batch, r->n_batch, err, sizeof(err));
        r->attempt_s = clock_mono_s() - t0;
        if (rc != RECONCILE_RETRY) {
            if (rc == RECONCILE_FATAL)
                log_kv(LEVEL_ERROR, "batch_failed", "error", err, NULL);
            break;
        }
        if (!r->retrying)
            enter_retry(r);
        char s[16], a[16], m[24];
        snprintf(s, sizeof(s), "%d", backoff);
        snprintf(a, sizeof(a), "%d", attempt);
        snprintf(m, sizeof(m), "%zu", r->n_batch);
        log_kv(LEVEL_WARN, "batch_retry", "error", err, "attempt", a, "messages", m, "retry_in_s",
               s, NULL);
        char trouble[600];
        snprintf(trouble, sizeof(trouble), "retrying: %s", err);
        wait_serving(r, backoff * 1000, trouble);
        if (stop_requested || r->rebalance_failed)
            break;
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
        if (dir_conn_is_down(r->core.ldap)) {
            if (dir_conn_reconnect(r->core.ldap, err, sizeof(err)) != LDAP_SUCCESS)
                log_kv(LEVEL_WARN, "ldap_reconnect_failed", "error", err, NULL);
        }
    }
    if (r->retrying) {
        leave_retry(r);
        char a[16], sec[24], m[24];
        snprintf(a, sizeof(a), "%d", attempt);
        snprintf(sec, sizeof(sec), "%.1f", clock_mono_s() - started);
        snprintf(m, sizeof(m), "%zu", r->n_batch);
        log_kv(LEVEL_INFO, "batch_resumed", "attempts", a, "seconds", sec, "messages", m, "result",
               rc == RECONCILE_OK ? "applied" : "not applied", NULL);
    }
    return rc;
}

static void log_summary(struct member *r)
{
    char m[24], dl[24], un[24], ud[24], cr[24], mo[24], li[24], rj[24], de[24], ps[24];
    snprintf(m, sizeof(m), "%" PRId64, r->core.messages);
    snprintf(dl, sizeof(dl), "%" PRId64, r->core.dead_letters);
    snprintf(un, sizeof(un), "%" PRId64, r->core.unchanged);
    snprintf(ud, sizeof(ud), "%" PRId64, r->core.unchanged_by_digest);
    snprintf(cr, sizeof(cr), "%" PRId64, r->core.totals[EVENT_CREATED]);
    snprintf(mo, sizeof(mo), "%" PRId64,
             r->core.totals[EVENT_MODIFIED] + r->core.totals[EVENT_SCHOOL_ADDED] +
                 r->core.totals[EVENT_SCHOOL_REMOVED] + r->core.totals[EVENT_REACTIVATED]);
    snprintf(li, sizeof(li), "%" PRId64, r->core.totals[EVENT_MOVED_TO_LIMBO]);
    snprintf(rj, sizeof(rj), "%" PRId64, r->core.totals[EVENT_REJECTED]);
    snprintf(de, sizeof(de), "%" PRId64, r->core.totals[EVENT_DELETED]);
    snprintf(ps, sizeof(ps), "%" PRId64, r->core.purges_skipped);
    log_kv(LEVEL_INFO, "summary", "messages", m, "created", cr, "modified", mo, "limbo", li,
           "deleted", de, "purges_skipped", ps, "unchanged", un, "unchanged_by_digest", ud,
           "rejected", rj, "dead_letters", dl, NULL);
    struct apply_stats a = applier_stats(r->core.applier);
    char ad[24], rn[24], md[24], dt[24], gm[24], ge[24];
    snprintf(ad, sizeof(ad), "%" PRId64, a.adds);
    snprintf(rn, sizeof(rn), "%" PRId64, a.renames);
    snprintf(md, sizeof(md), "%" PRId64, a.modifies);
    snprintf(dt, sizeof(dt), "%" PRId64, a.deletes);
    snprintf(gm, sizeof(gm), "%" PRId64, a.group_modifies);
    snprintf(ge, sizeof(ge), "%" PRId64, a.group_errors);
    log_kv(LEVEL_INFO, "ldap_summary", "adds", ad, "moves", rn, "modifies", md, "deletes", dt,
           "group_modifies", gm, "group_errors", ge, NULL);
}

/* See batch_limit. */
static void adapt_batch_limit(struct member *r)
{
    size_t was = r->batch_limit;
    if (r->attempt_s > r->max_poll_s / 2 && r->n_batch > 1)
        r->batch_limit = r->n_batch / 2;
    else if (r->attempt_s < r->max_poll_s / 8 && r->n_batch == r->batch_limit)
        r->batch_limit = r->batch_limit * 2 > r->max_batch ? r->max_batch : r->batch_limit * 2;
    if (r->batch_limit < was) {
        char a[24], b[24], sec[24];
        snprintf(a, sizeof(a), "%zu", was);
        snprintf(b, sizeof(b), "%zu", r->batch_limit);
        snprintf(sec, sizeof(sec), "%.1f", r->attempt_s);
        log_kv(LEVEL_WARN, "batch_shrunk", "from", a, "to", b, "seconds", sec, "msg",
               "a batch took more than half of max.poll.interval.ms", NULL);
    }
}

static int loop(struct member *r, const struct member_opts *o)
{
    double started = clock_mono_s(), idle_since = 0;
    int rc = EXIT_OK;
    while (!stop_requested) {
        retry_prepare(r);
        poll_batch(r);
        publish(r, r->rebalance_failed ? r->err : NULL);
        if (r->rebalance_failed) {
            log_kv(LEVEL_ERROR, "stopping", "error", r->err, NULL);
            rc = EXIT_FAILED;
            break;
        }
        if (r->n_batch == 0) {
            if (commit_due(r))
                commit_applied(r);
            if (!o->until_idle)
                continue;
            if (r->n_assigned == 0 && clock_mono_s() - started > ASSIGN_WAIT_S) {
                log_kv(LEVEL_ERROR, "no_partitions", "msg", "no partition assigned", NULL);
                rc = EXIT_FAILED;
                break;
            }
            if (!caught_up(r) || r->commit_at > 0) { /* idle once the group has it all */
                idle_since = 0;
                continue;
            }
            size_t open = reconcile_open_imports(&r->core, r->assigned, r->n_assigned);
            if (idle_since == 0)
                idle_since = clock_mono_s();
            if (open == 0 || clock_mono_s() - idle_since > o->idle_open_seconds) {
                if (open) {
                    char s[24];
                    snprintf(s, sizeof(s), "%zu", open);
                    log_kv(LEVEL_WARN, "open_imports", "count", s, "msg",
                           "imports without ImportEnd remain (they remove nobody)", NULL);
                }
                break;
            }
            continue;
        }
        idle_since = 0;
        double t0 = clock_mono_s();
        enum reconcile_rc brc = run_batch(r);
        if (log_enabled(LEVEL_DEBUG)) {
            char sn[24], sd[24];
            snprintf(sn, sizeof(sn), "%zu", r->n_batch);
            snprintf(sd, sizeof(sd), "%.3f", clock_mono_s() - t0);
            log_kv(LEVEL_DEBUG, "batch", "messages", sn, "seconds", sd, NULL);
        }
        if (brc == RECONCILE_OK && r->n_batch > 0) {
            note_applied(r);
            commit_applied(r);
        }
        if (brc == RECONCILE_OK)
            adapt_batch_limit(r);
        for (size_t i = 0; i < r->n_batch; i++)
            rd_kafka_message_destroy(r->batch[i]);
        r->n_batch = 0;
        if (brc == RECONCILE_FATAL) {
            rc = EXIT_FAILED;
            break;
        }
    }
    return rc;
}

/*
 * librdkafka 2.0 (Debian 12's) aborts when a cooperative-sticky member is closed after it
 * joined and before its first assignment (its assignor state is still NULL; fixed in 2.3).
 * A member stopped that early serves the consumer until the group answers, at most
 * FIRST_ANSWER_WAIT_MS (nothing was assigned, so nothing is applied meanwhile).
 */
static void await_first_answer(struct member *r)
{
    if (r->rebalanced)
        return;
    log_kv(LEVEL_INFO, "awaiting_group", "msg",
           "stopped before the group's first answer: waiting for it before leaving", NULL);
    double until = clock_mono_s() + FIRST_ANSWER_WAIT_MS / 1000.0;
    while (!r->rebalanced && clock_mono_s() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, RETRY_POLL_MS);
        if (m)
            rd_kafka_message_destroy(m); /* unapplied: a later owner reads it again */
    }
}

/*
 * librdkafka 2.0 can hang for ever in rd_kafka_consumer_close when an incremental assignment
 * arrives while a cooperative member closes (fixed upstream in 2.4), e.g. when two members stop
 * at once. So the member leaves first: a last try of a refused commit, then unsubscribe and
 * serve the revocation, at most LEAVE_WAIT_MS; messages fetched meanwhile are dropped (their
 * next owner applies them from the committed offset).
 */
static void leave_group(struct member *r)
{
    if (r->commit_at > 0)
        commit_applied(r);
    rd_kafka_unsubscribe(r->rk);
    double until = clock_mono_s() + LEAVE_WAIT_MS / 1000.0;
    while (r->n_assigned > 0 && clock_mono_s() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, RETRY_POLL_MS);
        if (m)
            rd_kafka_message_destroy(m);
    }
}

/* The mapping's LDAP attribute targets against the directory's schema, before anything is
 * consumed: a misspelt one ("klass") is a config error, not a Rejected event for every
 * record. A directory that shows no schema to this bind is not a reason to stop: warn. */
static int check_schema(const struct config *cfg, struct dir_conn *ldap)
{
    char err[CONFIG_ERRSTR_SIZE + 256];
    if (dir_schema_check_directory(ldap, cfg, err, sizeof(err)) == 0)
        return 0;
    if (dir_conn_is_down(ldap))
        fprintf(stderr,
                "sisopi-reconciler: the directory is unreachable, nothing was consumed: %s\n", err);
    else
        fprintf(stderr, "sisopi-reconciler: %s\n", err);
    return -1;
}

int member_run(const struct config *cfg, const struct member_opts *o)
{
    struct member r = {.cfg = cfg};
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
    /* Away at start: exit 1 at once rather than wait unseen; the service manager restarts
     * it (deploy/systemd: every 15 s) and the log says why each time. */
    if (dir_conn_open(cfg, &r.core.ldap, err, sizeof(err)) != LDAP_SUCCESS) {
        fprintf(stderr,
                "sisopi-reconciler: the directory is unreachable, nothing was consumed: %s\n", err);
        goto out;
    }
    if (check_schema(cfg, r.core.ldap) < 0)
        goto out;
    dir_conn_set_window(r.core.ldap, cfg->reconciler.window);
    r.core.applier = applier_new(cfg, r.core.ldap);
    if (!(r.core.events = event_sink_open(cfg, err, sizeof(err)))) {
        fprintf(stderr, "sisopi-reconciler: %s\n", err);
        goto out;
    }
    r.max_batch = r.batch_limit = (size_t)cfg->reconciler.batch_size;
    r.batch = xcalloc(r.max_batch, sizeof(*r.batch));
    if (!(r.rk = make_consumer(&r, err, sizeof(err)))) {
        fprintf(stderr, "sisopi-reconciler: %s\n", err);
        goto out;
    }
    r.max_poll_s = max_poll_seconds(r.rk);
    r.core.consumer = r.rk;
    log_kv(LEVEL_INFO, "started", "group", cfg->reconciler.group_id, "ldap", cfg->ldap.uri, "state",
           cfg->reconciler.state_dir, NULL);
    rc = loop(&r, o);
    log_summary(&r);
    for (size_t i = 0; i < r.n_held; i++)
        rd_kafka_message_destroy(r.held[i]);
    r.n_held = 0;
    await_first_answer(&r);
    leave_group(&r);
    kafka_consumer_destroy(r.rk);
out:
    reconciler_metrics_free(r.metrics);
    event_sink_close(r.core.events);
    applier_free(r.core.applier);
    dir_conn_close(r.core.ldap);
    reconcile_core_close(&r.core);
    free(r.assigned);
    free(r.batch);
    free(r.held);
    free(r.paused.v);
    free(r.unprepared.v);
    free(r.uncommitted);
    return rc;
}
