/*
 * state_store: the reconciler's partitioned state table on LMDB (key layouts in the header).
 */
#include "state_store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "state_codec.h"
#include "state_store_int.h"
#include "strutil.h"

/* ---- errors ---- */

int state_seterr(char *err, size_t n, int rc, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int state_mdb_fail(const struct state_store *s, char *err, size_t n, int mrc, const char *what)
{
    if (mrc == MDB_MAP_FULL)
        return state_seterr(
            err, n, STATE_ERR_FULL,
            "state store: %s: the map of %zu MiB is full (raise the state map size)", what,
            s->map_size >> 20);
    if (mrc == MDB_TXN_FULL)
        return state_seterr(err, n, STATE_ERR_FULL,
                            "state store: %s: too many changes in one transaction (commit smaller "
                            "batches)",
                            what);
    if (mrc == MDB_VERSION_MISMATCH || mrc == MDB_INVALID)
        return state_seterr(err, n, STATE_ERR_FORMAT, "state store: %s: %s", what,
                            mdb_strerror(mrc));
    return state_seterr(err, n, STATE_ERR, "state store: %s: %s", what, mdb_strerror(mrc));
}

/* ---- keys ---- */

void state_key_init(struct state_key *k, int32_t part)
{
    uint32_t u = (uint32_t)part;
    k->b[0] = (unsigned char)(u >> 24);
    k->b[1] = (unsigned char)(u >> 16);
    k->b[2] = (unsigned char)(u >> 8);
    k->b[3] = (unsigned char)u;
    k->len = 4;
}

/* Appends s (ASCII-lower-cased if fold) and, if sep, a NUL; false if it does not fit. */
bool state_key_add(struct state_key *k, const char *s, bool fold, bool sep)
{
    size_t len = strlen(s);
    if (len + (sep ? 1 : 0) > STATE_KEY_CAP - k->len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        k->b[k->len++] = fold && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
    }
    if (sep)
        k->b[k->len++] = 0;
    return true;
}

static bool key_add_byte(struct state_key *k, unsigned char c)
{
    if (k->len >= STATE_KEY_CAP)
        return false;
    k->b[k->len++] = c;
    return true;
}

/* ok: the key was built without overflowing STATE_KEY_CAP. */
int state_key_check(const struct state_txn *t, bool ok, const struct state_key *k, const char *what,
                    char *err, size_t n)
{
    if (!ok || k->len > t->s->max_key)
        return state_seterr(err, n, STATE_ERR_INVALID,
                            "state store: %s key longer than LMDB's %zu bytes (a record_uid, "
                            "source_uid, school or import_id is too long)",
                            what, t->s->max_key);
    return 0;
}

int state_check_part(int32_t part, char *err, size_t n)
{
    if (part < 0)
        return state_seterr(err, n, STATE_ERR_INVALID, "state store: invalid partition %d",
                            (int)part);
    return 0;
}

int state_check_str(const char *s, const char *what, char *err, size_t n)
{
    if (!s || !*s)
        return state_seterr(err, n, STATE_ERR_INVALID, "state store: %s is missing or empty", what);
    return 0;
}

static int person_key(const struct state_txn *t, int32_t part, const char *rid, struct state_key *k,
                      char *err, size_t n)
{
    int rc = state_check_part(part, err, n);
    if (rc || (rc = state_check_str(rid, "record_uid", err, n)))
        return rc;
    state_key_init(k, part);
    return state_key_check(t, state_key_add(k, rid, true, false), k, "person", err, n);
}

/* The members key; rid NULL builds the prefix of the whole set. */
static int member_key(const struct state_txn *t, int32_t part, const char *sid, const char *school,
                      enum role role, const char *rid, struct state_key *k, char *err, size_t n)
{
    int rc = state_check_part(part, err, n);
    if (rc || (rc = state_check_str(sid, "source_uid", err, n)) ||
        (rc = state_check_str(school, "school", err, n)))
        return rc;
    if ((unsigned)role >= ROLE_COUNT)
        return state_seterr(err, n, STATE_ERR_INVALID, "state store: invalid role %d", (int)role);
    state_key_init(k, part);
    bool ok = state_key_add(k, sid, true, true) && state_key_add(k, school, true, true) &&
              key_add_byte(k, (unsigned char)role) && (!rid || state_key_add(k, rid, true, false));
    return state_key_check(t, ok, k, "members", err, n);
}

/* The seen key; rid NULL builds the prefix of the import's whole seen set. */
int state_seen_key(const struct state_txn *t, int32_t part, const char *import_id, const char *rid,
                   struct state_key *k, char *err, size_t n)
{
    int rc = state_check_part(part, err, n);
    if (rc || (rc = state_check_str(import_id, "import_id", err, n)) ||
        (rid && (rc = state_check_str(rid, "record_uid", err, n))))
        return rc;
    state_key_init(k, part);
    bool ok =
        state_key_add(k, import_id, false, true) && (!rid || state_key_add(k, rid, true, false));
    return state_key_check(t, ok, k, "seen", err, n);
}

int state_need_write(const struct state_txn *t, char *err, size_t n)
{
    if (!t->write)
        return state_seterr(err, n, STATE_ERR_INVALID,
                            "state store: write in a read-only transaction");
    return 0;
}

/* ---- generic prefix scans ---- */

static bool has_prefix(const MDB_val *k, const struct state_key *prefix)
{
    return k->mv_size >= prefix->len && memcmp(k->mv_data, prefix->b, prefix->len) == 0;
}

/* Calls cb for every key starting with prefix; a non-zero cb result stops and is returned. */
int state_scan_prefix(struct state_txn *t, MDB_dbi dbi, const struct state_key *prefix,
                      state_kv_cb cb, void *ctx, char *err, size_t n)
{
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, dbi, &c);
    if (mrc)
        return state_mdb_fail(t->s, err, n, mrc, "opening a cursor");
    MDB_val k = state_kval(prefix), v;
    int rc = 0;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0 && has_prefix(&k, prefix);
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if ((rc = cb(&k, &v, ctx)) != 0)
            break;
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = state_mdb_fail(t->s, err, n, mrc, "scanning");
    mdb_cursor_close(c);
    return rc;
}

