/*
 * reconcile: the handlers of UserRecord, ImportEnd, ImportRelease and PurgeDue, the waves
 * that carry their changes to the directory, and the commit of a batch.
 */
#include "reconcile.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "avro_codec.h"
#include "clock.h"
#include "failpoint.h"
#include "import_id.h"
#include "journal.h"
#include "log.h"
#include "partitioner.h"
#include "person_ldap.h"
#include "plan.h"
#include "strutil.h"
#include "topic_reader.h"

#define WAVE_MAX  1000
#define REPLAY_MS 60000

enum item_kind { ITEM_RECORD, ITEM_REMOVE, ITEM_PURGE };

/* One person's change in the current wave, with what its event needs. */
struct item {
    enum item_kind kind;
    struct apply_job job;
    struct person before;
    bool has_before;
    const struct user_record *record; /* ITEM_RECORD: borrowed from the batch's message */
    int32_t partition;
    int64_t offset;
    char *import_id;
    char *school; /* ITEM_REMOVE: the school taken away */
    bool dry_run;
    /* A suspect (reconcile.h): the change is carried out against its entry as the directory
     * holds it (actual), read just before the wave. */
    bool rebase;
    bool keep; /* nothing to change but that: no event */
    bool gone; /* rebase found no entry for a removal or a purge: nothing left to write */
    bool has_actual;
    struct person_entry actual;
};

/* The import a batch touched last, kept in memory and written back when another one is
 * touched or the batch ends: the records of one import come one after another, and reading
 * and writing its bookkeeping for each of them was a tenth of an unchanged record's cost. */
struct import_cache {
    bool valid, dirty;
    int32_t partition;
    struct import_state s;
};

struct batch {
    struct reconcile_core *core;
    struct state_txn *txn;
    struct import_cache ic;
    struct item *items;
    size_t n_items;
    struct uid_set *in_wave;
    struct event *events;
    size_t n_events, cap_events;
    bool lost;                  /* the directory went away: retry the batch */
    struct users_msg **decoded; /* the batch's messages, alive until it ends */
    size_t n_decoded;
    struct uid_set *touched; /* every person a wave of this batch touched: 1 + first offset */
    char err[512];
    const char *topic;
};

/* ---------------------------------------------------------------------------------------- */
/* events                                                                                   */

