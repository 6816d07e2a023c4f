/*
 * wave: up to WAVE_MAX persons' changes carried out together: the journal first, the suspects'
 * entries read and their plans rebased, the writes (apply.c), then each change's event, state
 * and count.
 */
#include "reconcile_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "failpoint.h"
#include "journal.h"
#include "log.h"
#include "plan.h"

void wave_item_free(struct item *it)
{
    person_plan_free(&it->job.plan);
    if (it->has_before)
        person_free(&it->before);
    if (it->has_actual)
        person_entry_free(&it->actual);
    free(it->import_id);
    free(it->school);
    memset(it, 0, sizeof(*it));
}

struct item *wave_item_new(struct batch *b, enum item_kind kind, int32_t partition, int64_t offset,
                           const char *import_id, bool dry_run)
{
    b->items = xrealloc(b->items, (b->n_items + 1) * sizeof(*b->items));
    struct item *it = &b->items[b->n_items++];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->partition = partition;
    it->offset = offset;
    it->import_id = strdup_or_null(import_id);
    it->dry_run = dry_run;
    return it;
}

/* Whether the record of an applied change changes nothing in the state it made (the rules
 * settle in one step, so it always should): then its digest (it->digest, made when the record
 * was handled) goes with the state, and the next night's same record is known without
 * decoding the person. */
static bool settled(struct batch *b, const struct item *it)
{
    if (it->kind != ITEM_RECORD || !it->record || it->rebase || it->keep)
        return false;
    struct person_plan again;
    bool none =
        plan_user_record(b->core->cfg, &it->job.plan.after, it->record, &again) == PLAN_NONE;
    person_plan_free(&again);
    return none;
}

static int save_item(struct batch *b, struct item *it)
{
    char err[256];
    const struct person *after = &it->job.plan.after;
    int rc = it->kind == ITEM_PURGE
                 ? state_person_del(b->txn, it->partition, it->before.record_uid, err, sizeof(err))
             : settled(b, it)
                 ? state_person_put_noop(b->txn, it->partition, after, it->digest, err, sizeof(err))
                 : state_person_put(b->txn, it->partition, after, err, sizeof(err));
    if (rc < 0)
        snprintf(b->err, sizeof(b->err), "state: %s", err);
    return rc < 0 ? -1 : 0;
}

static const char *item_uid(const struct item *it)
{
    return it->has_before ? it->before.record_uid : it->job.plan.after.record_uid;
}

/* Whether the item writes to the directory (dry runs and unchanged persons do not). */
static bool item_writes(const struct item *it)
{
    return !it->dry_run && it->job.plan.action != PLAN_NONE;
}

/* Before the wave writes anything: one journal entry per person it changes (its state before,
 * the offset of the message), acknowledged by the broker. */
static int journal_wave(struct batch *b)
{
    struct reconcile_core *c = b->core;
    struct state_buf buf = {0};
    char err[256];
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < b->n_items && rc == 0; i++) {
        const struct item *it = &b->items[i];
        if (!item_writes(it))
            continue;
        struct journal_entry e = {.input_offset = it->offset, .has_before = it->has_before};
        if (it->has_before)
            e.before = it->before; /* borrowed for the encoding */
        journal_entry_encode(&e, &buf);
        rc = event_sink_journal(c->events, it->partition, item_uid(it), buf.p, buf.len, err,
                                sizeof(err));
        n++;
    }
    state_codec_buf_free(&buf);
    if (rc == 0 && n > 0)
        rc = event_sink_flush(c->events, 30000, err, sizeof(err));
    if (rc < 0) {
        snprintf(b->err, sizeof(b->err), "journal: %s", err);
        b->lost = true; /* the broker: retry */
    }
    return rc;
}

static void on_actual(struct person_entry *e, void *opaque)
{
    struct batch *b = opaque;
    for (size_t i = 0; i < b->n_items; i++) {
        struct item *it = &b->items[i];
        if (it->rebase && !it->has_actual && strcasecmp(item_uid(it), e->record_uid) == 0) {
            it->actual = *e;
            it->has_actual = true;
            return;
        }
    }
    person_entry_free(e); /* a second entry with the ids: the first one wins */
}