/* Deletes every key starting with prefix. Re-seeks after each delete: simple and always right,
 * whatever LMDB's cursor does after a delete. */
int state_delete_prefix(struct state_txn *t, MDB_dbi dbi, const struct state_key *prefix,
                        size_t *removed, char *err, size_t n)
{
    MDB_cursor *c;
    size_t cnt = 0;
    int mrc = mdb_cursor_open(t->txn, dbi, &c);
    if (mrc)
        return state_mdb_fail(t->s, err, n, mrc, "opening a cursor");
    for (;;) {
        MDB_val k = state_kval(prefix), v;
        mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (mrc || !has_prefix(&k, prefix))
            break;
        if ((mrc = mdb_cursor_del(c, 0)) != 0)
            break;
        cnt++;
    }
    mdb_cursor_close(c);
    if (removed)
        *removed = cnt;
    if (mrc && mrc != MDB_NOTFOUND)
        return state_mdb_fail(t->s, err, n, mrc, "deleting a key range");
    return 0;
}

static int count_cb(const MDB_val *k, const MDB_val *v, void *ctx)
{
    (void)k;
    (void)v;
    (*(size_t *)ctx)++;
    return 0;
}

/* ---- store and transactions ---- */

static int mkdir_p(const char *dir, char *err, size_t n)
{
    char *path = xstrdup(dir);
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            rc =
                state_seterr(err, n, STATE_ERR, "state store: mkdir %s: %s", path, strerror(errno));
            break;
        }
        *p = c;
        if (!c)
            break;
    }
    struct stat st;
    if (rc == 0 && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = state_seterr(err, n, STATE_ERR, "state store: %s is not a directory", dir);
    free(path);
    return rc;
}

/* The meta value under name: len random bytes made the first time, read every time after.
 * On failure the transaction is aborted. */
static int meta_random(struct state_store *s, MDB_txn *txn, const char *name, unsigned char *out,
                       size_t len, char *err, size_t n)
{
    MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name}, v;
    int mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        if (getrandom(out, len, 0) != (ssize_t)len) {
            mdb_txn_abort(txn);
            return state_seterr(err, n, STATE_ERR, "state store: getrandom: %s", strerror(errno));
        }
        v = (MDB_val){.mv_size = len, .mv_data = out};
        mrc = mdb_put(txn, s->meta, &k, &v, 0);
    } else if (mrc == 0 && v.mv_size == len) {
        memcpy(out, v.mv_data, len);
    } else if (mrc == 0) {
        mdb_txn_abort(txn);
        return state_seterr(err, n, STATE_ERR_CORRUPT, "state store: meta %s undecodable", name);
    }
    if (mrc) {
        mdb_txn_abort(txn);
        return state_mdb_fail(s, err, n, mrc, name);
    }
    return 0;
}

