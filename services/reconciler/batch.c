/*
 * batch: a batch of sisopi.users in order: each message to its handler (records and purges
 * here, import ends and releases in imports.c), the batch's events produced, the state saved.
 */
#include "reconcile_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "avro_codec.h"
#include "clock.h"
#include "failpoint.h"
#include "log.h"
#include "plan.h"

_Static_assert(RECORD_DIGEST_LEN == STATE_DIGEST_LEN, "the store keeps record digests as they are");

struct event *batch_new_event(struct batch *b, enum event_type t, int32_t partition, int64_t offset)
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

/* The event of an applied (or, in a dry run, planned) change of one person. */
void batch_person_event(struct batch *b, const struct item *it, enum event_type t,
                        const char *reason)
{
    const struct person *after = &it->job.plan.after;
    const struct person *p = it->has_before ? &it->before : after;
    struct event *e = batch_new_event(b, t, it->partition, it->offset);
    e->record_uid = xstrdup(p->record_uid);
    e->import_id = strdup_or_null(it->import_id);
    e->cause = it->kind == ITEM_PURGE ? xstrdup("purge") : NULL;
    e->source_uid = xstrdup(p->source_uid);
    e->school = it->record ? xstrdup(it->record->school) : strdup_or_null(it->school);
    e->has_role = true;
    e->role = p->role;
    e->dn_before = it->has_before ? strdup_or_null(it->before.dn) : NULL;
    e->dn_after = it->kind == ITEM_PURGE ? NULL : strdup_or_null(after->dn);
    e->reason = strdup_or_null(reason);
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
/* records and purges                                                                       */

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
    if (imports_get(b, m->partition, r->import_id, &is, false, NULL) < 0)
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
    int rc = imports_put(b, m->partition, &is);
    import_state_free(&is);
    if (rc < 0)
        return -1;

    /* A record the person's stored state has seen change nothing: known by its digest, without
     * decoding the person or planning (a night where little changed is mostly these). A person
     * with a change in the current wave has a stored state that is not current yet: planned. */
    unsigned char digest[STATE_DIGEST_LEN] = {0};
    bool suspect = reconcile_is_suspect(c, r->record_uid, m->offset) && !r->dry_run;
    if (!suspect) {
        record_digest(&c->digest, r, digest);
        int h = uid_set_has(b->in_wave, r->record_uid)
                    ? 0
                    : state_person_noop_check(b->txn, m->partition, r->record_uid, digest, err,
                                              sizeof(err));
        if (h < 0) {
            snprintf(b->err, sizeof(b->err), "state: %s", err);
            return -1;
        }
        if (h == 1) { /* nothing written: not a person of the wave */
            c->unchanged++;
            c->unchanged_by_digest++;
            return imports_bump(b, m->partition, r->import_id, COUNT_UNCHANGED);
        }
    }
    if (wave_add(b, r->record_uid, m->offset) < 0)
        return -1;

    struct person before;
    struct person_plan plan;
    bool rebase;
    int g = wave_get_person(b, m->partition, r->record_uid, m->offset, &before, &rebase);
    if (g < 0)
        return -1;
    rebase = rebase && !r->dry_run;
    enum plan_action a = plan_user_record(c->cfg, g == 0 ? &before : NULL, r, &plan);
    if (a == PLAN_NONE && !rebase) {
        c->unchanged++;
        person_plan_free(&plan);
        if (g == 0)
            person_free(&before);
        /* Seen to change nothing: the next time, the digest says so. */
        if (g == 0 && !r->dry_run &&
            state_person_noop_add(b->txn, m->partition, r->record_uid, digest, err, sizeof(err)) <
                0) {
            snprintf(b->err, sizeof(b->err), "state: %s", err);
            return -1;
        }
        return imports_bump(b, m->partition, r->import_id, COUNT_UNCHANGED);
    }
    struct item *it =
        wave_item_new(b, ITEM_RECORD, m->partition, m->offset, r->import_id, r->dry_run);
    it->record = r;
    memcpy(it->digest, digest, sizeof(it->digest));
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
        batch_person_event(b, it, EVENT_REJECTED, it->job.plan.reason);
        wave_item_free(it);
        b->n_items--;
        return imports_bump(b, m->partition, r->import_id, COUNT_ERRORS);
    }
    return 0;
}

