/*
 * reconciler_metrics: figures gathered on the reconciler's thread from what it already counts
 * (reconcile_core, event_sink, dir_conn), from librdkafka's cached offsets and from the
 * committed offsets the member read at the assignment: publishing costs no network round trip.
 */
#include "reconciler_metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "event_sink.h"
#include "metrics.h"
#include "metrics_http.h"
#include "service_metrics.h"
#include "state_store.h"
#include "strutil.h"

#define COMMITTED_UNKNOWN INT64_MIN

struct reconciler_metrics {
    struct metrics *m;
    struct metrics_http *http;
    double last, last_imports;
    /* By partition: the committed offset at its assignment, COMMITTED_UNKNOWN if not known. */
    int64_t *committed;
    size_t n_committed;
};

static void declare(struct metrics *m)
{
    metrics_declare(m, "sisopi_messages_consumed_total", METRICS_COUNTER,
                    "Messages of sisopi.users processed (applied, skipped or dead-lettered).");
    metrics_declare(m, "sisopi_events_total", METRICS_COUNTER,
                    "Events written to sisopi.events, by type.");
    metrics_declare(m, "sisopi_unchanged_records_total", METRICS_COUNTER,
                    "UserRecords that needed no directory change.");
    metrics_declare(m, "sisopi_dead_letters_total", METRICS_COUNTER,
                    "Messages sent to the dead-letter topic (undecodable or invalid).");
    metrics_declare(m, "sisopi_purges_skipped_total", METRICS_COUNTER,
                    "PurgeDue orders that deleted nothing (came back, another date, not due).");
    metrics_declare(m, "sisopi_events_failed_total", METRICS_COUNTER,
                    "Events or dead letters the broker did not acknowledge (retried).");
    metrics_declare(m, "sisopi_partitions_assigned", METRICS_GAUGE,
                    "Partitions of sisopi.users this reconciler owns.");
    metrics_declare(m, "sisopi_consumer_lag", METRICS_GAUGE,
                    "Messages of sisopi.users not yet processed, by partition (high watermark "
                    "minus position, as last fetched; before the first message since the "
                    "assignment, minus the committed offset).");
    metrics_declare(m, "sisopi_imports", METRICS_GAUGE,
                    "Imports on this reconciler's partitions by state: open (records arriving), "
                    "held (deletion guard: needs sisopi-admin release), incomplete (the end "
                    "marker's count did not match: nobody removed), counted per partition.");
    metrics_declare(m, "sisopi_last_import_completed_timestamp_seconds", METRICS_GAUGE,
                    "Unix time at which this reconciler last saw an import of the school and "
                    "role through on one of its partitions (ImportCompleted, or ImportReleased "
                    "after a hold); held, incomplete and dry-run imports do not count. Kept in "
                    "memory: absent after a restart until the next import completes. Alert on "
                    "time() minus its max over all reconcilers by school and role.");
    service_metrics_declare_ldap(m);
}

struct reconciler_metrics *reconciler_metrics_new(const char *listen, char *err, size_t n)
{
    struct reconciler_metrics *rm = xcalloc(1, sizeof(*rm));
    rm->m = metrics_new("reconciler");
    declare(rm->m);
    if (service_metrics_start(rm->m, listen, &rm->http, err, n) < 0) {
        metrics_free(rm->m);
        free(rm);
        return NULL;
    }
    return rm;
}

void reconciler_metrics_free(struct reconciler_metrics *rm)
{
    if (!rm)
        return;
    metrics_http_stop(rm->http);
    metrics_free(rm->m);
    free(rm->committed);
    free(rm);
}

void reconciler_metrics_committed(struct reconciler_metrics *rm, const int32_t *parts,
                                  const int64_t *committed, size_t n)
{
    if (!rm)
        return;
    for (size_t i = 0; i < n; i++) {
        int32_t p = parts[i];
        if (p < 0)
            continue;
        if ((size_t)p >= rm->n_committed) {
            size_t grown = (size_t)p + 16;
            rm->committed = xrealloc(rm->committed, grown * sizeof(int64_t));
            for (size_t k = rm->n_committed; k < grown; k++)
                rm->committed[k] = COMMITTED_UNKNOWN;
            rm->n_committed = grown;
        }
        rm->committed[p] = committed ? committed[i] : COMMITTED_UNKNOWN;
    }
}

/* Where a partition without a position will start: its committed offset (none committed:
 * auto.offset.reset = earliest; below the low watermark: deleted, so the low watermark). */
static int64_t start_offset(const struct reconciler_metrics *rm, int32_t p, int64_t lo)
{
    int64_t c = p >= 0 && (size_t)p < rm->n_committed ? rm->committed[p] : COMMITTED_UNKNOWN;
    return c >= lo ? c : lo;
}