/* Opens the sub-databases and checks (or writes, on a new environment) the format version. */
static int open_dbs(struct state_store *s, char *err, size_t n)
{
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (mrc)
        return state_mdb_fail(s, err, n, mrc, "starting the setup transaction");
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"meta", &s->meta},       {"partitions", &s->parts}, {"persons", &s->persons},
               {"members", &s->members}, {"imports", &s->imports},  {"seen", &s->seen}};
    for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]) && !mrc; i++)
        mrc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi);
    if (mrc) {
        mdb_txn_abort(txn);
        return state_mdb_fail(s, err, n, mrc, "opening the sub-databases");
    }
    MDB_val k = {.mv_size = 6, .mv_data = "format"}, v;
    unsigned char want[4] = {0, 0, 0, STATE_FORMAT_VERSION};
    /* Format 2 is format 3 without the no-op digests: it is upgraded in place, and from then on
     * a reconciler that knows only format 2 refuses the store rather than misread it. */
    unsigned char older[4] = {0, 0, 0, 2};
    mrc = mdb_get(txn, s->meta, &k, &v);
    if (mrc == MDB_NOTFOUND || (mrc == 0 && v.mv_size == 4 && memcmp(v.mv_data, older, 4) == 0)) {
        v = (MDB_val){.mv_size = 4, .mv_data = want};
        mrc = mdb_put(txn, s->meta, &k, &v, 0);
    } else if (mrc == 0 && (v.mv_size != 4 || memcmp(v.mv_data, want, 4) != 0)) {
        unsigned got = v.mv_size == 4 ? (unsigned)((const unsigned char *)v.mv_data)[3] : 0;
        mdb_txn_abort(txn);
        return state_seterr(
            err, n, STATE_ERR_FORMAT,
            "state store: format version %u on disk, this build uses %d: remove the "
            "state directory, the reconciler rebuilds it from LDAP",
            got, STATE_FORMAT_VERSION);
    }
    if (mrc) {
        mdb_txn_abort(txn);
        return state_mdb_fail(s, err, n, mrc, "checking the format version");
    }
    /* The store's own random id: it tells this store's slices from any other member's. */
    unsigned char id[8];
    int rc;
    if ((rc = meta_random(s, txn, "store_id", id, sizeof(id), err, n)) != 0)
        return rc;
    s->id = 0;
    for (int i = 0; i < 8; i++)
        s->id = s->id << 8 | id[i];
    /* The key of the no-op digests (record_digest.h): secret to this store. */
    if ((rc = meta_random(s, txn, "digest_key", s->digest_key, STATE_DIGEST_LEN, err, n)) != 0)
        return rc;
    if ((mrc = mdb_txn_commit(txn)) != 0)
        return state_mdb_fail(s, err, n, mrc, "committing the setup transaction");
    return 0;
}

