/* Unit tests of state_store: round trips, the members index, seen sets, offsets, partition
 * isolation, case folding, durability, corrupt data, and an ImportEnd-style scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "state_fixtures.h"
#include "state_store.h"
#include "strutil.h"

struct fixture {
    char dir[64];
    struct state_store *s;
};

static char err[512];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/state_XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    if (state_store_open(f->dir, 64u << 20, false, &f->s, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    state_store_close(f->s);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static struct state_txn *wtxn(struct fixture *f)
{
    struct state_txn *t = NULL;
    assert_int_equal(state_txn_begin(f->s, true, &t, err, sizeof(err)), 0);
    return t;
}

static struct state_txn *rtxn(struct fixture *f)
{
    struct state_txn *t = NULL;
    assert_int_equal(state_txn_begin(f->s, false, &t, err, sizeof(err)), 0);
    return t;
}

static void commit(struct state_txn *t)
{
    int rc = state_txn_commit(t, err, sizeof(err));
    if (rc)
        fail_msg("commit: %s", err);
}

static void set_schools(struct person *p, const char *s1, const char *s2)
{
    struct person q;
    mk_person(&q, p->record_uid, p->role, s1, s2);
    person_free(p);
    *p = q;
}

static void put(struct state_txn *t, int32_t part, const struct person *p)
{
    int rc = state_person_put(t, part, p, err, sizeof(err));
    if (rc)
        fail_msg("put %s: %s", p->record_uid, err);
}

/* Every field set, non-ASCII and empty values included. */
static void full_person(struct person *p)
{
    mk_person(p, "R-0001", ROLE_TEACHER_AND_STAFF, "S1", "S2");
    free(p->username);
    p->username = xstrdup("a.b");
    p->dn = xstrdup("uid=a.b,cn=lehrer und mitarbeiter,cn=users,ou=S1,dc=example,dc=org");
    p->n_classes = 2;
    p->classes = xcalloc(2, sizeof(*p->classes));
    p->classes[0].school = xstrdup("S1");
    p->classes[0].classes = strv2("S1-1a", "S1-2b", &p->classes[0].n_classes);
    p->classes[1].school = xstrdup("S2");
    p->classes[1].classes = strv2("S2-x \xc3\xa4", NULL, &p->classes[1].n_classes);
    p->purge_at_ms = -1;
    p->updated_offset = INT64_MAX;
    p->n_attrs = 2;
    p->attrs = xcalloc(2, sizeof(*p->attrs));
    p->attrs[0].name = xstrdup("givenName");
    p->attrs[0].values = strv2("J\xc3\xbcrgen", NULL, &p->attrs[0].n_values);
    p->attrs[1].name = xstrdup("telephoneNumber");
    p->attrs[1].values = strv2("+49 1", "", &p->attrs[1].n_values);
}

/* ---- collecting callbacks ---- */

struct uids {
    char *v[64];
    size_t n;
};

static int collect(const char *uid, void *opaque)
{
    struct uids *u = opaque;
    if (u->n < 64)
        u->v[u->n] = xstrdup(uid);
    u->n++;
    return 0;
}

static void uids_free(struct uids *u)
{
    for (size_t i = 0; i < u->n && i < 64; i++)
        free(u->v[i]);
    u->n = 0;
}

/* The members of (SID, school, role) in partition part, joined with ",". */
static char *members(struct fixture *f, int32_t part, const char *school, enum role role)
{
    struct uids u = {0};
    struct state_txn *t = rtxn(f);
    assert_int_equal(state_members_each(t, part, SID, school, role, collect, &u, err, sizeof(err)),
                     0);
    size_t cnt;
    assert_int_equal(state_member_count(t, part, SID, school, role, &cnt, err, sizeof(err)), 0);
    assert_int_equal(cnt, u.n);
    state_txn_abort(t);
    char *out = xstrdup("");
    for (size_t i = 0; i < u.n; i++) {
        char *o = xasprintf("%s%s%s", out, i ? "," : "", u.v[i]);
        free(out);
        out = o;
    }
    uids_free(&u);
    return out;
}