static void publish_lag(struct reconciler_metrics *rm, const struct reconcile_core *core,
                        rd_kafka_t *rk, const int32_t *assigned, size_t n)
{
    struct metrics *m = rm->m;
    const char *topic = core->cfg->kafka.topic_users;
    metrics_clear(m, "sisopi_consumer_lag");
    metrics_set(m, "sisopi_partitions_assigned", NULL, (double)n);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n + 1);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, assigned[i]);
    if (n && rd_kafka_position(rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < l->cnt; i++) {
            int64_t lo = -1, hi = -1, pos = l->elems[i].offset;
            if (rd_kafka_get_watermark_offsets(rk, topic, l->elems[i].partition, &lo, &hi) ||
                hi < 0)
                continue;
            char lab[48] = "", p[16];
            snprintf(p, sizeof(p), "%" PRId32, l->elems[i].partition);
            metrics_label(lab, sizeof(lab), "partition", p);
            /* No position yet (nothing consumed since the assignment, e.g. after a restart
             * with nothing new): what is behind starts at the committed offset. Counting the
             * whole partition would make every restart look like a backlog. */
            if (pos < 0)
                pos = start_offset(rm, l->elems[i].partition, lo);
            metrics_set(m, "sisopi_consumer_lag", lab, (double)(hi > pos ? hi - pos : 0));
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static int count_import(const struct import_state *s, void *opaque)
{
    int64_t *by_status = opaque;
    if ((unsigned)s->status < STATE_IMPORT_STATUS_COUNT)
        by_status[s->status]++;
    return 0;
}

static void publish_imports(struct metrics *m, const struct reconcile_core *core,
                            const int32_t *assigned, size_t n)
{
    struct state_txn *t = NULL;
    int64_t by_status[STATE_IMPORT_STATUS_COUNT] = {0};
    if (!core->state || state_txn_begin(core->state, false, &t, NULL, 0) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        state_imports_each(t, assigned[i], count_import, by_status, NULL, 0);
    state_txn_abort(t);
    static const enum state_import_status shown[] = {STATE_IMPORT_OPEN, STATE_IMPORT_HELD,
                                                     STATE_IMPORT_INCOMPLETE};
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        char lab[32] = "";
        metrics_label(lab, sizeof(lab), "state", state_import_status_name(shown[i]));
        metrics_set(m, "sisopi_imports", lab, (double)by_status[shown[i]]);
    }
}

static void publish_imports_done(struct metrics *m, const struct reconcile_core *core)
{
    for (size_t i = 0; i < core->n_imports_done; i++) {
        const struct import_done *d = &core->imports_done[i];
        char lab[384] = "";
        metrics_label(lab, sizeof(lab), "school", d->school);
        metrics_label(lab, sizeof(lab), "role", role_name(d->role));
        metrics_set(m, "sisopi_last_import_completed_timestamp_seconds", lab,
                    (double)d->at_ms / 1000.0);
    }
}

void reconciler_metrics_publish(struct reconciler_metrics *rm, const struct reconcile_core *core,
                                rd_kafka_t *rk, const int32_t *assigned, size_t n_assigned, bool ok,
                                const char *why)
{
    if (!rm)
        return;
    struct metrics *m = rm->m;
    metrics_heartbeat(m);
    metrics_health(m, ok, why);
    double now = clock_mono_s();
    if (now - rm->last < 1.0)
        return;
    rm->last = now;
    metrics_set(m, "sisopi_messages_consumed_total", NULL, (double)core->messages);
    metrics_set(m, "sisopi_unchanged_records_total", NULL, (double)core->unchanged);
    metrics_set(m, "sisopi_purges_skipped_total", NULL, (double)core->purges_skipped);
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        char lab[48] = "";
        metrics_label(lab, sizeof(lab), "type", event_type_name((enum event_type)t));
        metrics_set(m, "sisopi_events_total", lab, (double)core->totals[t]);
    }
    if (core->events) {
        struct event_sink_stats es = event_sink_stats(core->events);
        metrics_set(m, "sisopi_dead_letters_total", NULL, (double)es.dead_letters);
        metrics_set(m, "sisopi_events_failed_total", NULL, (double)es.failed);
    }
    if (rk)
        publish_lag(rm, core, rk, assigned, n_assigned);
    publish_imports_done(m, core);
    service_metrics_publish_ldap(m, core->ldap);
    if (now - rm->last_imports >= 5.0) {
        rm->last_imports = now;
        publish_imports(m, core, assigned, n_assigned);
    }
}