int state_store_open(const char *dir, size_t map_size_bytes, bool durable, struct state_store **out,
                     char *err, size_t n)
{
    *out = NULL;
    int rc = mkdir_p(dir, err, n);
    if (rc)
        return rc;
    struct state_store *s = xcalloc(1, sizeof(*s));
    s->map_size = map_size_bytes ? map_size_bytes : STATE_STORE_DEFAULT_MAP_SIZE;
    int mrc = mdb_env_create(&s->env);
    if (mrc) {
        rc = state_mdb_fail(s, err, n, mrc, "creating the environment");
        s->env = NULL;
        goto out;
    }
    unsigned flags = MDB_NOTLS | (durable ? 0 : MDB_NOSYNC);
    if ((mrc = mdb_env_set_mapsize(s->env, s->map_size)) != 0 ||
        (mrc = mdb_env_set_maxdbs(s->env, 8)) != 0 ||
        (mrc = mdb_env_open(s->env, dir, flags, 0600)) != 0) {
        char what[300];
        snprintf(what, sizeof(what), "opening %s", dir);
        rc = state_mdb_fail(s, err, n, mrc, what);
        goto out;
    }
    int dead;
    mdb_reader_check(s->env, &dead); /* frees reader slots of crashed processes */
    s->max_key = (size_t)mdb_env_get_maxkeysize(s->env);
    if (s->max_key > STATE_KEY_CAP - 1)
        s->max_key = STATE_KEY_CAP - 1;
    rc = open_dbs(s, err, n);
out:
    if (rc) {
        state_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

uint64_t state_store_id(const struct state_store *s)
{
    return s->id;
}

void state_store_close(struct state_store *s)
{
    if (!s)
        return;
    if (s->env)
        mdb_env_close(s->env);
    state_codec_buf_free(&s->enc);
    state_codec_buf_free(&s->enc2);
    free(s);
}

int state_txn_begin(struct state_store *s, bool write, struct state_txn **out, char *err, size_t n)
{
    *out = NULL;
    if (write && s->in_write)
        return state_seterr(err, n, STATE_ERR_INVALID,
                            "state store: a write transaction is already open");
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &txn);
    if (mrc == MDB_MAP_RESIZED) { /* another process grew the map: adopt its size */
        mdb_env_set_mapsize(s->env, 0);
        mrc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &txn);
    }
    if (mrc)
        return state_mdb_fail(s, err, n, mrc, "starting a transaction");
    struct state_txn *t = xmalloc(sizeof(*t));
    *t = (struct state_txn){.s = s, .txn = txn, .write = write};
    if (write)
        s->in_write = true;
    *out = t;
    return 0;
}

static void txn_end(struct state_txn *t)
{
    if (t->write)
        t->s->in_write = false;
    free(t);
}

int state_txn_commit(struct state_txn *t, char *err, size_t n)
{
    int mrc = mdb_txn_commit(t->txn);
    int rc = mrc ? state_mdb_fail(t->s, err, n, mrc, "committing") : 0;
    txn_end(t);
    return rc;
}

void state_txn_abort(struct state_txn *t)
{
    if (!t)
        return;
    mdb_txn_abort(t->txn);
    txn_end(t);
}

/* ---- persons ---- */

/* Reads and decodes the person under k: 0 found, 1 not found, < 0 error. */
static int person_load(struct state_txn *t, int32_t part, const struct state_key *k,
                       struct person *out, char *err, size_t n)
{
    MDB_val kv = state_kval(k), v;
    memset(out, 0, sizeof(*out));
    int mrc = mdb_get(t->txn, t->s->persons, &kv, &v);
    if (mrc == MDB_NOTFOUND)
        return 1;
    if (mrc)
        return state_mdb_fail(t->s, err, n, mrc, "reading a person");
    char why[200];
    if (state_codec_person_decode(v.mv_data, v.mv_size, out, why, sizeof(why)) != 0)
        return state_seterr(err, n, STATE_ERR_CORRUPT,
                            "state store: partition %d, person key '%.*s': %s", (int)part,
                            (int)(k->len - 4), (const char *)k->b + 4, why);
    return 0;
}

int state_person_get(struct state_txn *t, int32_t partition, const char *record_uid,
                     struct person *out, char *err, size_t n)
{
    struct state_key k;
    memset(out, 0, sizeof(*out));
    int rc = person_key(t, partition, record_uid, &k, err, n);
    return rc ? rc : person_load(t, partition, &k, out, err, n);
}

/* ASCII case-insensitive equality, the same folding as the keys (the C library's one
 * follows the locale). */
static bool ascii_caseeq(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        x = x >= 'A' && x <= 'Z' ? (unsigned char)(x + 32) : x;
        y = y >= 'A' && y <= 'Z' ? (unsigned char)(y + 32) : y;
        if (x != y)
            return false;
        if (!x)
            return true;
    }
}

static bool has_school(const struct person *p, const char *school)
{
    for (size_t i = 0; i < p->n_schools; i++)
        if (ascii_caseeq(p->schools[i], school))
            return true;
    return false;
}

static bool has_null(char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!v[i])
            return true;
    return false;
}