#define assert_members(f, part, school, role, want)                                                \
    do {                                                                                           \
        char *got_ = members(f, part, school, role);                                               \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

/* ---- tests ---- */

static void test_person_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct person full, min = {0}, got;
    full_person(&full);
    min.record_uid = xstrdup("m1");
    min.source_uid = xstrdup(SID);
    min.username = xstrdup(""); /* "" and NULL are different */
    struct state_txn *t = wtxn(f);
    put(t, 0, &full);
    assert_int_equal(state_person_put(t, 7, &min, err, sizeof(err)), 0);
    commit(t);

    t = rtxn(f);
    assert_int_equal(state_person_get(t, 0, "R-0001", &got, err, sizeof(err)), 0);
    assert_true(person_equal(&full, &got));
    person_free(&got);
    assert_int_equal(state_person_get(t, 7, "m1", &got, err, sizeof(err)), 0);
    assert_true(person_equal(&min, &got));
    assert_non_null(got.username);
    assert_string_equal(got.username, "");
    assert_null(got.dn);
    person_free(&got);
    assert_int_equal(state_person_get(t, 0, "m1", &got, err, sizeof(err)), 1);
    assert_null(got.record_uid);
    state_txn_abort(t);

    person_free(&full);
    person_free(&min);
}

/* Writes raw bytes under a key of a sub-database, behind the store's back. */
static void raw_put(const char *dir, const char *db, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 64u << 20), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static int count_person(const struct person *p, void *opaque)
{
    (void)p;
    (*(int *)opaque)++;
    return 0;
}

static void test_corrupt_value_in_lmdb(void **state)
{
    struct fixture *f = *state;
    struct person p, got;
    mk_person(&p, "good", ROLE_STUDENT, "S1", NULL);
    struct state_txn *t = wtxn(f);
    put(t, 3, &p);
    commit(t);
    state_store_close(f->s);
    raw_put(f->dir, "persons", "\0\0\0\3bad", 7, "\1\5garbage", 9);
    assert_int_equal(state_store_open(f->dir, 64u << 20, false, &f->s, err, sizeof(err)), 0);

    t = wtxn(f);
    assert_int_equal(state_person_get(t, 3, "BAD", &got, err, sizeof(err)), STATE_ERR_CORRUPT);
    assert_non_null(strstr(err, "partition 3"));
    int cnt = 0;
    assert_int_equal(state_persons_each(t, 3, count_person, &cnt, err, sizeof(err)),
                     STATE_ERR_CORRUPT);
    mk_person(&got, "bad", ROLE_STUDENT, "S1", NULL);
    assert_int_equal(state_person_put(t, 3, &got, err, sizeof(err)), STATE_ERR_CORRUPT);
    person_free(&got);
    /* The cure: drop the slice and rebuild it. */
    assert_int_equal(state_partition_drop(t, 3, err, sizeof(err)), 0);
    put(t, 3, &p);
    commit(t);
    t = rtxn(f);
    cnt = 0;
    assert_int_equal(state_persons_each(t, 3, count_person, &cnt, err, sizeof(err)), 0);
    assert_int_equal(cnt, 1);
    state_txn_abort(t);
    assert_members(f, 3, "S1", ROLE_STUDENT, "good");
    person_free(&p);
}

static void test_members_follow_schools(void **state)
{
    struct fixture *f = *state;
    struct person a, b, tch;
    mk_person(&a, "a", ROLE_STUDENT, "S1", NULL);
    mk_person(&b, "b", ROLE_STUDENT, "S1", NULL);
    mk_person(&tch, "t", ROLE_TEACHER, "S1", NULL);
    struct state_txn *t = wtxn(f);
    put(t, 0, &a);
    put(t, 1, &b); /* another partition, same school */
    put(t, 0, &tch);
    commit(t);
    assert_members(f, 0, "S1", ROLE_STUDENT, "a");
    assert_members(f, 1, "S1", ROLE_STUDENT, "b");
    assert_members(f, 0, "S1", ROLE_TEACHER, "t");

    set_schools(&a, "S1", "S2"); /* add a school */
    t = wtxn(f);
    put(t, 0, &a);
    commit(t);
    assert_members(f, 0, "S1", ROLE_STUDENT, "a");
    assert_members(f, 0, "S2", ROLE_STUDENT, "a");

    set_schools(&a, "S2", NULL); /* remove one */
    t = wtxn(f);
    put(t, 0, &a);
    commit(t);
    assert_members(f, 0, "S1", ROLE_STUDENT, "");
    assert_members(f, 0, "S2", ROLE_STUDENT, "a");

    set_schools(&a, NULL, NULL); /* to limbo: no schools */
    a.limbo = true;
    a.primary_school = xstrdup("limbo");
    a.purge_at_ms = 1700000000000;
    t = wtxn(f);
    put(t, 0, &a);
    commit(t);
    assert_members(f, 0, "S2", ROLE_STUDENT, "");
    assert_members(f, 0, "limbo", ROLE_STUDENT, "");

    set_schools(&a, "S3", NULL); /* reactivated elsewhere */
    t = wtxn(f);
    put(t, 0, &a);
    assert_int_equal(state_person_del(t, 0, "t", err, sizeof(err)), 0);
    assert_int_equal(state_person_del(t, 0, "t", err, sizeof(err)), 1);
    commit(t);
    assert_members(f, 0, "S3", ROLE_STUDENT, "a");
    assert_members(f, 0, "S1", ROLE_TEACHER, "");

    t = wtxn(f);
    assert_int_equal(state_person_del(t, 0, "a", err, sizeof(err)), 0);
    commit(t);
    assert_members(f, 0, "S3", ROLE_STUDENT, "");
    assert_members(f, 1, "S1", ROLE_STUDENT, "b"); /* no bleed */
    assert_members(f, 1, "S3", ROLE_STUDENT, "");
    person_free(&a);
    person_free(&b);
    person_free(&tch);
}

