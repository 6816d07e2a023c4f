/*
 * state_bookkeeping: the state store's bookkeeping of imports: the open imports, their seen
 * sets, and per partition the next offset, the slice's completeness, and dropping a slice.
 */
#include "state_store.h"

#include <lmdb.h>
#include <string.h>

#include "state_codec.h"
#include "state_store_int.h"

#define PART_REC_LEN    18
#define PART_COMPLETE   1u
#define PART_HAS_OFFSET 2u

static int import_key(const struct state_txn *t, int32_t part, const char *import_id,
                      struct state_key *k, char *err, size_t n)
{
    int rc = state_check_part(part, err, n);
    if (rc || (rc = state_check_str(import_id, "import_id", err, n)))
        return rc;
    state_key_init(k, part);
    return state_key_check(t, state_key_add(k, import_id, false, false), k, "import", err, n);
}

/* ---- imports and seen sets ---- */

int state_import_get(struct state_txn *t, int32_t partition, const char *import_id,
                     struct import_state *out, char *err, size_t n)
{
    struct state_key k;
    memset(out, 0, sizeof(*out));
    int rc = import_key(t, partition, import_id, &k, err, n);
    if (rc)
        return rc;
    MDB_val kv = state_kval(&k), v;
    int mrc = mdb_get(t->txn, t->s->imports, &kv, &v);
    if (mrc == MDB_NOTFOUND)
        return 1;
    if (mrc)
        return state_mdb_fail(t->s, err, n, mrc, "reading an import");
    char why[200];
    if (state_codec_import_decode(v.mv_data, v.mv_size, out, why, sizeof(why)) != 0)
        return state_seterr(err, n, STATE_ERR_CORRUPT, "state store: partition %d, import %s: %s",
                            (int)partition, import_id, why);
    return 0;
}

int state_import_put(struct state_txn *t, int32_t partition, const struct import_state *s,
                     char *err, size_t n)
{
    struct state_key k;
    int rc = state_need_write(t, err, n);
    if (rc || (rc = import_key(t, partition, s->import_id, &k, err, n)) != 0)
        return rc;
    if ((unsigned)s->role >= ROLE_COUNT || (unsigned)s->status >= STATE_IMPORT_STATUS_COUNT)
        return state_seterr(err, n, STATE_ERR_INVALID,
                            "state store: import %s: invalid role or status", s->import_id);
    state_codec_import_encode(s, &t->s->enc);
    MDB_val kv = state_kval(&k), v = {.mv_size = t->s->enc.len, .mv_data = t->s->enc.p};
    int mrc = mdb_put(t->txn, t->s->imports, &kv, &v, 0);
    return mrc ? state_mdb_fail(t->s, err, n, mrc, "writing an import") : 0;
}

int state_import_del(struct state_txn *t, int32_t partition, const char *import_id, char *err,
                     size_t n)
{
    struct state_key k;
    int rc = state_need_write(t, err, n);
    if (rc || (rc = import_key(t, partition, import_id, &k, err, n)) != 0)
        return rc;
    MDB_val kv = state_kval(&k);
    int mrc = mdb_del(t->txn, t->s->imports, &kv, NULL);
    if (mrc && mrc != MDB_NOTFOUND)
        return state_mdb_fail(t->s, err, n, mrc, "deleting an import");
    rc = state_seen_clear(t, partition, import_id, NULL, err, n);
    return rc ? rc : (mrc == MDB_NOTFOUND ? 1 : 0);
}

struct imports_ctx {
    int32_t part;
    int (*cb)(const struct import_state *s, void *opaque);
    void *opaque;
    char *err;
    size_t n;
};