/* A suspect's change, planned from its state, carried out against its entry as it is. */
static void rebase_item(struct batch *b, struct item *it)
{
    const struct config *cfg = b->core->cfg;
    struct person_plan *p = &it->job.plan;
    if (it->kind == ITEM_PURGE) {
        it->gone = !it->has_actual;
        return;
    }
    if (it->has_actual) {
        plan_rebase(cfg, p, it->actual.dn, it->actual.username, &it->actual.managed);
        it->job.resync_groups = true;
    } else if (p->action == PLAN_CREATE) {
        /* nothing was added before the crash: a creation as any other */
    } else if (it->kind == ITEM_RECORD) {
        /* The entry is gone (purged by a later message the crash left unapplied, or by
         * hand): a school lists the person, so it gets an account again. */
        person_plan_free(p);
        person_free(&it->before);
        it->has_before = it->keep = false;
        plan_user_record(cfg, NULL, it->record, p);
    } else {
        it->gone = true; /* a removal of a person who is gone already */
    }
}

/* Reads the entries of the wave's suspects and rebases their changes. 0, or -1 (b->lost or
 * b->err). */
static int rebase_wave(struct batch *b)
{
    struct reconcile_core *c = b->core;
    size_t n = 0;
    const char **rids = xcalloc(b->n_items + 1, sizeof(char *));
    const char **sids = xcalloc(b->n_items + 1, sizeof(char *));
    for (size_t i = 0; i < b->n_items; i++) {
        struct item *it = &b->items[i];
        if (!it->rebase || !item_writes(it))
            continue;
        rids[n] = item_uid(it);
        sids[n++] = it->has_before ? it->before.source_uid : it->job.plan.after.source_uid;
    }
    char err[256];
    int rc =
        n ? person_ldap_fetch(c->ldap, c->cfg, sids, rids, n, on_actual, b, err, sizeof(err)) : 0;
    free(rids);
    free(sids);
    if (rc < 0) {
        b->lost = dir_conn_is_down(c->ldap);
        snprintf(b->err, sizeof(b->err), "reading suspects back: %s", err);
        return -1;
    }
    for (size_t i = 0; i < b->n_items; i++) {
        struct item *it = &b->items[i];
        if (it->rebase && item_writes(it))
            rebase_item(b, it);
    }
    return 0;
}

/* The applied (or, dry, planned) change of one item: its event, its state, its count. */
static int finish_item(struct batch *b, struct item *it)
{
    struct reconcile_core *c = b->core;
    bool ok = it->dry_run || it->job.applied;
    if (!ok) {
        batch_person_event(b, it, EVENT_REJECTED, it->job.error);
        log_kv(LEVEL_WARN, "rejected", "record_uid", it->job.plan.after.record_uid, "import_id",
               it->import_id, "error", it->job.error, NULL);
        return imports_count_outcome(b, it, false);
    }
    if (!it->keep)
        batch_person_event(b, it, it->kind == ITEM_PURGE ? EVENT_DELETED : it->job.plan.event,
                           NULL);
    if (!it->dry_run && save_item(b, it) < 0)
        return -1;
    if (it->rebase && (!it->gone || it->kind == ITEM_PURGE))
        uid_set_add(c->resolved, item_uid(it), 1);
    if (it->keep)
        return it->kind == ITEM_RECORD
                   ? imports_bump(b, it->partition, it->import_id, COUNT_UNCHANGED)
                   : 0;
    return imports_count_outcome(b, it, true);
}

/* Carries out the current wave: journal, suspects read back, the writes, then events, state
 * and counts. Returns 0, or -1 (b->lost or b->err say why). */