static void test_case_insensitive_keys(void **state)
{
    struct fixture *f = *state;
    struct person p, got;
    mk_person(&p, "ABC-1", ROLE_STUDENT, "School1", NULL);
    struct state_txn *t = wtxn(f);
    put(t, 0, &p);
    commit(t);
    t = rtxn(f);
    assert_int_equal(state_person_get(t, 0, "abc-1", &got, err, sizeof(err)), 0);
    assert_string_equal(got.record_uid, "ABC-1"); /* stored as given */
    person_free(&got);
    struct uids u = {0};
    assert_int_equal(
        state_members_each(t, 0, "SISDB", "SCHOOL1", ROLE_STUDENT, collect, &u, err, sizeof(err)),
        0);
    assert_int_equal(u.n, 1);
    assert_string_equal(u.v[0], "ABC-1");
    uids_free(&u);
    state_txn_abort(t);

    /* The same person spelt differently replaces it, index included. */
    free(p.record_uid);
    p.record_uid = xstrdup("abc-1");
    free(p.schools[0]);
    p.schools[0] = xstrdup("school1");
    t = wtxn(f);
    put(t, 0, &p);
    size_t cnt;
    assert_int_equal(state_person_count(t, 0, &cnt, err, sizeof(err)), 0);
    assert_int_equal(cnt, 1);
    assert_int_equal(state_seen_add(t, 0, "imp", "Abc-1", err, sizeof(err)), 1);
    assert_int_equal(state_seen_add(t, 0, "imp", "aBC-1", err, sizeof(err)), 0);
    assert_int_equal(state_seen_add(t, 0, "IMP", "abc-1", err, sizeof(err)), 1); /* ids exact */
    /* Two spellings of one school in one person: refused, nothing written, txn usable. */
    set_schools(&p, "S9", "s9");
    assert_int_equal(state_person_put(t, 0, &p, err, sizeof(err)), STATE_ERR_INVALID);
    commit(t);
    assert_members(f, 0, "School1", ROLE_STUDENT, "abc-1");
    assert_members(f, 0, "S9", ROLE_STUDENT, "");
    person_free(&p);
}

static void test_seen_idempotent(void **state)
{
    struct fixture *f = *state;
    struct state_txn *t = wtxn(f);
    assert_int_equal(state_seen_has(t, 0, "i1", "r1", err, sizeof(err)), 1);
    assert_int_equal(state_seen_add(t, 0, "i1", "r1", err, sizeof(err)), 1);
    assert_int_equal(state_seen_add(t, 0, "i1", "r1", err, sizeof(err)), 0);
    assert_int_equal(state_seen_has(t, 0, "i1", "r1", err, sizeof(err)), 0);
    assert_int_equal(state_seen_has(t, 0, "i1", "r2", err, sizeof(err)), 1);
    assert_int_equal(state_seen_has(t, 1, "i1", "r1", err, sizeof(err)), 1);
    assert_int_equal(state_seen_add(t, 0, "i2", "r1", err, sizeof(err)), 1);
    commit(t);
    t = wtxn(f); /* a redelivery after the commit still counts once */
    assert_int_equal(state_seen_add(t, 0, "i1", "r1", err, sizeof(err)), 0);
    state_txn_abort(t);
}

static int collect_import(const struct import_state *s, void *opaque)
{
    return collect(s->import_id, opaque);
}