static int imports_cb(const MDB_val *k, const MDB_val *v, void *ctx)
{
    struct imports_ctx *c = ctx;
    struct import_state s;
    char why[200];
    if (state_codec_import_decode(v->mv_data, v->mv_size, &s, why, sizeof(why)) != 0)
        return state_seterr(c->err, c->n, STATE_ERR_CORRUPT,
                            "state store: partition %d, import key '%.*s': %s", (int)c->part,
                            (int)(k->mv_size - 4), (const char *)k->mv_data + 4, why);
    int rc = c->cb(&s, c->opaque);
    import_state_free(&s);
    return rc;
}

int state_imports_each(struct state_txn *t, int32_t partition,
                       int (*cb)(const struct import_state *s, void *opaque), void *opaque,
                       char *err, size_t n)
{
    struct state_key k;
    int rc = state_check_part(partition, err, n);
    if (rc)
        return rc;
    state_key_init(&k, partition);
    struct imports_ctx c = {partition, cb, opaque, err, n};
    return state_scan_prefix(t, t->s->imports, &k, imports_cb, &c, err, n);
}

int state_seen_add(struct state_txn *t, int32_t partition, const char *import_id,
                   const char *record_uid, char *err, size_t n)
{
    struct state_key k;
    int rc = state_need_write(t, err, n);
    if (rc || (rc = state_seen_key(t, partition, import_id, record_uid, &k, err, n)) != 0)
        return rc;
    MDB_val kv = state_kval(&k), v = {.mv_size = 0, .mv_data = ""};
    int mrc = mdb_put(t->txn, t->s->seen, &kv, &v, MDB_NOOVERWRITE);
    if (mrc == MDB_KEYEXIST)
        return 0;
    return mrc ? state_mdb_fail(t->s, err, n, mrc, "adding to a seen set") : 1;
}

int state_seen_has(struct state_txn *t, int32_t partition, const char *import_id,
                   const char *record_uid, char *err, size_t n)
{
    struct state_key k;
    int rc = state_seen_key(t, partition, import_id, record_uid, &k, err, n);
    if (rc)
        return rc;
    MDB_val kv = state_kval(&k), v;
    int mrc = mdb_get(t->txn, t->s->seen, &kv, &v);
    if (mrc == MDB_NOTFOUND)
        return 1;
    return mrc ? state_mdb_fail(t->s, err, n, mrc, "reading a seen set") : 0;
}

int state_seen_clear(struct state_txn *t, int32_t partition, const char *import_id, size_t *removed,
                     char *err, size_t n)
{
    struct state_key k;
    if (removed)
        *removed = 0;
    int rc = state_need_write(t, err, n);
    if (rc || (rc = state_seen_key(t, partition, import_id, NULL, &k, err, n)) != 0)
        return rc;
    return state_delete_prefix(t, t->s->seen, &k, removed, err, n);
}

/* ---- partitions ---- */

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int part_read(struct state_txn *t, int32_t part, struct state_partition_info *out, char *err,
                     size_t n)
{
    struct state_key k;
    memset(out, 0, sizeof(*out));
    int rc = state_check_part(part, err, n);
    if (rc)
        return rc;
    state_key_init(&k, part);
    MDB_val kv = state_kval(&k), v;
    int mrc = mdb_get(t->txn, t->s->parts, &kv, &v);
    if (mrc == MDB_NOTFOUND)
        return 1;
    if (mrc)
        return state_mdb_fail(t->s, err, n, mrc, "reading a partition record");
    const unsigned char *p = v.mv_data;
    if (v.mv_size != PART_REC_LEN || p[0] != 1 || (p[1] & ~(PART_COMPLETE | PART_HAS_OFFSET)))
        return state_seterr(err, n, STATE_ERR_CORRUPT,
                            "state store: partition %d: record undecodable (%zu bytes)", (int)part,
                            v.mv_size);
    out->complete = p[1] & PART_COMPLETE;
    out->has_offset = p[1] & PART_HAS_OFFSET;
    out->epoch = get_be64(p + 2);
    out->next_offset = (int64_t)get_be64(p + 10);
    return 0;
}