/* Everything put checks before writing anything, so STATE_ERR_INVALID leaves t usable. */
static int person_validate(const struct state_txn *t, int32_t part, const struct person *p,
                           char *err, size_t n)
{
    struct state_key k;
    int rc = person_key(t, part, p->record_uid, &k, err, n);
    if (rc || (rc = state_check_str(p->source_uid, "source_uid", err, n)))
        return rc;
    if (p->limbo && p->n_schools)
        return state_seterr(err, n, STATE_ERR_INVALID,
                            "state store: person %s is in limbo but has %zu schools", p->record_uid,
                            p->n_schools);
    for (size_t i = 0; i < p->n_schools; i++) {
        rc = member_key(t, part, p->source_uid, p->schools[i], p->role, p->record_uid, &k, err, n);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (ascii_caseeq(p->schools[i], p->schools[j]))
                return state_seterr(err, n, STATE_ERR_INVALID,
                                    "state store: person %s lists school %s twice", p->record_uid,
                                    p->schools[i]);
    }
    bool bad = (unsigned)p->role >= ROLE_COUNT;
    for (size_t i = 0; i < p->n_classes && !bad; i++)
        bad = !p->classes[i].school || has_null(p->classes[i].classes, p->classes[i].n_classes);
    for (size_t i = 0; i < p->n_attrs && !bad; i++)
        bad = !p->attrs[i].name || has_null(p->attrs[i].values, p->attrs[i].n_values);
    if (bad)
        return state_seterr(err, n, STATE_ERR_INVALID,
                            "state store: person %s: invalid role, or a NULL class, attribute "
                            "name or value",
                            p->record_uid);
    return 0;
}

static bool same_group(const struct person *a, const struct person *b)
{
    return a->role == b->role && ascii_caseeq(a->source_uid, b->source_uid);
}

/* Brings the members index from old's (source_uid, school, role) set to neu's. Either may be
 * NULL. Only differences are written. */
static int members_update(struct state_txn *t, int32_t part, const struct person *old,
                          const struct person *neu, char *err, size_t n)
{
    struct state_key k;
    int rc, mrc;
    for (size_t i = 0; old && i < old->n_schools; i++) {
        if (neu && same_group(old, neu) && has_school(neu, old->schools[i]))
            continue;
        if ((rc = member_key(t, part, old->source_uid, old->schools[i], old->role, old->record_uid,
                             &k, err, n)) != 0)
            return rc;
        MDB_val kv = state_kval(&k);
        mrc = mdb_del(t->txn, t->s->members, &kv, NULL);
        if (mrc && mrc != MDB_NOTFOUND)
            return state_mdb_fail(t->s, err, n, mrc, "removing a member");
    }
    bool keep = old && neu && same_group(old, neu) && strcmp(old->record_uid, neu->record_uid) == 0;
    for (size_t i = 0; neu && i < neu->n_schools; i++) {
        if (keep && has_school(old, neu->schools[i]))
            continue;
        if ((rc = member_key(t, part, neu->source_uid, neu->schools[i], neu->role, neu->record_uid,
                             &k, err, n)) != 0)
            return rc;
        MDB_val kv = state_kval(&k);
        MDB_val v = {.mv_size = strlen(neu->record_uid), .mv_data = neu->record_uid};
        if ((mrc = mdb_put(t->txn, t->s->members, &kv, &v, 0)) != 0)
            return state_mdb_fail(t->s, err, n, mrc, "adding a member");
    }
    return 0;
}

static int person_put(struct state_txn *t, int32_t partition, const struct person *p,
                      const unsigned char *noop, char *err, size_t n);

int state_person_put(struct state_txn *t, int32_t partition, const struct person *p, char *err,
                     size_t n)
{
    return person_put(t, partition, p, NULL, err, n);
}

int state_person_put_noop(struct state_txn *t, int32_t partition, const struct person *p,
                          const unsigned char digest[STATE_DIGEST_LEN], char *err, size_t n)
{
    return person_put(t, partition, p, digest, err, n);
}

int state_person_noop_check(struct state_txn *t, int32_t partition, const char *record_uid,
                            const unsigned char digest[STATE_DIGEST_LEN], char *err, size_t n)
{
    struct state_key k;
    int rc = person_key(t, partition, record_uid, &k, err, n);
    if (rc)
        return rc;
    MDB_val kv = state_kval(&k), v;
    int mrc = mdb_get(t->txn, t->s->persons, &kv, &v);
    if (mrc == MDB_NOTFOUND)
        return 0;
    if (mrc)
        return state_mdb_fail(t->s, err, n, mrc, "reading a person");
    return state_codec_person_has_noop(v.mv_data, v.mv_size, digest) ? 1 : 0;
}