static void test_imports(void **state)
{
    struct fixture *f = *state;
    struct import_state in = {
        .import_id = "0192f0e4-6b2a-7c3d-8e4f-0123456789ab",
        .source_uid = SID,
        .school = "S1",
        .role = ROLE_TEACHER,
        .records_seen = 42,
        .first_offset = 10,
        .last_offset = 99,
        .status = STATE_IMPORT_HELD,
        .ended_at_offset = 100,
        .expected_records = 42,
        .produced_at_ms = 1700000000123,
        .dry_run = true,
    };
    struct import_state other = {.import_id = "x2", .first_offset = -1, .last_offset = -1};
    struct import_state got;
    struct state_txn *t = wtxn(f);
    assert_int_equal(state_import_put(t, 0, &in, err, sizeof(err)), 0);
    assert_int_equal(state_import_put(t, 0, &other, err, sizeof(err)), 0);
    assert_int_equal(state_import_put(t, 1, &in, err, sizeof(err)), 0);
    char uid[16];
    for (int i = 0; i < 300; i++) {
        snprintf(uid, sizeof(uid), "r%d", i);
        assert_int_equal(state_seen_add(t, 0, in.import_id, uid, err, sizeof(err)), 1);
        assert_int_equal(state_seen_add(t, 0, "x2", uid, err, sizeof(err)), 1);
        assert_int_equal(state_seen_add(t, 1, in.import_id, uid, err, sizeof(err)), 1);
    }
    commit(t);

    t = wtxn(f);
    assert_int_equal(state_import_get(t, 0, in.import_id, &got, err, sizeof(err)), 0);
    assert_string_equal(got.import_id, in.import_id);
    assert_string_equal(got.source_uid, SID);
    assert_string_equal(got.school, "S1");
    assert_int_equal(got.role, ROLE_TEACHER);
    assert_int_equal(got.records_seen, 42);
    assert_int_equal(got.first_offset, 10);
    assert_int_equal(got.last_offset, 99);
    assert_int_equal(got.status, STATE_IMPORT_HELD);
    assert_string_equal(state_import_status_name(got.status), "held");
    assert_int_equal(got.ended_at_offset, 100);
    assert_int_equal(got.expected_records, 42);
    assert_int_equal(got.produced_at_ms, 1700000000123);
    assert_true(got.dry_run);
    import_state_free(&got);
    assert_int_equal(state_import_get(t, 0, "x2", &got, err, sizeof(err)), 0);
    assert_null(got.school);
    assert_int_equal(got.first_offset, -1);
    import_state_free(&got);
    struct uids u = {0};
    assert_int_equal(state_imports_each(t, 0, collect_import, &u, err, sizeof(err)), 0);
    assert_int_equal(u.n, 2);
    assert_string_equal(u.v[0], in.import_id);
    uids_free(&u);

    assert_int_equal(state_import_del(t, 0, in.import_id, err, sizeof(err)), 0);
    assert_int_equal(state_import_del(t, 0, in.import_id, err, sizeof(err)), 1);
    assert_int_equal(state_import_get(t, 0, in.import_id, &got, err, sizeof(err)), 1);
    for (int i = 0; i < 300; i++) {
        snprintf(uid, sizeof(uid), "r%d", i);
        assert_int_equal(state_seen_has(t, 0, in.import_id, uid, err, sizeof(err)), 1);
        assert_int_equal(state_seen_has(t, 0, "x2", uid, err, sizeof(err)), 0);
        assert_int_equal(state_seen_has(t, 1, in.import_id, uid, err, sizeof(err)), 0);
    }
    size_t removed;
    assert_int_equal(state_seen_clear(t, 0, "x2", &removed, err, sizeof(err)), 0);
    assert_int_equal(removed, 300);
    assert_int_equal(state_import_get(t, 0, "x2", &got, err, sizeof(err)), 0); /* record stays */
    import_state_free(&got);
    assert_int_equal(state_import_get(t, 1, in.import_id, &got, err, sizeof(err)), 0);
    import_state_free(&got);
    commit(t);
}

