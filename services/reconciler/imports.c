/*
 * imports: each import's bookkeeping in a partition (the records seen, the counts), its end
 * marker (complete, incomplete, held by the deletion guard), its release, and the removals of
 * the persons it did not list.
 */
#include "reconcile_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "avro_codec.h"
#include "deletion_guard.h"
#include "log.h"
#include "plan.h"
#include "topic_reader.h"

#define REPLAY_MS 60000

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
int imports_cache_flush(struct batch *b)
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
void imports_cache_drop(struct batch *b)
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
    if (imports_cache_flush(b) < 0)
        return -1;
    imports_cache_drop(b);
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
        imports_cache_drop(b);
    if (state_import_del(b->txn, partition, import_id, err, sizeof(err)) < 0) {
        snprintf(b->err, sizeof(b->err), "state: %s", err);
        return -1;
    }
    return 0;
}

/* Counts one outcome in the import's bookkeeping (for its ImportCompleted). */
int imports_bump(struct batch *b, int32_t partition, const char *import_id, enum count_kind kind)
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

int imports_count_outcome(struct batch *b, const struct item *it, bool ok)
{
    enum count_kind k = !ok ? COUNT_ERRORS
                        : it->kind == ITEM_REMOVE
                            ? (it->job.plan.after.limbo ? COUNT_LIMBO : COUNT_REMOVED)
                        : it->job.plan.action == PLAN_CREATE ? COUNT_CREATED
                                                             : COUNT_MODIFIED;
    return imports_bump(b, it->partition, it->import_id, k);
}

int imports_get(struct batch *b, int32_t part, const char *import_id, struct import_state *s,
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

int imports_put(struct batch *b, int32_t part, const struct import_state *s)
{
    if (!import_cached(b, part, s->import_id)) {
        if (imports_cache_flush(b) < 0)
            return -1;
        imports_cache_drop(b);
    } else {
        import_state_free(&b->ic.s);
    }
    import_state_copy(&b->ic.s, s);
    b->ic.valid = b->ic.dirty = true;
    b->ic.partition = part;
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
        if (wave_add(b, u->uids[i], m->offset) < 0)
            return -1;
        struct person before;
        bool rebase;
        int g = wave_get_person(b, m->partition, u->uids[i], m->offset, &before, &rebase);
        if (g < 0)
            return -1;
        if (g == 1)
            continue;
        struct item *it =
            wave_item_new(b, ITEM_REMOVE, m->partition, m->offset, is->import_id, is->dry_run);
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
                wave_item_free(it);
                b->n_items--;
            }
        }
    }
    return wave_flush(b);
}

static void import_event(struct batch *b, const rd_kafka_message_t *m,
                         const struct import_state *is, enum event_type t, const char *reason)
{
    struct event *e = batch_new_event(b, t, m->partition, m->offset);
    e->import_id = xstrdup(is->import_id);
    e->source_uid = xstrdup(is->source_uid);
    e->school = xstrdup(is->school);
    e->has_role = true;
    e->role = is->role;
    e->reason = strdup_or_null(reason);
    e->has_counts = true;
    e->counts = is->counts;
    e->counts.records = is->records_seen;
    e->dry_run = is->dry_run;
    b->core->totals[t]++;
}

/* Counts the suspects among the unseen whose entry is without the school already (or gone): a
 * member that died after taking the school away, under the guard as it was then, made the
 * removal; re-processing it must not hold it now (a changed guard, a release in between). */
struct done_ctx {
    const char *school;
    size_t done, found;
};

static void count_done(struct person_entry *e, void *opaque)
{
    struct done_ctx *d = opaque;
    const struct attr_values *v = attr_list_get(&e->managed, "ucsschoolSchool");
    bool has = false;
    for (size_t i = 0; v && i < v->n_values && !has; i++)
        has = strcasecmp(v->values[i], d->school) == 0;
    d->done += !has;
    d->found++;
    person_entry_free(e);
}