int state_person_noop_add(struct state_txn *t, int32_t partition, const char *record_uid,
                          const unsigned char digest[STATE_DIGEST_LEN], char *err, size_t n)
{
    struct state_key k;
    int rc = state_need_write(t, err, n);
    if (rc || (rc = person_key(t, partition, record_uid, &k, err, n)) != 0)
        return rc;
    MDB_val kv = state_kval(&k), v;
    int mrc = mdb_get(t->txn, t->s->persons, &kv, &v);
    if (mrc == MDB_NOTFOUND)
        return 1;
    if (mrc)
        return state_mdb_fail(t->s, err, n, mrc, "reading a person");
    state_codec_person_add_noop(v.mv_data, v.mv_size, digest, &t->s->enc);
    v = (MDB_val){.mv_size = t->s->enc.len, .mv_data = t->s->enc.p};
    mrc = mdb_put(t->txn, t->s->persons, &kv, &v, 0);
    return mrc ? state_mdb_fail(t->s, err, n, mrc, "writing a person") : 0;
}

void state_store_digest_key(const struct state_store *s, unsigned char key[STATE_DIGEST_LEN])
{
    memcpy(key, s->digest_key, STATE_DIGEST_LEN);
}

static int person_put(struct state_txn *t, int32_t partition, const struct person *p,
                      const unsigned char *noop, char *err, size_t n)
{
    struct person old;
    struct state_key k;
    int rc = state_need_write(t, err, n);
    if (rc || (rc = person_validate(t, partition, p, err, n)) != 0)
        return rc;
    person_key(t, partition, p->record_uid, &k, err, n);
    int found = person_load(t, partition, &k, &old, err, n);
    if (found < 0)
        return found;
    rc = members_update(t, partition, found == 0 ? &old : NULL, p, err, n);
    person_free(&old);
    if (rc)
        return rc;
    state_codec_person_encode(p, &t->s->enc);
    struct state_buf *out = &t->s->enc;
    if (noop) {
        state_codec_person_add_noop(t->s->enc.p, t->s->enc.len, noop, &t->s->enc2);
        out = &t->s->enc2;
    }
    MDB_val kv = state_kval(&k), v = {.mv_size = out->len, .mv_data = out->p};
    int mrc = mdb_put(t->txn, t->s->persons, &kv, &v, 0);
    return mrc ? state_mdb_fail(t->s, err, n, mrc, "writing a person") : 0;
}

int state_person_del(struct state_txn *t, int32_t partition, const char *record_uid, char *err,
                     size_t n)
{
    struct person old;
    struct state_key k;
    int rc = state_need_write(t, err, n);
    if (rc || (rc = person_key(t, partition, record_uid, &k, err, n)) != 0)
        return rc;
    if ((rc = person_load(t, partition, &k, &old, err, n)) != 0)
        return rc;
    rc = members_update(t, partition, &old, NULL, err, n);
    person_free(&old);
    if (rc)
        return rc;
    MDB_val kv = state_kval(&k);
    int mrc = mdb_del(t->txn, t->s->persons, &kv, NULL);
    return mrc ? state_mdb_fail(t->s, err, n, mrc, "deleting a person") : 0;
}

struct persons_ctx {
    int32_t part;
    state_person_cb cb;
    void *opaque;
    char *err;
    size_t n;
};

static int persons_cb(const MDB_val *k, const MDB_val *v, void *ctx)
{
    struct persons_ctx *c = ctx;
    struct person p;
    char why[200];
    if (state_codec_person_decode(v->mv_data, v->mv_size, &p, why, sizeof(why)) != 0)
        return state_seterr(c->err, c->n, STATE_ERR_CORRUPT,
                            "state store: partition %d, person key '%.*s': %s", (int)c->part,
                            (int)(k->mv_size - 4), (const char *)k->mv_data + 4, why);
    int rc = c->cb(&p, c->opaque);
    person_free(&p);
    return rc;
}