static void test_offsets_and_complete(void **state)
{
    struct fixture *f = *state;
    int64_t off;
    bool complete;
    struct state_partition_info info;
    struct state_txn *t = wtxn(f);
    assert_int_equal(state_offset_get(t, 0, &off, err, sizeof(err)), 1);
    assert_int_equal(state_partition_is_complete(t, 0, &complete, err, sizeof(err)), 0);
    assert_false(complete);
    assert_int_equal(state_offset_put(t, 0, 42, err, sizeof(err)), 0);
    assert_int_equal(state_offset_get(t, 0, &off, err, sizeof(err)), 0);
    assert_int_equal(off, 42);
    assert_int_equal(state_partition_mark_complete(t, 0, err, sizeof(err)), 0);
    assert_int_equal(state_partition_mark_complete(t, 1, err, sizeof(err)), 0);
    assert_int_equal(state_offset_get(t, 1, &off, err, sizeof(err)), 1);
    assert_int_equal(state_offset_put(t, 0, 5000000000LL, err, sizeof(err)), 0);
    assert_int_equal(state_offset_put(t, 0, -1, err, sizeof(err)), STATE_ERR_INVALID);
    commit(t);
    t = rtxn(f);
    assert_int_equal(state_partition_get(t, 0, &info, err, sizeof(err)), 0);
    assert_true(info.complete && info.has_offset);
    assert_int_equal(info.next_offset, 5000000000LL);
    assert_int_equal(info.epoch, 1);
    assert_int_equal(state_partition_get(t, 1, &info, err, sizeof(err)), 0);
    assert_int_equal(info.epoch, 2);
    assert_false(info.has_offset);
    assert_int_equal(state_partition_get(t, 2, &info, err, sizeof(err)), 1);
    assert_int_equal(state_offset_put(t, 0, 1, err, sizeof(err)), STATE_ERR_INVALID); /* ro */
    state_txn_abort(t);
}

static void fill_partition(struct fixture *f, int32_t part)
{
    struct person p;
    char rid[32];
    struct state_txn *t = wtxn(f);
    for (int i = 0; i < 50; i++) {
        snprintf(rid, sizeof(rid), "p%d-%02d", part, i);
        mk_person(&p, rid, ROLE_STUDENT, "S1", i % 2 ? "S2" : NULL);
        put(t, part, &p);
        assert_int_equal(state_seen_add(t, part, "imp", rid, err, sizeof(err)), 1);
        person_free(&p);
    }
    struct import_state is = {.import_id = "imp", .school = "S1"};
    assert_int_equal(state_import_put(t, part, &is, err, sizeof(err)), 0);
    assert_int_equal(state_offset_put(t, part, 50, err, sizeof(err)), 0);
    assert_int_equal(state_partition_mark_complete(t, part, err, sizeof(err)), 0);
    commit(t);
}

static void check_partition(struct fixture *f, int32_t part, bool present)
{
    struct state_txn *t = rtxn(f);
    size_t cnt;
    int64_t off;
    bool complete;
    struct import_state is;
    assert_int_equal(state_person_count(t, part, &cnt, err, sizeof(err)), 0);
    assert_int_equal(cnt, present ? 50 : 0);
    assert_int_equal(state_member_count(t, part, SID, "S1", ROLE_STUDENT, &cnt, err, sizeof(err)),
                     0);
    assert_int_equal(cnt, present ? 50 : 0);
    assert_int_equal(state_member_count(t, part, SID, "S2", ROLE_STUDENT, &cnt, err, sizeof(err)),
                     0);
    assert_int_equal(cnt, present ? 25 : 0);
    char rid[32];
    snprintf(rid, sizeof(rid), "p%d-07", part);
    assert_int_equal(state_seen_has(t, part, "imp", rid, err, sizeof(err)), present ? 0 : 1);
    assert_int_equal(state_import_get(t, part, "imp", &is, err, sizeof(err)), present ? 0 : 1);
    import_state_free(&is);
    assert_int_equal(state_offset_get(t, part, &off, err, sizeof(err)), present ? 0 : 1);
    assert_int_equal(state_partition_is_complete(t, part, &complete, err, sizeof(err)), 0);
    assert_int_equal(complete, present);
    state_txn_abort(t);
}

static void test_partition_drop(void **state)
{
    struct fixture *f = *state;
    /* 255 and 256 differ only in the key's last two bytes: no prefix confusion. */
    int32_t parts[] = {0, 1, 2, 255, 256};
    for (size_t i = 0; i < 5; i++)
        fill_partition(f, parts[i]);
    struct state_txn *t = wtxn(f);
    assert_int_equal(state_partition_drop(t, 1, err, sizeof(err)), 0);
    assert_int_equal(state_partition_drop(t, 255, err, sizeof(err)), 0);
    assert_int_equal(state_partition_drop(t, 9, err, sizeof(err)), 0); /* empty: fine */
    commit(t);
    for (size_t i = 0; i < 5; i++)
        check_partition(f, parts[i], parts[i] != 1 && parts[i] != 255);
}