static int removals_done(struct batch *b, const rd_kafka_message_t *m,
                         const struct import_state *is, const struct unseen *u, size_t *done)
{
    struct reconcile_core *c = b->core;
    const char **rids = xcalloc(u->n + 1, sizeof(char *));
    const char **sids = xcalloc(u->n + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < u->n; i++) {
        if (reconcile_is_suspect(c, u->uids[i], m->offset)) {
            rids[n] = u->uids[i];
            sids[n++] = is->source_uid;
        }
    }
    struct done_ctx d = {.school = is->school};
    char err[256];
    int rc =
        n ? person_ldap_fetch(c->ldap, c->cfg, sids, rids, n, count_done, &d, err, sizeof(err)) : 0;
    free(rids);
    free(sids);
    if (rc < 0) {
        b->lost = dir_conn_is_down(c->ldap);
        snprintf(b->err, sizeof(b->err), "reading suspects back: %s", err);
        return -1;
    }
    /* A suspect whose entry is gone lost the school too. */
    *done = d.done + (d.found < n ? n - d.found : 0);
    return 0;
}

/* The removals of an import whose records are all here; held when the guard says so. The
 * marker's decision (e->has_guard: the producer's, for the whole import) is the same in every
 * partition; without one, this partition's part is checked alone. e is NULL on a release. */
static int finish_import(struct batch *b, const rd_kafka_message_t *m, struct import_state *is,
                         const struct import_end *e)
{
    const struct config *cfg = b->core->cfg;
    bool released = e == NULL;
    struct unseen u = {0};
    size_t members = 0;
    char err[256];
    char *why = NULL;
    if (state_member_count(b->txn, m->partition, is->source_uid, is->school, is->role, &members,
                           err, sizeof(err)) < 0 ||
        state_members_unseen_each(b->txn, m->partition, is->source_uid, is->school, is->role,
                                  is->import_id, collect_uid, &u, err, sizeof(err)) < 0) {
        snprintf(b->err, sizeof(b->err), "state: %s", err);
        unseen_free(&u);
        return -1;
    }
    const struct import_config *im = &cfg->import;
    bool too_many = false;
    if (released) {
        /* an operator's release: every removal goes */
    } else if (e->has_guard) {
        too_many = e->guard.held;
        if (too_many)
            why = e->guard.reason
                      ? xstrdup(e->guard.reason)
                      : deletion_guard_reason(im, is->school, is->role, e->guard.removals,
                                              e->guard.members, is->import_id);
    } else {
        size_t done = 0;
        if (!is->dry_run && u.n > 0 && removals_done(b, m, is, &u, &done) < 0) {
            unseen_free(&u);
            return -1;
        }
        too_many = deletion_guard_trips(im, (int64_t)(u.n - done), (int64_t)members);
        if (too_many)
            why = deletion_guard_reason(im, is->school, is->role, (int64_t)(u.n - done),
                                        (int64_t)members, is->import_id);
    }
    int rc = 0;
    if (too_many) {
        is->status = STATE_IMPORT_HELD;
        import_event(b, m, is, EVENT_IMPORT_HELD, why);
        log_kv(LEVEL_WARN, "import_held", "import_id", is->import_id, "reason", why, NULL);
        rc = imports_put(b, m->partition, is);
    } else {
        rc = remove_unseen(b, m, is, &u, is->produced_at_ms);
        if (rc == 0) {
            struct import_state fresh;
            if (imports_get(b, m->partition, is->import_id, &fresh, false, NULL) == 0) {
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
    free(why);
    unseen_free(&u);
    return rc;
}

int imports_handle_end(struct batch *b, const rd_kafka_message_t *m, struct users_msg *u)
{
    const struct import_end *e = &u->u.end;
    struct import_state is;
    char err[256], why[300];
    if (wave_flush(b) < 0 || imports_get(b, m->partition, e->import_id, &is, true, e) < 0)
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
    if ((rc = imports_put(b, m->partition, &is)) == 0)
        rc = finish_import(b, m, &is, e);
out:
    import_state_free(&is);
    return rc;
}

int imports_handle_release(struct batch *b, const rd_kafka_message_t *m, struct users_msg *u)
{
    struct import_state is;
    if (wave_flush(b) < 0)
        return -1;
    int g = imports_get(b, m->partition, u->u.release.import_id, &is, false, NULL);
    if (g != 0)
        return g < 0 ? -1 : 0; /* nothing held here */
    int rc = 0;
    if (is.status == STATE_IMPORT_HELD) {
        log_kv(LEVEL_WARN, "import_released", "import_id", is.import_id, "released_by",
               u->u.release.released_by, NULL);
        rc = finish_import(b, m, &is, NULL);
    }
    import_state_free(&is);
    return rc;
}