static struct event *new_event(struct batch *b, enum event_type t, int32_t partition,
                               int64_t offset)
{
    if (b->n_events == b->cap_events) {
        b->cap_events = b->cap_events ? 2 * b->cap_events : 256;
        b->events = xrealloc(b->events, b->cap_events * sizeof(*b->events));
    }
    struct event *e = &b->events[b->n_events++];
    memset(e, 0, sizeof(*e));
    e->type = t;
    e->produced_at_ms = clock_wall_ms();
    e->input_topic = xstrdup(b->topic);
    e->input_partition = partition;
    e->input_offset = offset;
    return e;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* The event of an applied (or, in a dry run, planned) change of one person. */
static void person_event(struct batch *b, const struct item *it, enum event_type t,
                         const char *reason)
{
    const struct person *after = &it->job.plan.after;
    const struct person *p = it->has_before ? &it->before : after;
    struct event *e = new_event(b, t, it->partition, it->offset);
    e->record_uid = xstrdup(p->record_uid);
    e->import_id = dup_or_null(it->import_id);
    e->cause = it->kind == ITEM_PURGE ? xstrdup("purge") : NULL;
    e->source_uid = xstrdup(p->source_uid);
    e->school = it->record ? xstrdup(it->record->school) : dup_or_null(it->school);
    e->has_role = true;
    e->role = p->role;
    e->dn_before = it->has_before ? dup_or_null(it->before.dn) : NULL;
    e->dn_after = it->kind == ITEM_PURGE ? NULL : dup_or_null(after->dn);
    e->reason = dup_or_null(reason);
    e->purge_at_ms = after->purge_at_ms;
    e->dry_run = it->dry_run;
    const struct person_plan *pl = &it->job.plan;
    size_t n = pl->action == PLAN_CREATE ? pl->after_entry.n : pl->n_mods;
    e->changed = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        e->changed[e->n_changed++] =
            xstrdup(pl->action == PLAN_CREATE ? pl->after_entry.v[i].name : pl->mods[i].name);
    b->core->totals[t]++;
}

/* ---------------------------------------------------------------------------------------- */
/* waves                                                                                    */

static void item_free(struct item *it)
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

static struct item *new_item(struct batch *b, enum item_kind kind, int32_t partition,
                             int64_t offset, const char *import_id, bool dry_run)
{
    b->items = xrealloc(b->items, (b->n_items + 1) * sizeof(*b->items));
    struct item *it = &b->items[b->n_items++];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->partition = partition;
    it->offset = offset;
    it->import_id = dup_or_null(import_id);
    it->dry_run = dry_run;
    return it;
}

enum count_kind {
    COUNT_CREATED,
    COUNT_MODIFIED,
    COUNT_UNCHANGED,
    COUNT_REMOVED,
    COUNT_LIMBO,
    COUNT_ERRORS
};

static void import_state_copy(struct import_state *dst, const struct import_state *src)
{
    *dst = *src;
    dst->import_id = xstrdup(src->import_id);
    dst->source_uid = src->source_uid ? xstrdup(src->source_uid) : NULL;
    dst->school = src->school ? xstrdup(src->school) : NULL;
}

static bool import_cached(const struct batch *b, int32_t partition, const char *import_id)
{
    return b->ic.valid && b->ic.partition == partition && strcmp(b->ic.s.import_id, import_id) == 0;
}

/* Writes the cached import back if it changed. 0, or -1 (b->err). */
static int import_cache_flush(struct batch *b)
{
    char err[256];
    if (!b->ic.valid || !b->ic.dirty)
        return 0;
    if (state_import_put(b->txn, b->ic.partition, &b->ic.s, err, sizeof(err)) < 0) {
        snprintf(b->err, sizeof(b->err), "state: %s", err);
        return -1;
    }
    b->ic.dirty = false;
    return 0;
}

/* Forgets the cached import without writing it (it is being deleted, or the batch ends). */
static void import_cache_drop(struct batch *b)
{
    if (b->ic.valid)
        import_state_free(&b->ic.s);
    b->ic.valid = b->ic.dirty = false;
}

/* Makes the import the cached one: 0 (b->ic.s is it), 1 not found, -1 error (b->err). */
static int import_cache_load(struct batch *b, int32_t partition, const char *import_id)
{
    char err[256];
    if (import_cached(b, partition, import_id))
        return 0;
    if (import_cache_flush(b) < 0)
        return -1;
    import_cache_drop(b);
    int rc = state_import_get(b->txn, partition, import_id, &b->ic.s, err, sizeof(err));
    if (rc < 0) {
        snprintf(b->err, sizeof(b->err), "state: %s", err);
        return -1;
    }
    b->ic.valid = rc == 0;
    b->ic.partition = partition;
    return rc;
}

/* Deletes an import's bookkeeping (the cached copy too). 0, or -1 (b->err). */
static int import_del(struct batch *b, int32_t partition, const char *import_id)
{
    char err[256];
    if (import_cached(b, partition, import_id))
        import_cache_drop(b);
    if (state_import_del(b->txn, partition, import_id, err, sizeof(err)) < 0) {
        snprintf(b->err, sizeof(b->err), "state: %s", err);
        return -1;
    }
    return 0;
}

/* Counts one outcome in the import's bookkeeping (for its ImportCompleted). */
static int bump_count(struct batch *b, int32_t partition, const char *import_id,
                      enum count_kind kind)
{
    if (!import_id)
        return 0;
    int rc = import_cache_load(b, partition, import_id);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    struct import_counts *k = &b->ic.s.counts;
    int64_t *field[] = {&k->created, &k->modified, &k->unchanged,
                        &k->removed, &k->limbo,    &k->errors};
    (*field[kind])++;
    b->ic.dirty = true;
    return 0;
}

static int count_outcome(struct batch *b, const struct item *it, bool ok)
{
    enum count_kind k = !ok ? COUNT_ERRORS
                        : it->kind == ITEM_REMOVE
                            ? (it->job.plan.after.limbo ? COUNT_LIMBO : COUNT_REMOVED)
                        : it->job.plan.action == PLAN_CREATE ? COUNT_CREATED
                                                             : COUNT_MODIFIED;
    return bump_count(b, it->partition, it->import_id, k);
}

static int save_item(struct batch *b, struct item *it)
{
    char err[256];
    const struct person *after = &it->job.plan.after;
    int rc = it->kind == ITEM_PURGE
                 ? state_person_del(b->txn, it->partition, it->before.record_uid, err, sizeof(err))
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
        person_event(b, it, EVENT_REJECTED, it->job.error);
        log_kv(LEVEL_WARN, "rejected", "record_uid", it->job.plan.after.record_uid, "import_id",
               it->import_id, "error", it->job.error, NULL);
        return count_outcome(b, it, false);
    }
    if (!it->keep)
        person_event(b, it, it->kind == ITEM_PURGE ? EVENT_DELETED : it->job.plan.event, NULL);
    if (!it->dry_run && save_item(b, it) < 0)
        return -1;
    if (it->rebase && (!it->gone || it->kind == ITEM_PURGE))
        uid_set_add(c->resolved, item_uid(it), 1);
    if (it->keep)
        return it->kind == ITEM_RECORD
                   ? bump_count(b, it->partition, it->import_id, COUNT_UNCHANGED)
                   : 0;
    return count_outcome(b, it, true);
}