static void test_reopen_durable(void **state)
{
    struct fixture *f = *state;
    char *dir = xasprintf("%s/a/b/c", f->dir); /* parents are created */
    struct state_store *s;
    struct state_txn *t;
    struct person p, got;
    assert_int_equal(state_store_open(dir, 0, true, &s, err, sizeof(err)), 0);
    full_person(&p);
    assert_int_equal(state_txn_begin(s, true, &t, err, sizeof(err)), 0);
    assert_int_equal(state_person_put(t, 4, &p, err, sizeof(err)), 0);
    assert_int_equal(state_seen_add(t, 4, "imp", "R-0001", err, sizeof(err)), 1);
    assert_int_equal(state_offset_put(t, 4, 77, err, sizeof(err)), 0);
    assert_int_equal(state_partition_mark_complete(t, 4, err, sizeof(err)), 0);
    assert_int_equal(state_txn_commit(t, err, sizeof(err)), 0);
    assert_int_equal(state_txn_begin(s, true, &t, err, sizeof(err)), 0); /* never committed */
    assert_int_equal(state_offset_put(t, 4, 99, err, sizeof(err)), 0);
    state_txn_abort(t);
    state_store_close(s);

    assert_int_equal(state_store_open(dir, 0, true, &s, err, sizeof(err)), 0);
    assert_int_equal(state_txn_begin(s, false, &t, err, sizeof(err)), 0);
    assert_int_equal(state_person_get(t, 4, "r-0001", &got, err, sizeof(err)), 0);
    assert_true(person_equal(&p, &got));
    person_free(&got);
    assert_int_equal(state_seen_has(t, 4, "imp", "R-0001", err, sizeof(err)), 0);
    int64_t off;
    assert_int_equal(state_offset_get(t, 4, &off, err, sizeof(err)), 0);
    assert_int_equal(off, 77);
    bool complete;
    assert_int_equal(state_partition_is_complete(t, 4, &complete, err, sizeof(err)), 0);
    assert_true(complete);
    size_t cnt;
    assert_int_equal(
        state_member_count(t, 4, SID, "s2", ROLE_TEACHER_AND_STAFF, &cnt, err, sizeof(err)), 0);
    assert_int_equal(cnt, 1);
    state_txn_abort(t);
    state_store_close(s);

    /* Format 2 (before the no-op digests) opens and becomes format 3; the digest key stays. */
    unsigned char key1[STATE_DIGEST_LEN], key2[STATE_DIGEST_LEN];
    assert_int_equal(state_store_open(dir, 0, true, &s, err, sizeof(err)), 0);
    state_store_digest_key(s, key1);
    state_store_close(s);
    raw_put(dir, "meta", "format", 6, "\0\0\0\x02", 4);
    assert_int_equal(state_store_open(dir, 0, true, &s, err, sizeof(err)), 0);
    state_store_digest_key(s, key2);
    assert_memory_equal(key1, key2, STATE_DIGEST_LEN);
    state_store_close(s);

    /* A format this build does not know: a clear error, nothing opened. */
    raw_put(dir, "meta", "format", 6, "\0\0\0\x09", 4);
    assert_int_equal(state_store_open(dir, 0, true, &s, err, sizeof(err)), STATE_ERR_FORMAT);
    assert_null(s);
    assert_non_null(strstr(err, "format version 9"));
    person_free(&p);
    free(dir);
}