static int part_write(struct state_txn *t, int32_t part, const struct state_partition_info *in,
                      char *err, size_t n)
{
    struct state_key k;
    unsigned char rec[PART_REC_LEN];
    state_key_init(&k, part);
    rec[0] = 1;
    rec[1] = (unsigned char)((in->complete ? PART_COMPLETE : 0) |
                             (in->has_offset ? PART_HAS_OFFSET : 0));
    put_be64(rec + 2, in->epoch);
    put_be64(rec + 10, (uint64_t)in->next_offset);
    MDB_val kv = state_kval(&k), v = {.mv_size = sizeof(rec), .mv_data = rec};
    int mrc = mdb_put(t->txn, t->s->parts, &kv, &v, 0);
    return mrc ? state_mdb_fail(t->s, err, n, mrc, "writing a partition record") : 0;
}

int state_partition_get(struct state_txn *t, int32_t partition, struct state_partition_info *out,
                        char *err, size_t n)
{
    return part_read(t, partition, out, err, n);
}

int state_offset_get(struct state_txn *t, int32_t partition, int64_t *out, char *err, size_t n)
{
    struct state_partition_info info;
    *out = 0;
    int rc = part_read(t, partition, &info, err, n);
    if (rc)
        return rc;
    if (!info.has_offset)
        return 1;
    *out = info.next_offset;
    return 0;
}

int state_offset_put(struct state_txn *t, int32_t partition, int64_t next_offset, char *err,
                     size_t n)
{
    struct state_partition_info info;
    int rc = state_need_write(t, err, n);
    if (rc || (rc = part_read(t, partition, &info, err, n)) < 0)
        return rc;
    if (next_offset < 0)
        return state_seterr(err, n, STATE_ERR_INVALID, "state store: invalid offset %lld",
                            (long long)next_offset);
    info.has_offset = true;
    info.next_offset = next_offset;
    return part_write(t, partition, &info, err, n);
}

int state_partition_mark_complete(struct state_txn *t, int32_t partition, char *err, size_t n)
{
    struct state_partition_info info;
    int rc = state_need_write(t, err, n);
    if (rc || (rc = part_read(t, partition, &info, err, n)) < 0)
        return rc;
    MDB_val k = {.mv_size = 9, .mv_data = "epoch_seq"}, v;
    unsigned char seq[8] = {0};
    int mrc = mdb_get(t->txn, t->s->meta, &k, &v);
    if (mrc == 0 && v.mv_size == 8)
        memcpy(seq, v.mv_data, 8);
    else if (mrc != MDB_NOTFOUND)
        return mrc ? state_mdb_fail(t->s, err, n, mrc, "reading the epoch counter")
                   : state_seterr(err, n, STATE_ERR_CORRUPT,
                                  "state store: epoch counter undecodable");
    info.epoch = get_be64(seq) + 1;
    put_be64(seq, info.epoch);
    v = (MDB_val){.mv_size = 8, .mv_data = seq};
    if ((mrc = mdb_put(t->txn, t->s->meta, &k, &v, 0)) != 0)
        return state_mdb_fail(t->s, err, n, mrc, "writing the epoch counter");
    info.complete = true;
    return part_write(t, partition, &info, err, n);
}

int state_partition_is_complete(struct state_txn *t, int32_t partition, bool *out, char *err,
                                size_t n)
{
    struct state_partition_info info;
    int rc = part_read(t, partition, &info, err, n);
    *out = rc == 0 && info.complete;
    return rc < 0 ? rc : 0;
}

int state_partition_drop(struct state_txn *t, int32_t partition, char *err, size_t n)
{
    struct state_key k;
    int rc = state_need_write(t, err, n);
    if (rc || (rc = state_check_part(partition, err, n)) != 0)
        return rc;
    state_key_init(&k, partition);
    MDB_dbi dbis[] = {t->s->persons, t->s->members, t->s->imports, t->s->seen, t->s->parts};
    for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]) && rc == 0; i++)
        rc = state_delete_prefix(t, dbis[i], &k, NULL, err, n);
    return rc;
}
