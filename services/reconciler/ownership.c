/*
 * ownership: who may trust which state slice, what a member reads from the journal
 * when it is given a partition, the repair of memberships a rebuild finds wrong, the marks of
 * the offset commits, the suspects, and the lock of the state directory.
 */
#include "reconcile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
#include "partitioner.h"
#include "person_ldap.h"
#include "plan.h"
#include "strutil.h"
#include "topic_reader.h"

#define JOURNAL_READ_MS 60000
#define REPAIR_WAVE     1000
#define REPAIRS_LOGGED  10 /* persons whose wrong memberships are logged one by one */

/* A journal entry of work no commit covered when this member read it. */
struct jrec {
    int64_t position;     /* its offset in the journal */
    int64_t input_offset; /* the sisopi.users offset of the message it is for */
};

struct part_journal {
    bool known;  /* read at this member's assignment of the partition */
    int64_t end; /* the journal offset after every entry this member knows of */
    struct jrec *recs;
    size_t n_recs;
    char owner[JOURNAL_OWNER_MAX]; /* this member's slice: store id and epoch */
};

/* ---------------------------------------------------------------------------------------- */
/* the core and the lock of its state directory                                            */

/* One state directory, one process: two members writing one LMDB environment would each
 * trust slices the other changed. The lock file holds the owner's pid, for the error. */