static void test_bad_input_and_full(void **state)
{
    struct fixture *f = *state;
    struct state_txn *t = rtxn(f), *t2;
    struct person p;
    mk_person(&p, "x", ROLE_STUDENT, "S1", NULL);
    assert_int_equal(state_person_put(t, 0, &p, err, sizeof(err)), STATE_ERR_INVALID);
    state_txn_abort(t);

    t = wtxn(f);
    assert_int_equal(state_txn_begin(f->s, true, &t2, err, sizeof(err)), STATE_ERR_INVALID);
    p.limbo = true; /* limbo with schools */
    assert_int_equal(state_person_put(t, 0, &p, err, sizeof(err)), STATE_ERR_INVALID);
    p.limbo = false;
    p.role = (enum role)7;
    assert_int_equal(state_person_put(t, 0, &p, err, sizeof(err)), STATE_ERR_INVALID);
    p.role = ROLE_STUDENT;
    struct attr_values nullv = {.name = "mail", .values = (char *[]){NULL}, .n_values = 1};
    p.attrs = &nullv;
    p.n_attrs = 1;
    assert_int_equal(state_person_put(t, 0, &p, err, sizeof(err)), STATE_ERR_INVALID);
    p.attrs = NULL;
    p.n_attrs = 0;
    assert_int_equal(state_person_put(t, -1, &p, err, sizeof(err)), STATE_ERR_INVALID);
    free(p.record_uid);
    p.record_uid = xmalloc(600);
    memset(p.record_uid, 'r', 599);
    p.record_uid[599] = 0;
    assert_int_equal(state_person_put(t, 0, &p, err, sizeof(err)), STATE_ERR_INVALID);
    assert_non_null(strstr(err, "too long"));
    p.record_uid[500] = 0; /* fits the persons key, not the members key */
    assert_int_equal(state_person_put(t, 0, &p, err, sizeof(err)), STATE_ERR_INVALID);
    p.record_uid[0] = 0;
    assert_int_equal(state_person_put(t, 0, &p, err, sizeof(err)), STATE_ERR_INVALID);
    strcpy(p.record_uid, "ok");
    put(t, 0, &p); /* the transaction is still usable */
    commit(t);
    assert_members(f, 0, "S1", ROLE_STUDENT, "ok");
    person_free(&p);

    /* A small map fills up: a clear error, and the store works after the abort. */
    char *dir = xasprintf("%s/small", f->dir);
    struct state_store *s;
    assert_int_equal(state_store_open(dir, 256 * 1024, false, &s, err, sizeof(err)), 0);
    assert_int_equal(state_txn_begin(s, true, &t, err, sizeof(err)), 0);
    int rc = 0;
    char rid[32];
    for (int i = 0; i < 100000 && rc == 0; i++) {
        snprintf(rid, sizeof(rid), "full-%d", i);
        rc = state_seen_add(t, 0, "an-import-with-a-long-identifier", rid, err, sizeof(err));
        rc = rc == 1 ? 0 : rc;
    }
    assert_int_equal(rc, STATE_ERR_FULL);
    assert_non_null(strstr(err, "full"));
    state_txn_abort(t);
    assert_int_equal(state_txn_begin(s, true, &t, err, sizeof(err)), 0);
    assert_int_equal(state_seen_add(t, 0, "i", "r", err, sizeof(err)), 1);
    assert_int_equal(state_txn_commit(t, err, sizeof(err)), 0);
    state_store_close(s);
    free(dir);
}

/* The ImportEnd of the reconciler: remove school S1 from every unseen member, in the same
 * transaction as the enumeration. */
struct import_end_ctx {
    struct state_txn *t;
    size_t removed;
};

static int remove_school(const char *uid, void *opaque)
{
    struct import_end_ctx *c = opaque;
    struct person p;
    assert_int_equal(state_person_get(c->t, 0, uid, &p, err, sizeof(err)), 0);
    bool two = p.n_schools == 2;
    set_schools(&p, two ? "S2" : NULL, NULL);
    p.limbo = !two;
    put(c->t, 0, &p);
    person_free(&p);
    c->removed++;
    return 0;
}

static int count_uid(const char *uid, void *opaque)
{
    (void)uid;
    (*(size_t *)opaque)++;
    return 0;
}