/* Carries out the current wave: journal, suspects read back, the writes, then events, state
 * and counts. Returns 0, or -1 (b->lost or b->err say why). */
static int flush_wave(struct batch *b)
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
        item_free(&b->items[i]);
    b->n_items = 0;
    uid_set_free(b->in_wave);
    b->in_wave = uid_set_new();
    return rc;
}

/* Adds a planned change to the wave, flushing first when the person is already in it. */
static int wave_add_check(struct batch *b, const char *record_uid, int64_t offset)
{
    uid_set_add(b->touched, record_uid, 1 + offset);
    if (uid_set_add(b->in_wave, record_uid, 1) != 0 || b->n_items >= WAVE_MAX) {
        if (flush_wave(b) < 0)
            return -1;
        uid_set_add(b->in_wave, record_uid, 1);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* handlers                                                                                 */

/* The state's person: 0 found, 1 not found, -1 error. *rebase: it is a suspect whose change
 * at offset must be carried out against its entry as it is. */
static int get_person(struct batch *b, int32_t part, const char *rid, int64_t offset,
                      struct person *out, bool *rebase)
{
    char err[256];
    *rebase = reconcile_is_suspect(b->core, rid, offset);
    int rc = state_person_get(b->txn, part, rid, out, err, sizeof(err));
    if (rc < 0)
        snprintf(b->err, sizeof(b->err), "state: %s", err);
    return rc;
}

static int get_import(struct batch *b, int32_t part, const char *import_id, struct import_state *s,
                      bool create_from_end, const struct import_end *e)
{
    int rc = import_cache_load(b, part, import_id);
    if (rc < 0)
        return -1;
    if (rc == 0)
        import_state_copy(s, &b->ic.s);
    else
        memset(s, 0, sizeof(*s)); /* not found: zeroed, as state_import_get leaves it */
    if (rc == 1 && create_from_end) {
        memset(s, 0, sizeof(*s));
        s->import_id = xstrdup(e->import_id);
        s->source_uid = xstrdup(e->source_uid);
        s->school = xstrdup(e->school);
        s->role = e->role;
        s->first_offset = s->last_offset = s->ended_at_offset = s->expected_records = -1;
        s->dry_run = e->dry_run;
        return 0;
    }
    return rc;
}

static int put_import(struct batch *b, int32_t part, const struct import_state *s)
{
    if (!import_cached(b, part, s->import_id)) {
        if (import_cache_flush(b) < 0)
            return -1;
        import_cache_drop(b);
    } else {
        import_state_free(&b->ic.s);
    }
    import_state_copy(&b->ic.s, s);
    b->ic.valid = b->ic.dirty = true;
    b->ic.partition = part;
    return 0;
}

/* Why a record cannot be applied at all (it goes to the dead-letter topic), or NULL. */
/* Whether any value of the record is longer than import.csv.max_field_bytes: the ingest never
 * sends one, and another producer's 3 MB first name must not reach the directory. */
static bool oversized(const struct config *cfg, const struct user_record *r)
{
    size_t max = cfg->import.csv.max_field_bytes;
    const char *one[] = {r->firstname, r->lastname, r->username,     r->email,
                         r->birthday,  r->school,   r->password_hash};
    for (size_t i = 0; i < sizeof(one) / sizeof(*one); i++) {
        if (one[i] && strlen(one[i]) > max)
            return true;
    }
    for (size_t i = 0; i < r->n_classes; i++) {
        if (strlen(r->classes[i]) > max)
            return true;
    }
    for (size_t i = 0; i < r->n_extra; i++) {
        for (size_t k = 0; k < r->extra[i].n_values; k++) {
            if (strlen(r->extra[i].values[k]) > max)
                return true;
        }
    }
    return false;
}

static const char *invalid_record(const struct config *cfg, const struct user_record *r)
{
    if (!str_is_school_name(r->school))
        return "school is not a valid school name";
    if (strcasecmp(r->school, cfg->import.limbo_ou) == 0)
        return "school is the limbo OU";
    if (!*r->record_uid || !*r->source_uid || !*r->import_id)
        return "empty record_uid, source_uid or import_id";
    if (!*r->firstname || !*r->lastname)
        return "empty firstname or lastname";
    if (strlen(r->record_uid) > 255 || strlen(r->source_uid) > 128)
        return "record_uid longer than 255 or source_uid longer than 128 bytes";
    if (oversized(cfg, r))
        return "a value is longer than import.csv.max_field_bytes";
    return NULL;
}

static int handle_record(struct batch *b, const rd_kafka_message_t *m, struct users_msg *u)
{
    struct reconcile_core *c = b->core;
    const struct user_record *r = &u->u.user;
    char err[256];
    struct import_state is;
    if (get_import(b, m->partition, r->import_id, &is, false, NULL) < 0)
        return -1;
    if (is.import_id == NULL) { /* first record of this import in this partition */
        memset(&is, 0, sizeof(is));
        is.import_id = xstrdup(r->import_id);
        is.source_uid = xstrdup(r->source_uid);
        is.school = xstrdup(r->school);
        is.role = r->role;
        is.first_offset = m->offset;
        is.ended_at_offset = is.expected_records = -1;
        is.dry_run = r->dry_run;
    }
    int added = state_seen_add(b->txn, m->partition, r->import_id, r->record_uid, err, sizeof(err));
    if (added < 0) {
        import_state_free(&is);
        snprintf(b->err, sizeof(b->err), "state: %s", err);
        return -1;
    }
    is.records_seen += added == 1;
    is.last_offset = m->offset;
    int rc = put_import(b, m->partition, &is);
    import_state_free(&is);
    if (rc < 0 || wave_add_check(b, r->record_uid, m->offset) < 0)
        return -1;

    struct person before;
    struct person_plan plan;
    bool rebase;
    int g = get_person(b, m->partition, r->record_uid, m->offset, &before, &rebase);
    if (g < 0)
        return -1;
    rebase = rebase && !r->dry_run;
    enum plan_action a = plan_user_record(c->cfg, g == 0 ? &before : NULL, r, &plan);
    if (a == PLAN_NONE && !rebase) {
        c->unchanged++;
        person_plan_free(&plan);
        if (g == 0)
            person_free(&before);
        return bump_count(b, m->partition, r->import_id, COUNT_UNCHANGED);
    }
    struct item *it = new_item(b, ITEM_RECORD, m->partition, m->offset, r->import_id, r->dry_run);
    it->record = r;
    it->job.plan = plan;
    it->rebase = rebase;
    if (g == 0) {
        it->before = before;
        it->has_before = true;
    }
    if (a == PLAN_NONE) { /* a suspect the record does not change: make its entry right */
        person_plan_free(&it->job.plan);
        plan_keep(c->cfg, &it->before, &it->job.plan);
        it->keep = true;
    }
    if (a == PLAN_REJECT) {
        person_event(b, it, EVENT_REJECTED, it->job.plan.reason);
        item_free(it);
        b->n_items--;
        return bump_count(b, m->partition, r->import_id, COUNT_ERRORS);
    }
    return 0;
}

/* The record_uids of an import in a partition, re-read from the topic (the local bookkeeping
 * was lost or the partition came from another reconciler). */
struct replay_ctx {
    struct batch *b;
    int32_t partition;
    const char *import_id;
    int64_t found;
    int fail;
};

static int replay_one(const rd_kafka_message_t *m, void *opaque)
{
    struct replay_ctx *x = opaque;
    struct users_msg u;
    char err[256];
    if (users_msg_decode(m->payload, m->len, &u, err, sizeof(err)) == 0 &&
        u.type == USERS_MSG_USER_RECORD && strcmp(u.u.user.import_id, x->import_id) == 0) {
        int added = state_seen_add(x->b->txn, x->partition, x->import_id, u.u.user.record_uid, err,
                                   sizeof(err));
        if (added < 0)
            x->fail = 1;
        x->found += added == 1;
    }
    users_msg_free(&u);
    return x->fail;
}

static int replay_import(struct batch *b, const rd_kafka_message_t *m, const struct import_end *e,
                         struct import_state *is)
{
    struct replay_ctx x = {b, m->partition, e->import_id, 0, 0};
    char err[512];
    int rc = topic_read_range(b->core->cfg, b->topic, m->partition, e->first_offset, m->offset,
                              REPLAY_MS, replay_one, &x, err, sizeof(err));
    if (rc != 0) {
        snprintf(b->err, sizeof(b->err), "re-reading import %.40s: %.400s", e->import_id,
                 x.fail ? "state error" : err);
        return -1;
    }
    is->records_seen += x.found;
    log_kv(LEVEL_INFO, "import_replayed", "import_id", e->import_id, NULL);
    return 0;
}

/* The persons of source/school/role in a partition that the import did not list. */
struct unseen {
    char **uids;
    size_t n, cap;
};

static int collect_uid(const char *uid, void *opaque)
{
    struct unseen *u = opaque;
    if (u->n == u->cap) {
        u->cap = u->cap ? 2 * u->cap : 64;
        u->uids = xrealloc(u->uids, u->cap * sizeof(char *));
    }
    u->uids[u->n++] = xstrdup(uid);
    return 0;
}

static void unseen_free(struct unseen *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->uids[i]);
    free(u->uids);
}

/* Takes school away from every unseen person (waves of removals). */
static int remove_unseen(struct batch *b, const rd_kafka_message_t *m,
                         const struct import_state *is, const struct unseen *u, int64_t produced_at)
{
    for (size_t i = 0; i < u->n; i++) {
        if (wave_add_check(b, u->uids[i], m->offset) < 0)
            return -1;
        struct person before;
        bool rebase;
        int g = get_person(b, m->partition, u->uids[i], m->offset, &before, &rebase);
        if (g < 0)
            return -1;
        if (g == 1)
            continue;
        struct item *it =
            new_item(b, ITEM_REMOVE, m->partition, m->offset, is->import_id, is->dry_run);
        it->before = before;
        it->has_before = true;
        it->school = xstrdup(is->school);
        it->rebase = rebase && !is->dry_run;
        if (plan_remove_school(b->core->cfg, &it->before, is->school, produced_at, &it->job.plan) ==
            PLAN_NONE) {
            if (it->rebase) { /* a suspect the removal does not change: make its entry right */
                person_plan_free(&it->job.plan);
                plan_keep(b->core->cfg, &it->before, &it->job.plan);
                it->keep = true;
            } else {
                item_free(it);
                b->n_items--;
            }
        }
    }
    return flush_wave(b);
}

static void import_event(struct batch *b, const rd_kafka_message_t *m,
                         const struct import_state *is, enum event_type t, const char *reason)
{
    struct event *e = new_event(b, t, m->partition, m->offset);
    e->import_id = xstrdup(is->import_id);
    e->source_uid = xstrdup(is->source_uid);
    e->school = xstrdup(is->school);
    e->has_role = true;
    e->role = is->role;
    e->reason = dup_or_null(reason);
    e->has_counts = true;
    e->counts = is->counts;
    e->counts.records = is->records_seen;
    e->dry_run = is->dry_run;
    b->core->totals[t]++;
}

/* The removals of an import whose records are all here; held when the guard trips. */
static int finish_import(struct batch *b, const rd_kafka_message_t *m, struct import_state *is,
                         bool released)
{
    const struct config *cfg = b->core->cfg;
    struct unseen u = {0};
    size_t members = 0;
    char err[256], why[300];
    if (state_member_count(b->txn, m->partition, is->source_uid, is->school, is->role, &members,
                           err, sizeof(err)) < 0 ||
        state_members_unseen_each(b->txn, m->partition, is->source_uid, is->school, is->role,
                                  is->import_id, collect_uid, &u, err, sizeof(err)) < 0) {
        snprintf(b->err, sizeof(b->err), "state: %s", err);
        unseen_free(&u);
        return -1;
    }
    const struct import_config *im = &cfg->import;
    bool too_many = (int64_t)u.n > im->deletion_guard_count ||
                    (double)u.n > im->deletion_guard_ratio * (double)members;
    int rc = 0;
    if (!released && u.n > 0 && too_many) {
        snprintf(why, sizeof(why),
                 "would take %s from %zu of its %zu %s (deletion guard: at most %" PRId64
                 " and %.0f%%); release with: sisopi-admin release %s",
                 is->school, u.n, members, role_name(is->role), im->deletion_guard_count,
                 im->deletion_guard_ratio * 100, is->import_id);
        is->status = STATE_IMPORT_HELD;
        import_event(b, m, is, EVENT_IMPORT_HELD, why);
        log_kv(LEVEL_WARN, "import_held", "import_id", is->import_id, "reason", why, NULL);
        rc = put_import(b, m->partition, is);
    } else {
        rc = remove_unseen(b, m, is, &u, is->produced_at_ms);
        if (rc == 0) {
            struct import_state fresh;
            if (get_import(b, m->partition, is->import_id, &fresh, false, NULL) == 0) {
                import_state_free(is);
                *is = fresh;
            }
            import_event(b, m, is, released ? EVENT_IMPORT_RELEASED : EVENT_IMPORT_COMPLETED, NULL);
            size_t cleared;
            if (state_seen_clear(b->txn, m->partition, is->import_id, &cleared, err, sizeof(err)) <
                0) {
                snprintf(b->err, sizeof(b->err), "state: %s", err);
                rc = -1;
            } else if (import_del(b, m->partition, is->import_id) < 0) {
                rc = -1;
            }
        }
    }
    unseen_free(&u);
    return rc;
}

static int handle_import_end(struct batch *b, const rd_kafka_message_t *m, struct users_msg *u)
{
    const struct import_end *e = &u->u.end;
    struct import_state is;
    char err[256], why[300];
    if (flush_wave(b) < 0 || get_import(b, m->partition, e->import_id, &is, true, e) < 0)
        return -1;
    int rc = 0;
    if (is.status != STATE_IMPORT_OPEN) /* seen before (a replay): decided already */
        goto out;
    is.ended_at_offset = m->offset;
    is.expected_records = e->record_count;
    is.produced_at_ms = e->produced_at_ms;
    if (is.records_seen != e->record_count && e->first_offset >= 0) {
        if ((rc = replay_import(b, m, e, &is)) < 0)
            goto out;
    }
    for (size_t i = 0; i < e->n_kept; i++) { /* listed, but their rows were bad: keep them */
        if (state_seen_add(b->txn, m->partition, e->import_id, e->kept_record_uids[i], err,
                           sizeof(err)) < 0) {
            snprintf(b->err, sizeof(b->err), "state: %s", err);
            rc = -1;
            goto out;
        }
    }
    if (is.records_seen != e->record_count) {
        snprintf(why, sizeof(why),
                 "partition %d holds %" PRId64 " of the import's %" PRId64
                 " records: nobody is removed",
                 m->partition, is.records_seen, e->record_count);
        is.status = STATE_IMPORT_INCOMPLETE;
        import_event(b, m, &is, EVENT_IMPORT_INCOMPLETE, why);
        log_kv(LEVEL_ERROR, "import_incomplete", "import_id", e->import_id, "reason", why, NULL);
        size_t cleared;
        if (state_seen_clear(b->txn, m->partition, e->import_id, &cleared, err, sizeof(err)) < 0) {
            snprintf(b->err, sizeof(b->err), "state: %s", err);
            rc = -1;
        } else if (import_del(b, m->partition, e->import_id) < 0) {
            rc = -1;
        }
        goto out;
    }
    if ((rc = put_import(b, m->partition, &is)) == 0)
        rc = finish_import(b, m, &is, false);
out:
    import_state_free(&is);
    return rc;
}

static int handle_release(struct batch *b, const rd_kafka_message_t *m, struct users_msg *u)
{
    struct import_state is;
    if (flush_wave(b) < 0)
        return -1;
    int g = get_import(b, m->partition, u->u.release.import_id, &is, false, NULL);
    if (g != 0)
        return g < 0 ? -1 : 0; /* nothing held here */
    int rc = 0;
    if (is.status == STATE_IMPORT_HELD) {
        log_kv(LEVEL_WARN, "import_released", "import_id", is.import_id, "released_by",
               u->u.release.released_by, NULL);
        rc = finish_import(b, m, &is, true);
    }
    import_state_free(&is);
    return rc;
}

static int handle_purge(struct batch *b, const rd_kafka_message_t *m, struct users_msg *u)
{
    const struct purge_due *pd = &u->u.purge;
    if (wave_add_check(b, pd->record_uid, m->offset) < 0)
        return -1;
    struct person before;
    bool rebase;
    int g = get_person(b, m->partition, pd->record_uid, m->offset, &before, &rebase);
    if (g < 0)
        return -1;
    if (g == 1) { /* purged already (a repeated order), or never known here */
        log_kv(LEVEL_INFO, "purge_skipped", "record_uid", pd->record_uid, "msg", "unknown person",
               NULL);
        b->core->purges_skipped++;
        return 0;
    }
    /* Only a person still in limbo with that very purge date goes: one who came back, or
     * whose date moved, stays. Dates compare by the second, all the directory holds. An
     * order ahead of its date (a wrong clock, a hand-made message) waits for the next one:
     * never a day early. */
    const char *why = NULL;
    if (!before.limbo)
        why = "not in limbo";
    else if (before.purge_at_ms / 1000 != pd->purge_at_ms / 1000)
        why = "another purge date";
    else if (pd->purge_at_ms > clock_wall_ms())
        why = "purge date not reached";
    if (why) {
        char at[24];
        snprintf(at, sizeof(at), "%" PRId64, pd->purge_at_ms);
        log_kv(why[0] == 'p' ? LEVEL_WARN : LEVEL_INFO, "purge_skipped", "record_uid",
               pd->record_uid, "purge_at_ms", at, "msg", why, NULL);
        b->core->purges_skipped++;
        person_free(&before);
        return 0;
    }
    struct item *it = new_item(b, ITEM_PURGE, m->partition, m->offset, NULL, false);
    it->before = before;
    it->has_before = true;
    it->rebase = rebase;
    it->job.plan.action = PLAN_MODIFY;
    person_copy(&it->job.plan.after, &before);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* the batch                                                                                */

static int handle(struct batch *b, const rd_kafka_message_t *m)
{
    struct reconcile_core *c = b->core;
    char err[256];
    int64_t next = 0;
    if (state_offset_get(b->txn, m->partition, &next, err, sizeof(err)) < 0) {
        snprintf(b->err, sizeof(b->err), "state: %s", err);
        return -1;
    }
    if (m->offset < next)
        return 0; /* applied before a crash, Kafka's commit did not follow */
    /* Decoded messages live until the batch ends: wave items borrow their records. */
    b->decoded = xrealloc(b->decoded, (b->n_decoded + 1) * sizeof(*b->decoded));
    struct users_msg *um = b->decoded[b->n_decoded++] = xcalloc(1, sizeof(struct users_msg));
    const char *invalid = NULL;
    char misplaced[300];
    int rc = 0;
    if (users_msg_decode(m->payload, m->len, um, err, sizeof(err)) < 0) {
        invalid = err;
    } else {
        if (um->type == USERS_MSG_USER_RECORD)
            invalid = invalid_record(c->cfg, &um->u.user);
        /* A person's message in another partition would act on no state (a second account)
         * or on another reconciler's. */
        if (!invalid)
            invalid = users_msg_misplaced(um, m->key, m->key_len, m->partition,
                                          c->cfg->kafka.partitions, misplaced, sizeof(misplaced));
    }
    if (invalid) {
        char why[300];
        snprintf(why, sizeof(why), "%s", invalid);
        char where[48];
        snprintf(where, sizeof(where), "%" PRId32 ":%" PRId64, m->partition, m->offset);
        log_kv(LEVEL_WARN, "dead_letter", "at", where, "reason", why, NULL);
        if (event_sink_dead_letter(c->events, m, why, err, sizeof(err)) < 0) {
            snprintf(b->err, sizeof(b->err), "dead letter: %s", err);
            b->lost = true; /* the broker: retry */
            rc = -1;
        } else {
            c->dead_letters++; /* once, not once per retry */
        }
    } else {
        switch (um->type) {
        case USERS_MSG_USER_RECORD:
            rc = handle_record(b, m, um);
            break;
        case USERS_MSG_IMPORT_END:
            rc = handle_import_end(b, m, um);
            break;
        case USERS_MSG_IMPORT_RELEASE:
            rc = handle_release(b, m, um);
            break;
        case USERS_MSG_PURGE_DUE:
            rc = handle_purge(b, m, um);
            break;
        }
    }
    if (rc == 0 && state_offset_put(b->txn, m->partition, m->offset + 1, err, sizeof(err)) < 0) {
        snprintf(b->err, sizeof(b->err), "state: %s", err);
        rc = -1;
    }
    return rc;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n_items; i++)
        item_free(&b->items[i]);
    free(b->items);
    for (size_t i = 0; i < b->n_events; i++)
        event_free(&b->events[i]);
    free(b->events);
    for (size_t i = 0; i < b->n_decoded; i++) {
        users_msg_free(b->decoded[i]);
        free(b->decoded[i]);
    }
    free(b->decoded);
    uid_set_free(b->in_wave);
    uid_set_free(b->touched);
    import_cache_drop(b);
}

/* Produces the batch's events and waits until the broker has them all. */
static int publish_events(struct batch *b)
{
    char err[256];
    for (size_t i = 0; i < b->n_events; i++) {
        if (event_sink_emit(b->core->events, &b->events[i], err, sizeof(err)) < 0) {
            log_kv(LEVEL_ERROR, "event_not_encoded", "error", err, NULL);
            continue; /* a bug, not an outage: do not block the partition on it */
        }
    }
    if (event_sink_flush(b->core->events, 30000, err, sizeof(err)) < 0) {
        snprintf(b->err, sizeof(b->err), "events: %s", err);
        return -1;
    }
    return 0;
}

enum reconcile_rc reconcile_batch(struct reconcile_core *core, rd_kafka_message_t **msgs, size_t n,
                                  char *err, size_t errn)
{
    struct batch b = {.core = core, .in_wave = uid_set_new(), .touched = uid_set_new()};
    enum reconcile_rc rc = RECONCILE_OK;
    char e[256];
    b.topic = core->cfg->kafka.topic_users;
    if (state_txn_begin(core->state, true, &b.txn, e, sizeof(e)) < 0) {
        snprintf(err, errn, "state: %s", e);
        batch_free(&b);
        return RECONCILE_FATAL;
    }
    int hrc = 0;
    double t0 = clock_mono_s();
    for (size_t i = 0; i < n && hrc == 0; i++)
        hrc = handle(&b, msgs[i]);
    if (hrc == 0)
        hrc = flush_wave(&b);
    if (hrc == 0)
        hrc = import_cache_flush(&b);
    double t1 = clock_mono_s();
    if (hrc < 0) {
        /* Nothing is saved: every person the batch touched may be half-changed, and its
         * change is carried out against its entry as it is on the retry. The events of what
         * did reach the directory come then, planned from the same state again. */
        rc = b.lost ? RECONCILE_RETRY : RECONCILE_FATAL;
        if (b.lost)
            reconcile_add_suspects(core, b.touched);
        snprintf(err, errn, "%s", b.err[0] ? b.err : "the directory connection was lost");
        state_txn_abort(b.txn);
    } else if (publish_events(&b) < 0) {
        rc = RECONCILE_RETRY;
        reconcile_add_suspects(core, b.touched);
        snprintf(err, errn, "%s", b.err);
        state_txn_abort(b.txn);
    } else if (state_txn_commit(b.txn, e, sizeof(e)) < 0) {
        rc = RECONCILE_FATAL;
        snprintf(err, errn, "state commit: %s", e);
    } else {
        failpoint("batch_saved");
        reconcile_settle_suspects(core);
        core->messages += (int64_t)n;
    }
    if (log_enabled(LEVEL_DEBUG)) {
        char sw[24], sp[24];
        snprintf(sw, sizeof(sw), "%.3f", t1 - t0);
        snprintf(sp, sizeof(sp), "%.3f", clock_mono_s() - t1);
        log_kv(LEVEL_DEBUG, "batch_parts", "waves_s", sw, "events_and_commit_s", sp, NULL);
    }
    uid_set_free(core->resolved);
    core->resolved = uid_set_new();
    batch_free(&b);
    return rc;
}