static int lock_state_dir(struct reconcile_core *core, const char *dir, char *err, size_t n)
{
    char *path = xasprintf("%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "";
        ssize_t r = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[r > 0 ? r : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, n,
                 "state directory %s is in use by another process (pid %s, see %s): every "
                 "reconciler needs a reconciler.state_dir of its own",
                 dir, pid[0] ? pid : "unknown", path);
        close(fd);
        free(path);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        log_kv(LEVEL_WARN, "lock_pid_not_written", "file", path, "error", strerror(errno), NULL);
    free(path);
    core->lock_fd = fd;
    return 0;
}

int reconcile_core_open(struct reconcile_core *core, const struct config *cfg, char *err, size_t n)
{
    char e[256];
    memset(core, 0, sizeof(*core));
    core->cfg = cfg;
    core->lock_fd = -1;
    core->suspects = uid_set_new();
    core->resolved = uid_set_new();
    core->journal = xcalloc((size_t)cfg->kafka.partitions, sizeof(*core->journal));
    if (state_store_open(cfg->reconciler.state_dir, STATE_STORE_DEFAULT_MAP_SIZE, true,
                         &core->state, e, sizeof(e)) < 0) {
        snprintf(err, n, "state store %s: %s", cfg->reconciler.state_dir, e);
        reconcile_core_close(core);
        return -1;
    }
    if (lock_state_dir(core, cfg->reconciler.state_dir, err, n) < 0) {
        reconcile_core_close(core);
        return -1;
    }
    unsigned char key[STATE_DIGEST_LEN];
    state_store_digest_key(core->state, key);
    record_digest_init(&core->digest, cfg, key);
    return 0;
}

void reconcile_core_close(struct reconcile_core *core)
{
    state_store_close(core->state);
    record_digest_free(&core->digest);
    uid_set_free(core->suspects);
    uid_set_free(core->resolved);
    for (int32_t p = 0; core->journal && p < core->cfg->kafka.partitions; p++)
        free(core->journal[p].recs);
    free(core->journal);
    for (size_t i = 0; i < core->n_imports_done; i++)
        free(core->imports_done[i].school);
    free(core->imports_done);
    if (core->lock_fd >= 0)
        close(core->lock_fd); /* releases the lock */
    memset(core, 0, sizeof(*core));
    core->lock_fd = -1;
}

int64_t reconcile_next_offset(struct reconcile_core *core, int32_t partition)
{
    struct state_txn *t;
    char err[256];
    int64_t next = 0;
    if (state_txn_begin(core->state, false, &t, err, sizeof(err)) < 0)
        return -1;
    if (state_offset_get(t, partition, &next, err, sizeof(err)) < 0)
        next = -1;
    state_txn_abort(t);
    return next;
}

struct open_count {
    size_t n;
};

static int count_open(const struct import_state *s, void *opaque)
{
    struct open_count *c = opaque;
    c->n += s->status == STATE_IMPORT_OPEN;
    return 0;
}

size_t reconcile_open_imports(struct reconcile_core *core, const int32_t *partitions, size_t n)
{
    struct state_txn *t;
    char err[256];
    struct open_count c = {0};
    if (state_txn_begin(core->state, false, &t, err, sizeof(err)) < 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        state_imports_each(t, partitions[i], count_open, &c, err, sizeof(err));
    state_txn_abort(t);
    return c.n;
}

/* ---------------------------------------------------------------------------------------- */
/* suspects                                                                                 */

bool reconcile_is_suspect(const struct reconcile_core *core, const char *rid, int64_t offset)
{
    int64_t from = uid_set_get(core->suspects, rid);
    return from > 0 && from - 1 <= offset && !uid_set_has(core->resolved, rid);
}

/* Adds rid as a suspect from 1 + offset `from1` on, or moves its start earlier. */
static void suspect_from(struct uid_set **suspects, const char *rid, int64_t from1);

struct suspects_copy {
    struct uid_set *into;
    const struct uid_set *other; /* add_suspects: touched; settle: resolved; release: NULL */
    const bool *drop_part;       /* release: partitions whose suspects go */
    int32_t partitions;
};

static void copy_earliest(const char *uid, int64_t from1, void *opaque)
{
    struct suspects_copy *c = opaque;
    int64_t other = uid_set_get(c->other, uid);
    uid_set_add(c->into, uid, other > 0 && other < from1 ? other : from1);
}

static void copy_new(const char *uid, int64_t from1, void *opaque)
{
    struct suspects_copy *c = opaque;
    if (!uid_set_has(c->other, uid)) /* here other is the old set */
        uid_set_add(c->into, uid, from1);
}

static void copy_unsettled(const char *uid, int64_t from1, void *opaque)
{
    struct suspects_copy *c = opaque;
    if (!uid_set_has(c->other, uid))
        uid_set_add(c->into, uid, from1);
}

static void copy_kept_partitions(const char *uid, int64_t from1, void *opaque)
{
    struct suspects_copy *c = opaque;
    int32_t p = partitioner_partition(uid, strlen(uid), c->partitions);
    if (!c->drop_part[p])
        uid_set_add(c->into, uid, from1);
}

void reconcile_add_suspects(struct reconcile_core *core, const struct uid_set *touched)
{
    struct suspects_copy c = {.into = uid_set_new(), .other = touched};
    uid_set_each_line(core->suspects, copy_earliest, &c);
    c.other = core->suspects;
    uid_set_each_line(touched, copy_new, &c);
    uid_set_free(core->suspects);
    core->suspects = c.into;
}

static void suspect_from(struct uid_set **suspects, const char *rid, int64_t from1)
{
    int64_t had = uid_set_get(*suspects, rid);
    if (had == 0) {
        uid_set_add(*suspects, rid, from1);
    } else if (from1 < had) {
        struct uid_set *one = uid_set_new();
        uid_set_add(one, rid, from1);
        struct suspects_copy c = {.into = uid_set_new(), .other = one};
        uid_set_each_line(*suspects, copy_earliest, &c);
        uid_set_free(one);
        uid_set_free(*suspects);
        *suspects = c.into;
    }
}

void reconcile_settle_suspects(struct reconcile_core *core)
{
    if (uid_set_count(core->resolved) == 0)
        return;
    struct suspects_copy c = {.into = uid_set_new(), .other = core->resolved};
    uid_set_each_line(core->suspects, copy_unsettled, &c);
    uid_set_free(core->suspects);
    core->suspects = c.into;
}

void reconcile_release_partitions(struct reconcile_core *core, const int32_t *partitions, size_t n)
{
    int32_t parts = core->cfg->kafka.partitions;
    bool *drop = xcalloc((size_t)parts, sizeof(bool));
    for (size_t i = 0; i < n; i++) {
        if (partitions[i] < 0 || partitions[i] >= parts)
            continue;
        drop[partitions[i]] = true;
        struct part_journal *pj = &core->journal[partitions[i]];
        free(pj->recs);
        memset(pj, 0, sizeof(*pj));
    }
    struct suspects_copy c = {.into = uid_set_new(), .drop_part = drop, .partitions = parts};
    uid_set_each_line(core->suspects, copy_kept_partitions, &c);
    uid_set_free(core->suspects);
    core->suspects = c.into;
    free(drop);
}

/* ---------------------------------------------------------------------------------------- */
/* commit marks                                                                             */

void reconcile_commit_mark(struct reconcile_core *core, int32_t partition, int64_t committed,
                           struct journal_mark *out)
{
    out->owner[0] = '\0';
    out->position = -1;
    if (partition < 0 || partition >= core->cfg->kafka.partitions)
        return;
    struct part_journal *pj = &core->journal[partition];
    if (!pj->known)
        return; /* the next owner reads the whole journal: slow, never wrong */
    int64_t mine = event_sink_journal_next(core->events, partition);
    if (mine > pj->end)
        pj->end = mine;
    int64_t pos = pj->end;
    size_t k = 0;
    for (size_t i = 0; i < pj->n_recs; i++) {
        if (pj->recs[i].input_offset < committed)
            continue; /* its message is committed now: settled */
        if (pj->recs[i].position < pos)
            pos = pj->recs[i].position;
        pj->recs[k++] = pj->recs[i];
    }
    pj->n_recs = k;
    snprintf(out->owner, sizeof(out->owner), "%s", pj->owner);
    out->position = pos;
}

/* ---------------------------------------------------------------------------------------- */
/* preparing assigned partitions                                                            */

/* What the journal says of the partitions being prepared. */
struct recovery {
    struct reconcile_core *core;
    const int64_t *from_offset; /* by partition: entries of messages from here on count */
    struct uid_set *first;      /* record_uid -> 1 + index in entries: the first entry wins */
    struct journal_entry *entries;
    int32_t *entry_part;
    size_t n, cap;
    size_t *count;   /* by partition: entries of uncommitted work */
    bool *undecoded; /* by partition */
};

static int recover_one(const rd_kafka_message_t *m, void *opaque)
{
    struct recovery *r = opaque;
    struct journal_entry e;
    char err[256];
    if (journal_entry_decode(m->key, m->key_len, m->payload, m->len, &e, err, sizeof(err)) < 0) {
        char at[48];
        snprintf(at, sizeof(at), "%" PRId32 ":%" PRId64, m->partition, m->offset);
        log_kv(LEVEL_ERROR, "journal_undecodable", "at", at, "error", err, NULL);
        r->undecoded[m->partition] = true;
        return 0;
    }
    if (e.input_offset < r->from_offset[m->partition]) {
        journal_entry_free(&e); /* work a commit covers */
        return 0;
    }
    struct part_journal *pj = &r->core->journal[m->partition];
    pj->recs = xrealloc(pj->recs, (pj->n_recs + 1) * sizeof(*pj->recs));
    pj->recs[pj->n_recs++] = (struct jrec){m->offset, e.input_offset};
    r->count[m->partition]++;
    if (uid_set_add(r->first, e.record_uid, (int64_t)r->n + 1) != 0) {
        journal_entry_free(&e); /* not the person's first: its state then is the first's */
        return 0;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->entries = xrealloc(r->entries, r->cap * sizeof(*r->entries));
        r->entry_part = xrealloc(r->entry_part, r->cap * sizeof(*r->entry_part));
    }
    r->entry_part[r->n] = m->partition;
    r->entries[r->n++] = e;
    return 0;
}

static void recovery_free(struct recovery *r)
{
    for (size_t i = 0; i < r->n; i++)
        journal_entry_free(&r->entries[i]);
    free(r->entries);
    free(r->entry_part);
    uid_set_free(r->first);
    free(r->count);
    free(r->undecoded);
}

struct rebuild_ctx {
    struct state_txn *txn;
    const bool *want; /* by partition */
    int32_t partitions;
    const struct uid_set *recovered; /* repaired by the re-processing of their messages */
    struct person *repair;
    size_t n_repair, cap_repair;
    size_t persons;
    char err[256];
};

static int rebuild_one(const struct person *p, const struct person_ldap_groups *g, void *opaque)
{
    struct rebuild_ctx *r = opaque;
    int32_t part = partitioner_partition(p->record_uid, strlen(p->record_uid), r->partitions);
    if (!r->want[part])
        return 0;
    r->persons++;
    if ((g->missing || g->extra || g->stale) && !uid_set_has(r->recovered, p->record_uid)) {
        if (r->n_repair < REPAIRS_LOGGED)
            log_kv(LEVEL_WARN, "memberships_wrong", "record_uid", p->record_uid, "dn", p->dn,
                   "groups", g->detail, NULL);
        if (r->n_repair == r->cap_repair) {
            r->cap_repair = r->cap_repair ? 2 * r->cap_repair : 16;
            r->repair = xrealloc(r->repair, r->cap_repair * sizeof(*r->repair));
        }
        person_copy(&r->repair[r->n_repair++], p);
    }
    return state_person_put(r->txn, part, p, r->err, sizeof(r->err)) < 0 ? -1 : 0;
}

/* Puts rebuilt persons whose groups do not hold them as they should into the groups they
 * belong to (by DN and uid), and out of the others (a member's group writes that failed, a
 * journal lost, a hand's change): no state changes, so no journal and no event. A connection
 * lost on the way leaves them suspects, repaired when next touched. */
static void repair_memberships(struct reconcile_core *core, struct person *v, size_t n)
{
    size_t done = 0;
    for (size_t i = 0; i < n; i += REPAIR_WAVE) {
        size_t m = n - i < REPAIR_WAVE ? n - i : REPAIR_WAVE;
        struct apply_job *jobs = xcalloc(m, sizeof(*jobs));
        for (size_t k = 0; k < m; k++) {
            struct apply_job *j = &jobs[k];
            j->kind = APPLY_PLAN;
            j->plan.action = PLAN_MODIFY;
            j->plan.event = EVENT_MODIFIED;
            person_copy(&j->plan.after, &v[i + k]);
            j->before = &v[i + k];
            j->resync_groups = true;
        }
        bool lost = apply_wave(core->applier, jobs, m) < 0;
        for (size_t k = 0; k < m; k++) {
            if (lost || !jobs[k].applied)
                suspect_from(&core->suspects, v[i + k].record_uid, 1);
            else
                done++;
            person_plan_free(&jobs[k].plan);
        }
        free(jobs);
        if (lost)
            break;
    }
    char nn[24], dd[24];
    snprintf(nn, sizeof(nn), "%zu", n);
    snprintf(dd, sizeof(dd), "%zu", done);
    log_kv(done == n ? LEVEL_INFO : LEVEL_WARN, "memberships_repaired", "persons", nn, "repaired",
           dd, NULL);
}

static void owner_token(struct reconcile_core *core, const struct state_partition_info *info,
                        char out[JOURNAL_OWNER_MAX])
{
    snprintf(out, JOURNAL_OWNER_MAX, "%016" PRIx64 ".%" PRIu64, state_store_id(core->state),
             info->epoch);
}

/* Reads the journal of the partitions from their marks' positions. Returns 0, or 1 with err
 * (the journal cannot be read now). lost[i]: entries the mark points at are gone. */
static int read_journal(struct reconcile_core *core, const int32_t *partitions,
                        const int64_t *committed, const struct journal_mark *marks, size_t n,
                        struct recovery *r, bool *lost, char *err, size_t errn)
{
    int32_t parts = core->cfg->kafka.partitions;
    int64_t *from_offset = xcalloc((size_t)parts, sizeof(int64_t));
    int64_t *from = xcalloc(n + 1, sizeof(int64_t)), *low = xcalloc(n + 1, sizeof(int64_t)),
            *high = xcalloc(n + 1, sizeof(int64_t));
    *r = (struct recovery){.core = core,
                           .from_offset = from_offset,
                           .first = uid_set_new(),
                           .count = xcalloc((size_t)parts, sizeof(size_t)),
                           .undecoded = xcalloc((size_t)parts, sizeof(bool))};
    for (size_t i = 0; i < n; i++) {
        struct part_journal *pj = &core->journal[partitions[i]];
        free(pj->recs);
        memset(pj, 0, sizeof(*pj));
        from_offset[partitions[i]] = committed[i] < 0 ? 0 : committed[i];
        from[i] = marks[i].position; /* -1 (no mark): from the beginning */
    }
    char e[512];
    int rc = topic_read_partitions(core->cfg, core->cfg->kafka.topic_journal, partitions, from, n,
                                   low, high, JOURNAL_READ_MS, recover_one, r, e, sizeof(e));
    if (rc != 0) {
        snprintf(err, errn, "reading the journal: %s", e);
        rc = 1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct part_journal *pj = &core->journal[partitions[i]];
        pj->known = true;
        pj->end = high[i];
        lost[i] = (marks[i].position >= 0 &&
                   (marks[i].position < low[i] || marks[i].position > high[i])) ||
                  r->undecoded[partitions[i]];
        if (lost[i]) {
            char p[16], pos[24], lo[24], hi[24];
            snprintf(p, sizeof(p), "%" PRId32, partitions[i]);
            snprintf(pos, sizeof(pos), "%" PRId64, marks[i].position);
            snprintf(lo, sizeof(lo), "%" PRId64, low[i]);
            snprintf(hi, sizeof(hi), "%" PRId64, high[i]);
            log_kv(LEVEL_ERROR, "journal_lost", "partition", p, "from", pos, "low", lo, "high", hi,
                   "msg",
                   "entries of work no commit covers are gone or undecodable: the partition is "
                   "rebuilt and its memberships repaired, but a change left half-done may keep "
                   "half its attributes and lack its event",
                   NULL);
        }
    }
    free(from);
    free(low);
    free(high);
    return rc;
}

/* Rebuilds the wanted partitions' slices from the directory, the persons of recovered journal
 * entries excepted from the memberships check. 0, or -1 with e. */
static int rebuild(struct reconcile_core *core, struct state_txn *t, const int32_t *partitions,
                   size_t n, const bool *want, const struct uid_set *recovered,
                   struct rebuild_ctx *r, char *e, size_t en)
{
    *r = (struct rebuild_ctx){
        .txn = t, .want = want, .partitions = core->cfg->kafka.partitions, .recovered = recovered};
    for (size_t i = 0; i < n; i++) {
        if (want[partitions[i]] && state_partition_drop(t, partitions[i], e, en) < 0)
            return -1;
    }
    if (person_ldap_scan(core->ldap, core->cfg, NULL, rebuild_one, r, e, en) != 0) {
        if (r->err[0]) /* the callback's error, else the scan's own in e already */
            snprintf(e, en, "%s", r->err);
        return -1;
    }
    return 0;
}

/* The recovered persons' states go into the slices; they become suspects. */
static int apply_recovery(struct reconcile_core *core, struct state_txn *t,
                          const struct recovery *r, char *e, size_t en)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct journal_entry *je = &r->entries[i];
        int rc = je->has_before ? state_person_put(t, r->entry_part[i], &je->before, e, en)
                                : state_person_del(t, r->entry_part[i], je->record_uid, e, en);
        if (rc < 0)
            return -1;
        suspect_from(&core->suspects, je->record_uid, je->input_offset + 1);
    }
    return 0;
}