static void test_many_and_import_end(void **state)
{
    struct fixture *f = *state;
    enum { N = 6000, BATCH = 1000 };
    char rid[32];
    struct person p;
    double t0 = clock_mono_s();
    for (int b = 0; b < N / BATCH; b++) {
        struct state_txn *t = wtxn(f);
        for (int i = b * BATCH; i < (b + 1) * BATCH; i++) {
            snprintf(rid, sizeof(rid), "rec-%05d", i);
            mk_person(&p, rid, ROLE_STUDENT, "S1", i % 3 == 0 ? "S2" : NULL);
            put(t, 0, &p);
            person_free(&p);
        }
        commit(t);
    }
    double dt = clock_mono_s() - t0;
    print_message("state_store: %d person puts (1-2 schools) in %.0f ms: %.0f puts/s\n", N,
                  dt * 1000, N / dt);

    /* An import of S1 that saw every person whose number ends in 0..6 (70 %). */
    struct state_txn *t = wtxn(f);
    size_t want = 0;
    for (int i = 0; i < N; i++) {
        snprintf(rid, sizeof(rid), "rec-%05d", i);
        if (i % 10 <= 6)
            assert_int_equal(state_seen_add(t, 0, "imp-S1", rid, err, sizeof(err)), 1);
        else
            want++;
    }
    size_t members_n, unseen = 0;
    assert_int_equal(
        state_member_count(t, 0, SID, "S1", ROLE_STUDENT, &members_n, err, sizeof(err)), 0);
    assert_int_equal(members_n, N);
    assert_int_equal(state_members_unseen_each(t, 0, SID, "S1", ROLE_STUDENT, "imp-S1", count_uid,
                                               &unseen, err, sizeof(err)),
                     0);
    assert_int_equal(unseen, want);
    struct import_end_ctx c = {.t = t};
    t0 = clock_mono_s();
    assert_int_equal(state_members_unseen_each(t, 0, SID, "S1", ROLE_STUDENT, "imp-S1",
                                               remove_school, &c, err, sizeof(err)),
                     0);
    print_message("state_store: ImportEnd removed %zu of %zu in %.0f ms\n", c.removed, members_n,
                  (clock_mono_s() - t0) * 1000);
    assert_int_equal(c.removed, want);
    commit(t);

    t = rtxn(f);
    assert_int_equal(
        state_member_count(t, 0, SID, "S1", ROLE_STUDENT, &members_n, err, sizeof(err)), 0);
    assert_int_equal(members_n, N - want);
    unseen = 0;
    assert_int_equal(state_members_unseen_each(t, 0, SID, "S1", ROLE_STUDENT, "imp-S1", count_uid,
                                               &unseen, err, sizeof(err)),
                     0);
    assert_int_equal(unseen, 0);
    /* S2 (every third) lost nobody; the limbo persons are in no set. */
    assert_int_equal(
        state_member_count(t, 0, SID, "S2", ROLE_STUDENT, &members_n, err, sizeof(err)), 0);
    assert_int_equal(members_n, N / 3);
    state_txn_abort(t);
}

/* No-op digests: put with one, found by the header alone, added to a stored person, and gone
 * with any later write of the person. */
static void test_person_noop_digests(void **state)
{
    struct fixture *f = *state;
    struct person p, got;
    unsigned char d1[STATE_DIGEST_LEN], d2[STATE_DIGEST_LEN], key[STATE_DIGEST_LEN],
        zero[STATE_DIGEST_LEN] = {0};
    memset(d1, 1, sizeof(d1));
    memset(d2, 2, sizeof(d2));
    state_store_digest_key(f->s, key);
    assert_memory_not_equal(key, zero, STATE_DIGEST_LEN); /* random, not left empty */
    full_person(&p);
    struct state_txn *t = wtxn(f);
    assert_int_equal(state_person_put_noop(t, 0, &p, d1, err, sizeof(err)), 0);
    assert_int_equal(state_person_noop_check(t, 0, "R-0001", d1, err, sizeof(err)), 1);
    assert_int_equal(state_person_noop_check(t, 0, "r-0001", d1, err, sizeof(err)), 1);
    assert_int_equal(state_person_noop_check(t, 0, "R-0001", d2, err, sizeof(err)), 0);
    assert_int_equal(state_person_noop_check(t, 1, "R-0001", d1, err, sizeof(err)), 0);
    assert_int_equal(state_person_noop_check(t, 0, "nobody", d1, err, sizeof(err)), 0);
    assert_int_equal(state_person_noop_add(t, 0, "R-0001", d2, err, sizeof(err)), 0);
    assert_int_equal(state_person_noop_add(t, 0, "nobody", d2, err, sizeof(err)), 1);
    commit(t);

    t = rtxn(f);
    assert_int_equal(state_person_noop_check(t, 0, "R-0001", d1, err, sizeof(err)), 1);
    assert_int_equal(state_person_noop_check(t, 0, "R-0001", d2, err, sizeof(err)), 1);
    assert_int_equal(state_person_get(t, 0, "R-0001", &got, err, sizeof(err)), 0);
    assert_true(person_equal(&p, &got));
    person_free(&got);
    /* a read transaction cannot add */
    assert_int_equal(state_person_noop_add(t, 0, "R-0001", d1, err, sizeof(err)),
                     STATE_ERR_INVALID);
    state_txn_abort(t);

    t = wtxn(f);
    put(t, 0, &p); /* the same person written again: the digests go */
    assert_int_equal(state_person_noop_check(t, 0, "R-0001", d1, err, sizeof(err)), 0);
    assert_int_equal(state_person_noop_check(t, 0, "R-0001", d2, err, sizeof(err)), 0);
    commit(t);
    person_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_person_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_person_noop_digests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_value_in_lmdb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_members_follow_schools, setup, teardown),
        cmocka_unit_test_setup_teardown(test_case_insensitive_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offsets_and_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_and_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_and_import_end, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
