/*
 * state_store_int: what state_store.c and state_bookkeeping.c share: the store and transaction
 * structs, key building and LMDB helpers. Private to the state store; nothing else includes it.
 */
#ifndef SISOPI_STATE_STORE_INT_H
#define SISOPI_STATE_STORE_INT_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state_codec.h"
#include "state_store.h"

#define STATE_KEY_CAP 512 /* LMDB's default (and usual) maximum key size is 511 */

struct state_store {
    MDB_env *env;
    MDB_dbi meta, parts, persons, members, imports, seen;
    size_t map_size;
    size_t max_key;
    uint64_t id;           /* random, made when the environment was created */
    bool in_write;         /* one write transaction at a time */
    struct state_buf enc;  /* encode buffer, used only by the write transaction */
    struct state_buf enc2; /* a second one, for a value built from an encoding */
    unsigned char digest_key[STATE_DIGEST_LEN]; /* random, made with the environment */
};

struct state_txn {
    struct state_store *s;
    MDB_txn *txn;
    bool write;
};

struct state_key {
    unsigned char b[STATE_KEY_CAP];
    size_t len;
};

static inline MDB_val state_kval(const struct state_key *k)
{
    return (MDB_val){.mv_size = k->len, .mv_data = (void *)k->b};
}

/* Formats err[n] (if err) and returns rc. */
int state_seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps an LMDB error to a STATE_ERR_* with a message naming what was being done. */
int state_mdb_fail(const struct state_store *s, char *err, size_t errlen, int mrc,
                   const char *what);

/* Starts k with the 4-byte big-endian partition. */
void state_key_init(struct state_key *k, int32_t part);
/* Appends s (ASCII-lower-cased if fold) and, if sep, a NUL; false if it does not fit. */
bool state_key_add(struct state_key *k, const char *s, bool fold, bool sep);
/* STATE_ERR_INVALID unless ok (built without overflow) and k fits LMDB's key size. */
int state_key_check(const struct state_txn *t, bool ok, const struct state_key *k, const char *what,
                    char *err, size_t errlen);
int state_check_part(int32_t part, char *err, size_t errlen);
/* STATE_ERR_INVALID for a NULL or empty s. */
int state_check_str(const char *s, const char *what, char *err, size_t errlen);
int state_need_write(const struct state_txn *t, char *err, size_t errlen);
/* The seen key; rid NULL builds the prefix of the import's whole seen set. */
int state_seen_key(const struct state_txn *t, int32_t part, const char *import_id, const char *rid,
                   struct state_key *k, char *err, size_t errlen);

typedef int (*state_kv_cb)(const MDB_val *k, const MDB_val *v, void *ctx);
/* Calls cb for every key starting with prefix; a non-zero cb result stops and is returned. */
int state_scan_prefix(struct state_txn *t, MDB_dbi dbi, const struct state_key *prefix,
                      state_kv_cb cb, void *ctx, char *err, size_t errlen);
/* Deletes every key starting with prefix; *removed (may be NULL) gets the count. */
int state_delete_prefix(struct state_txn *t, MDB_dbi dbi, const struct state_key *prefix,
                        size_t *removed, char *err, size_t errlen);

#endif