int wave_flush(struct batch *b)
{
    struct reconcile_core *c = b->core;
    if (b->n_items == 0)
        return 0;
    int rc = 0;
    double t0 = clock_mono_s();
    if (c->consumer && rd_kafka_assignment_lost(c->consumer)) {
        /* The group gave the partitions away (this member missed max.poll.interval.ms or its
         * session): their next owner writes now, not this one. */
        snprintf(b->err, sizeof(b->err), "the consumer group took the partitions away");
        b->lost = true;
        rc = -1;
        goto out;
    }
    if (journal_wave(b) < 0 || rebase_wave(b) < 0) {
        rc = -1;
        goto out;
    }
    double t1 = clock_mono_s();
    size_t n_real = 0;
    struct apply_job *jobs = xcalloc(b->n_items, sizeof(*jobs));
    for (size_t i = 0; i < b->n_items; i++) {
        struct item *it = &b->items[i];
        if (!item_writes(it))
            continue;
        it->job.kind = it->gone                 ? APPLY_NOTHING
                       : it->kind == ITEM_PURGE ? APPLY_DELETE
                                                : APPLY_PLAN;
        it->job.before = it->has_before ? &it->before : NULL;
        it->job.entry_dn = it->has_actual ? it->actual.dn : NULL;
        it->job.record = it->record;
        jobs[n_real++] = it->job;
    }
    if (log_enabled(LEVEL_DEBUG)) { /* the fault tests time kills by it */
        char sn[24];
        snprintf(sn, sizeof(sn), "%zu", n_real);
        log_kv(LEVEL_DEBUG, "wave_start", "jobs", sn, NULL);
    }
    if (apply_wave(c->applier, jobs, n_real) < 0)
        b->lost = true;
    failpoint("wave_applied");
    if (log_enabled(LEVEL_DEBUG)) {
        char sn[24], sl[24], sa[24];
        snprintf(sn, sizeof(sn), "%zu", n_real);
        snprintf(sl, sizeof(sl), "%.3f", t1 - t0);
        snprintf(sa, sizeof(sa), "%.3f", clock_mono_s() - t1);
        log_kv(LEVEL_DEBUG, "wave", "jobs", sn, "journal_s", sl, "apply_s", sa, NULL);
    }
    /* The plans were moved into jobs and back. */
    for (size_t i = 0, k = 0; i < b->n_items; i++) {
        struct item *it = &b->items[i];
        if (item_writes(it))
            it->job = jobs[k++];
    }
    free(jobs);
    for (size_t i = 0; i < b->n_items && !b->lost && rc == 0; i++) {
        struct item *it = &b->items[i];
        if (it->job.plan.action != PLAN_NONE && finish_item(b, it) < 0)
            rc = -1;
    }
    if (b->lost)
        rc = -1;
out:
    for (size_t i = 0; i < b->n_items; i++)
        wave_item_free(&b->items[i]);
    b->n_items = 0;
    uid_set_free(b->in_wave);
    b->in_wave = uid_set_new();
    return rc;
}

/* Adds a planned change to the wave, flushing first when the person is already in it. */
int wave_add(struct batch *b, const char *record_uid, int64_t offset)
{
    uid_set_add(b->touched, record_uid, 1 + offset);
    if (uid_set_add(b->in_wave, record_uid, 1) != 0 || b->n_items >= WAVE_MAX) {
        if (wave_flush(b) < 0)
            return -1;
        uid_set_add(b->in_wave, record_uid, 1);
    }
    return 0;
}

/* The state's person: 0 found, 1 not found, -1 error. *rebase: it is a suspect whose change
 * at offset must be carried out against its entry as it is. */
int wave_get_person(struct batch *b, int32_t part, const char *rid, int64_t offset,
                    struct person *out, bool *rebase)
{
    char err[256];
    *rebase = reconcile_is_suspect(b->core, rid, offset);
    int rc = state_person_get(b->txn, part, rid, out, err, sizeof(err));
    if (rc < 0)
        snprintf(b->err, sizeof(b->err), "state: %s", err);
    return rc;
}