int reconcile_prepare_partitions(struct reconcile_core *core, const int32_t *partitions,
                                 const int64_t *committed, const struct journal_mark *marks,
                                 size_t n, char *err, size_t errn)
{
    int32_t parts = core->cfg->kafka.partitions;
    bool *want = xcalloc((size_t)parts, sizeof(bool)), *lost = xcalloc(n + 1, sizeof(bool));
    size_t n_want = 0;
    struct state_txn *t = NULL;
    struct recovery rec;
    struct rebuild_ctx rb = {0};
    char e[512] = "";
    int rc = read_journal(core, partitions, committed, marks, n, &rec, lost, err, errn);
    if (rc != 0)
        goto out;
    rc = -1;
    if (state_txn_begin(core->state, true, &t, e, sizeof(e)) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct state_partition_info info;
        if (partitions[i] < 0 || partitions[i] >= parts ||
            state_partition_get(t, partitions[i], &info, e, sizeof(e)) < 0)
            goto fail;
        char mine[JOURNAL_OWNER_MAX];
        owner_token(core, &info, mine);
        int64_t c = committed[i] < 0 ? 0 : committed[i];
        /* Kept only if this slice saw exactly what was committed, the last commit was its own,
         * and the journal is whole: more (a crash before the commit) or less (someone else
         * went on) or another's commit means the directory may differ from it. Anything done
         * after the commit by anyone is in the journal: its persons are suspects anyway. */
        bool current = info.complete && info.has_offset && info.next_offset == c &&
                       strcmp(marks[i].owner, mine) == 0 && !lost[i];
        if (!current) {
            want[partitions[i]] = true;
            n_want++;
        }
    }
    if (n_want) {
        if (rebuild(core, t, partitions, n, want, rec.first, &rb, e, sizeof(e)) < 0)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            int64_t c = committed[i] < 0 ? 0 : committed[i];
            if (want[partitions[i]] &&
                (state_partition_mark_complete(t, partitions[i], e, sizeof(e)) < 0 ||
                 state_offset_put(t, partitions[i], c, e, sizeof(e)) < 0))
                goto fail;
        }
        char np[24], pp[24], rp[24];
        snprintf(np, sizeof(np), "%zu", n_want);
        snprintf(pp, sizeof(pp), "%zu", rb.persons);
        snprintf(rp, sizeof(rp), "%zu", rb.n_repair);
        log_kv(LEVEL_INFO, "partitions_rebuilt", "partitions", np, "persons", pp,
               "memberships_wrong", rp, NULL);
    }
    if (apply_recovery(core, t, &rec, e, sizeof(e)) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct state_partition_info info;
        if (state_partition_get(t, partitions[i], &info, e, sizeof(e)) < 0)
            goto fail;
        owner_token(core, &info, core->journal[partitions[i]].owner);
        size_t cnt = rec.count[partitions[i]];
        if (cnt) {
            char p[16], ne[24];
            snprintf(p, sizeof(p), "%" PRId32, partitions[i]);
            snprintf(ne, sizeof(ne), "%zu", cnt);
            log_kv(LEVEL_WARN, "journal_recovered", "partition", p, "entries", ne, "msg",
                   "changes no commit covers: their persons are carried out against the "
                   "directory as it is",
                   NULL);
        }
    }
    if (state_txn_commit(t, e, sizeof(e)) < 0) {
        t = NULL;
        goto fail;
    }
    t = NULL;
    if (rb.n_repair)
        repair_memberships(core, rb.repair, rb.n_repair);
    rc = 0;
    goto out;
fail:
    snprintf(err, errn, "preparing partitions: %s", e);
    if (t)
        state_txn_abort(t);
out:
    for (size_t i = 0; i < rb.n_repair; i++)
        person_free(&rb.repair[i]);
    free(rb.repair);
    recovery_free(&rec);
    free((void *)rec.from_offset);
    free(want);
    free(lost);
    return rc;
}