int state_persons_each(struct state_txn *t, int32_t partition, state_person_cb cb, void *opaque,
                       char *err, size_t n)
{
    struct state_key k;
    int rc = state_check_part(partition, err, n);
    if (rc)
        return rc;
    state_key_init(&k, partition);
    struct persons_ctx c = {partition, cb, opaque, err, n};
    return state_scan_prefix(t, t->s->persons, &k, persons_cb, &c, err, n);
}

int state_person_count(struct state_txn *t, int32_t partition, size_t *out, char *err, size_t n)
{
    struct state_key k;
    *out = 0;
    int rc = state_check_part(partition, err, n);
    if (rc)
        return rc;
    state_key_init(&k, partition);
    return state_scan_prefix(t, t->s->persons, &k, count_cb, out, err, n);
}

/* ---- members index ---- */

/* Collects a member set (optionally minus an import's seen set) before any callback runs, so
 * the callbacks may change the index. The uids are NUL-terminated, back to back in buf. */
struct members_ctx {
    struct state_txn *t;
    struct state_buf buf;
    size_t count;
    size_t member_prefix;  /* length of the members prefix: the key's rest is lc(record_uid) */
    bool filter;           /* skip uids in the seen set */
    struct state_key seen; /* the seen prefix, extended by each uid */
    size_t seen_prefix;
    char *err;
    size_t n;
};

static int members_collect_cb(const MDB_val *k, const MDB_val *v, void *ctx)
{
    struct members_ctx *c = ctx;
    if (c->filter) {
        size_t rest = k->mv_size - c->member_prefix;
        if (c->seen_prefix + rest <= c->t->s->max_key) { /* else it can never have been seen */
            memcpy(c->seen.b + c->seen_prefix, (const char *)k->mv_data + c->member_prefix, rest);
            c->seen.len = c->seen_prefix + rest;
            MDB_val sk = state_kval(&c->seen), sv;
            int mrc = mdb_get(c->t->txn, c->t->s->seen, &sk, &sv);
            if (mrc == 0)
                return 0;
            if (mrc != MDB_NOTFOUND)
                return state_mdb_fail(c->t->s, c->err, c->n, mrc, "reading the seen set");
        }
    }
    state_codec_buf_append(&c->buf, v->mv_data, v->mv_size);
    state_codec_buf_append(&c->buf, "", 1);
    c->count++;
    return 0;
}

static int members_run(struct state_txn *t, int32_t part, const char *sid, const char *school,
                       enum role role, const char *import_id, state_uid_cb cb, void *opaque,
                       char *err, size_t n)
{
    struct members_ctx c = {.t = t, .err = err, .n = n, .filter = import_id != NULL};
    struct state_key k;
    int rc = member_key(t, part, sid, school, role, NULL, &k, err, n);
    if (rc || (import_id && (rc = state_seen_key(t, part, import_id, NULL, &c.seen, err, n)) != 0))
        return rc;
    c.member_prefix = k.len;
    c.seen_prefix = c.seen.len;
    rc = state_scan_prefix(t, t->s->members, &k, members_collect_cb, &c, err, n);
    const char *uid = (const char *)c.buf.p;
    for (size_t i = 0; rc == 0 && i < c.count; i++) {
        rc = cb(uid, opaque);
        uid += strlen(uid) + 1;
    }
    state_codec_buf_free(&c.buf);
    return rc;
}

int state_members_each(struct state_txn *t, int32_t partition, const char *source_uid,
                       const char *school, enum role role, state_uid_cb cb, void *opaque, char *err,
                       size_t n)
{
    return members_run(t, partition, source_uid, school, role, NULL, cb, opaque, err, n);
}

int state_members_unseen_each(struct state_txn *t, int32_t partition, const char *source_uid,
                              const char *school, enum role role, const char *import_id,
                              state_uid_cb cb, void *opaque, char *err, size_t n)
{
    int rc = state_check_str(import_id, "import_id", err, n);
    return rc ? rc
              : members_run(t, partition, source_uid, school, role, import_id, cb, opaque, err, n);
}

int state_member_count(struct state_txn *t, int32_t partition, const char *source_uid,
                       const char *school, enum role role, size_t *out, char *err, size_t n)
{
    struct state_key k;
    *out = 0;
    int rc = member_key(t, partition, source_uid, school, role, NULL, &k, err, n);
    return rc ? rc : state_scan_prefix(t, t->s->members, &k, count_cb, out, err, n);
}