static int handle_purge(struct batch *b, const rd_kafka_message_t *m, struct users_msg *u)
{
    const struct purge_due *pd = &u->u.purge;
    if (wave_add(b, pd->record_uid, m->offset) < 0)
        return -1;
    struct person before;
    bool rebase;
    int g = wave_get_person(b, m->partition, pd->record_uid, m->offset, &before, &rebase);
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
    struct item *it = wave_item_new(b, ITEM_PURGE, m->partition, m->offset, NULL, false);
    it->before = before;
    it->has_before = true;
    it->rebase = rebase;
    it->job.plan.action = PLAN_MODIFY;
    person_copy(&it->job.plan.after, &before);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* the batch                                                                                */

/* The next offset the state expects in the message's partition: 0, or -1 (b->err). */
static int next_offset(struct batch *b, int32_t part, int64_t *next)
{
    char err[256];
    bool cached = part >= 0 && part < b->core->cfg->kafka.partitions;
    if (cached && b->next_offset[part] >= 0) {
        *next = b->next_offset[part];
        return 0;
    }
    *next = 0;
    if (state_offset_get(b->txn, part, next, err, sizeof(err)) < 0) {
        snprintf(b->err, sizeof(b->err), "state: %s", err);
        return -1;
    }
    if (cached)
        b->next_offset[part] = *next;
    return 0;
}

/* Records that the message at offset of part is applied (in the state when the batch ends). */
static int offset_done(struct batch *b, int32_t part, int64_t offset)
{
    char err[256];
    if (part >= 0 && part < b->core->cfg->kafka.partitions) {
        b->next_offset[part] = offset + 1;
        b->offset_dirty[part] = true;
        return 0;
    }
    if (state_offset_put(b->txn, part, offset + 1, err, sizeof(err)) < 0) {
        snprintf(b->err, sizeof(b->err), "state: %s", err);
        return -1;
    }
    return 0;
}

/* The batch's offsets into the state, once per partition. */
static int offsets_flush(struct batch *b)
{
    char err[256];
    for (int32_t p = 0; p < b->core->cfg->kafka.partitions; p++) {
        if (b->offset_dirty[p] &&
            state_offset_put(b->txn, p, b->next_offset[p], err, sizeof(err)) < 0) {
            snprintf(b->err, sizeof(b->err), "state: %s", err);
            return -1;
        }
        b->offset_dirty[p] = false;
    }
    return 0;
}

static int handle(struct batch *b, const rd_kafka_message_t *m)
{
    struct reconcile_core *c = b->core;
    char err[256];
    int64_t next = 0;
    if (next_offset(b, m->partition, &next) < 0)
        return -1;
    if (m->offset < next)
        return 0; /* applied before a crash, Kafka's commit did not follow */
    /* Decoded messages live until the batch ends: wave items borrow their records. */
    b->decoded = xrealloc(b->decoded, (b->n_decoded + 1) * sizeof(*b->decoded));
    struct users_msg *um = b->decoded[b->n_decoded++] = xcalloc(1, sizeof(struct users_msg));
    const char *invalid = NULL;
    enum dead_letter_kind kind = DEAD_LETTER_DECODE;
    char misplaced[300];
    int rc = 0;
    if (users_msg_decode(m->payload, m->len, um, err, sizeof(err)) < 0) {
        invalid = err;
    } else {
        kind = DEAD_LETTER_INVALID;
        if (um->type == USERS_MSG_USER_RECORD)
            invalid = invalid_record(c->cfg, &um->u.user);
        /* A person's message in another partition would act on no state (a second account)
         * or on another reconciler's. */
        if (!invalid) {
            kind = DEAD_LETTER_MISPLACED;
            invalid = users_msg_misplaced(um, m->key, m->key_len, m->partition,
                                          c->cfg->kafka.partitions, misplaced, sizeof(misplaced));
        }
    }
    if (invalid) {
        char why[300];
        snprintf(why, sizeof(why), "%s", invalid);
        char where[48];
        snprintf(where, sizeof(where), "%" PRId32 ":%" PRId64, m->partition, m->offset);
        log_kv(LEVEL_WARN, "dead_letter", "at", where, "reason", why, NULL);
        if (event_sink_dead_letter(c->events, m, kind, why, err, sizeof(err)) < 0) {
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
            rc = imports_handle_end(b, m, um);
            break;
        case USERS_MSG_IMPORT_RELEASE:
            rc = imports_handle_release(b, m, um);
            break;
        case USERS_MSG_PURGE_DUE:
            rc = handle_purge(b, m, um);
            break;
        }
    }
    return rc == 0 ? offset_done(b, m->partition, m->offset) : rc;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n_items; i++)
        wave_item_free(&b->items[i]);
    free(b->items);
    for (size_t i = 0; i < b->n_events; i++)
        event_free(&b->events[i]);
    free(b->events);
    for (size_t i = 0; i < b->n_decoded; i++) {
        users_msg_free(b->decoded[i]);
        free(b->decoded[i]);
    }
    free(b->decoded);
    free(b->next_offset);
    free(b->offset_dirty);
    uid_set_free(b->in_wave);
    uid_set_free(b->touched);
    imports_cache_drop(b);
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

/* Notes the imports the saved batch saw through to the end, for the last-success metric. A
 * held or incomplete import is not done; a dry run changed nothing. */
static void note_imports_done(struct reconcile_core *core, const struct batch *b)
{
    for (size_t i = 0; i < b->n_events; i++) {
        const struct event *e = &b->events[i];
        if ((e->type != EVENT_IMPORT_COMPLETED && e->type != EVENT_IMPORT_RELEASED) || e->dry_run ||
            !e->school || !e->has_role)
            continue;
        size_t k = 0;
        while (k < core->n_imports_done && (core->imports_done[k].role != e->role ||
                                            strcmp(core->imports_done[k].school, e->school) != 0))
            k++;
        if (k == core->n_imports_done) {
            core->imports_done = xrealloc(core->imports_done, (k + 1) * sizeof(struct import_done));
            core->imports_done[k] =
                (struct import_done){.school = xstrdup(e->school), .role = e->role, .at_ms = 0};
            core->n_imports_done++;
        }
        if (e->produced_at_ms > core->imports_done[k].at_ms)
            core->imports_done[k].at_ms = e->produced_at_ms;
    }
}

enum reconcile_rc reconcile_batch(struct reconcile_core *core, rd_kafka_message_t **msgs, size_t n,
                                  char *err, size_t errn)
{
    struct batch b = {.core = core, .in_wave = uid_set_new(), .touched = uid_set_new()};
    enum reconcile_rc rc = RECONCILE_OK;
    char e[256];
    b.topic = core->cfg->kafka.topic_users;
    size_t np = (size_t)core->cfg->kafka.partitions;
    b.next_offset = xmalloc(np * sizeof(*b.next_offset));
    for (size_t p = 0; p < np; p++)
        b.next_offset[p] = -1;
    b.offset_dirty = xcalloc(np, sizeof(*b.offset_dirty));
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
        hrc = wave_flush(&b);
    if (hrc == 0)
        hrc = imports_cache_flush(&b);
    if (hrc == 0)
        hrc = offsets_flush(&b);
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
        note_imports_done(core, &b);
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
