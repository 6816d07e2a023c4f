/*
 * state_store: the reconciler's state table in LMDB: a cache of the directory (one struct person
 * per record_uid) plus the bookkeeping of open imports, partitioned like the sisopi.users topic.
 *
 * One LMDB environment per reconciler process holds the slices of every partition it owns. Every
 * key starts with the partition as a 4-byte big-endian integer, so one partition's slice can be
 * scanned, dropped or rebuilt on its own. Named sub-databases and key layouts (format 1):
 *
 *   meta        "format"                          -> u32 BE format version (STATE_FORMAT_VERSION)
 *               "epoch_seq"                       -> u64 BE last slice epoch handed out
 *               "store_id"                        -> u64 BE random id of this environment
 *               "digest_key"                      -> 16 random bytes: the no-op digests' key
 *   partitions  P                                 -> 18 bytes: version, flags (1 complete,
 *                                                    2 has offset), u64 BE epoch, i64 BE offset
 *   persons     P lc(record_uid)                  -> person blob (state_codec.h)
 *   members     P lc(source_uid) 00 lc(school) 00 role-byte lc(record_uid)
 *                                                 -> record_uid as given
 *   imports     P import_id                       -> import_state blob
 *   seen        P import_id 00 lc(record_uid)     -> (empty)
 *
 * P = partition, 4 bytes big-endian; lc() = ASCII lower-case. The members index uses composite
 * keys, not DUPSORT: one key per (person, school), so a set is a prefix range, uniqueness is
 * case-insensitive without a custom comparator, and mdb_dump output stays readable.
 *
 * Case: record_uid, source_uid and school compare case-insensitively in LDAP (caseIgnoreMatch),
 * so the keys fold ASCII A-Z to a-z (non-ASCII bytes are kept: this is narrower than LDAP's
 * Unicode folding, which school names ([A-Za-z0-9_-]) never need). The values keep the spelling
 * as given: state_person_get("ABC") finds the person stored as "abc" and returns "abc".
 * import_id is an opaque, case-sensitive token. LMDB limits a key to 511 bytes, so
 * source_uid + school + record_uid must stay under ~500 bytes together; longer input is
 * refused with STATE_ERR_INVALID before anything is written.
 *
 * Threads: written for the reconciler's single thread. The environment is opened with
 * MDB_NOTLS, so read transactions are not tied to a thread, but one store allows one write
 * transaction at a time: a second state_txn_begin(write) while one is open fails with
 * STATE_ERR_INVALID (in LMDB it would deadlock the thread). A transaction must not be used by
 * two threads at once. Commit per batch (~1000 messages), not per record.
 *
 * Ownership: the store owns the environment; a transaction is owned by its caller until
 * state_txn_commit()/state_txn_abort() (both always end it). Input structs and strings are only
 * read (copied into LMDB); output structs are filled with heap copies the caller releases with
 * person_free()/import_state_free(). Strings passed to callbacks are valid during the call only.
 *
 * Return codes: 0 OK; a documented positive value (1: not found; for state_seen_add: newly
 * added); negative STATE_ERR_*, with a message in err[n] (err may be NULL). After any negative code
 * from a write other than STATE_ERR_INVALID the transaction is unusable: abort it (LMDB marks it
 * failed).
 */
#ifndef SISOPI_STATE_STORE_H
#define SISOPI_STATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "person.h"
#include "records.h"

#define STATE_FORMAT_VERSION 3 /* 2: person v2, import v2; 3: persons may carry no-op digests */
#define STATE_DIGEST_LEN     16
/* Default LMDB map size: 4 GiB of address space, a sparse file that grows as used. */
#define STATE_STORE_DEFAULT_MAP_SIZE ((size_t)4 << 30)

enum state_err {
    STATE_ERR = -1,         /* LMDB or system error */
    STATE_ERR_FULL = -2,    /* map full (raise the map size) or too many changes in one txn */
    STATE_ERR_FORMAT = -3,  /* the environment was written by an incompatible build: rebuild */
    STATE_ERR_CORRUPT = -4, /* a stored value does not decode: drop and rebuild the partition */
    STATE_ERR_INVALID = -5, /* bad input (key too long, limbo with schools...); nothing written */
};

enum state_import_status {
    STATE_IMPORT_OPEN = 0,       /* records arriving, no ImportEnd yet */
    STATE_IMPORT_HELD = 1,       /* deletion guard tripped: waiting for a release */
    STATE_IMPORT_COMPLETED = 2,  /* removals applied */
    STATE_IMPORT_INCOMPLETE = 3, /* ImportEnd count did not match: nobody removed */
};
#define STATE_IMPORT_STATUS_COUNT 4

/* "open", "held", "completed", "incomplete". */
const char *state_import_status_name(enum state_import_status s);

/* One import as seen by one partition. */
struct import_state {
    char *import_id; /* required */
    char *source_uid;
    char *school;
    enum role role;
    int64_t records_seen; /* distinct record_uids of this import applied in this partition */
    int64_t first_offset; /* -1: none yet */
    int64_t last_offset;  /* -1: none yet */
    enum state_import_status status;
    int64_t ended_at_offset;  /* offset of the ImportEnd, -1 before */
    int64_t expected_records; /* ImportEnd's record_count for this partition, -1 before */
    int64_t produced_at_ms;   /* ImportEnd's produced_at (purge dates derive from it), 0 before */
    struct import_counts counts; /* outcomes so far, for the ImportCompleted event */
    bool dry_run;
};

/* Frees the members (not the struct) and zeroes it. NULL is fine. */
void import_state_free(struct import_state *s);

struct state_store;
struct state_txn;

/* Opens (creating it and missing parents, mode 0700) the environment in directory dir.
 * map_size_bytes 0 = STATE_STORE_DEFAULT_MAP_SIZE. durable=false sets MDB_NOSYNC (tests,
 * benchmarks: a crash may lose the last commits, never corrupt). An environment of another
 * format version fails with STATE_ERR_FORMAT. *out is closed with state_store_close(). */
int state_store_open(const char *dir, size_t map_size_bytes, bool durable, struct state_store **out,
                     char *err, size_t errlen);
/* The store's random 64-bit id, made when its environment was created: with a slice's epoch it
 * names that slice among every member's (the owner in the journal's commit mark). */
uint64_t state_store_id(const struct state_store *s);
/* Closes the store; every transaction must have ended. NULL is fine. */
void state_store_close(struct state_store *s);

/* Starts a transaction (write=false: a read-only snapshot). */
int state_txn_begin(struct state_store *s, bool write, struct state_txn **out, char *err,
                    size_t errlen);
/* Commits and ends t, also on failure. A read transaction just ends. */
int state_txn_commit(struct state_txn *t, char *err, size_t errlen);
/* Discards t's changes and ends it. NULL is fine. */
void state_txn_abort(struct state_txn *t);

/* ---- persons ---- */

/* 0 found (*out filled; free with person_free), 1 not found (*out zeroed), < 0 error. */
int state_person_get(struct state_txn *t, int32_t partition, const char *record_uid,
                     struct person *out, char *err, size_t errlen);
/* Inserts or replaces the person keyed by p->record_uid, and updates the members index from
 * the difference between the old and the new (source_uid, school, role) sets. */
int state_person_put(struct state_txn *t, int32_t partition, const struct person *p, char *err,
                     size_t errlen);
/* state_person_put, the value carrying digest: a record seen to change nothing in p. */
int state_person_put_noop(struct state_txn *t, int32_t partition, const struct person *p,
                          const unsigned char digest[STATE_DIGEST_LEN], char *err, size_t errlen);
/* No-op digests (record_digest.h): 1 if the person's stored state carries digest (a record
 * with that digest changes nothing in it), 0 if not or if there is no such person, < 0 error.
 * Reads the value's header only: no decoding. */
int state_person_noop_check(struct state_txn *t, int32_t partition, const char *record_uid,
                            const unsigned char digest[STATE_DIGEST_LEN], char *err, size_t errlen);
/* Adds digest to the person's stored state (which does not change otherwise): 0, 1 no such
 * person, < 0 error. Any later state_person_put drops the digests. */
int state_person_noop_add(struct state_txn *t, int32_t partition, const char *record_uid,
                          const unsigned char digest[STATE_DIGEST_LEN], char *err, size_t errlen);
/* The store's key for the digests (random, made with the environment). */
void state_store_digest_key(const struct state_store *s, unsigned char key[STATE_DIGEST_LEN]);
/* Deletes the person and its members entries: 0 deleted, 1 not found, < 0 error. */
int state_person_del(struct state_txn *t, int32_t partition, const char *record_uid, char *err,
                     size_t errlen);

/* Callback over record_uids; a non-zero return stops the iteration and is returned. */
typedef int (*state_uid_cb)(const char *record_uid, void *opaque);
/* Callback over persons; a non-zero return stops the iteration and is returned. */
typedef int (*state_person_cb)(const struct person *p, void *opaque);

/* Every person of the partition in key order. The callback must not write persons or members
 * in the same transaction (it runs under an open cursor). */
int state_persons_each(struct state_txn *t, int32_t partition, state_person_cb cb, void *opaque,
                       char *err, size_t errlen);
/* Number of persons in the partition (a scan of its key range). */
int state_person_count(struct state_txn *t, int32_t partition, size_t *out, char *err,
                       size_t errlen);

/* ---- members index: (source_uid, school, role) -> record_uids, maintained by put/del ---- */

/* Every record_uid (as given) with that source_uid, school and role, in key order. The set is
 * copied before the first call, so the callback may put/delete persons in the same txn. */
int state_members_each(struct state_txn *t, int32_t partition, const char *source_uid,
                       const char *school, enum role role, state_uid_cb cb, void *opaque, char *err,
                       size_t errlen);
/* The members not in import_id's seen set: the people an ImportEnd removes from the school.
 * Same snapshot rule as state_members_each(). */
int state_members_unseen_each(struct state_txn *t, int32_t partition, const char *source_uid,
                              const char *school, enum role role, const char *import_id,
                              state_uid_cb cb, void *opaque, char *err, size_t errlen);
/* Size of that member set (for the deletion guard's ratio). */
int state_member_count(struct state_txn *t, int32_t partition, const char *source_uid,
                       const char *school, enum role role, size_t *out, char *err, size_t errlen);

/* ---- imports and their seen sets ---- */

/* 0 found (*out filled; free with import_state_free), 1 not found, < 0 error. */
int state_import_get(struct state_txn *t, int32_t partition, const char *import_id,
                     struct import_state *out, char *err, size_t errlen);
/* Inserts or replaces the import keyed by s->import_id. */
int state_import_put(struct state_txn *t, int32_t partition, const struct import_state *s,
                     char *err, size_t errlen);
/* Deletes the import and all of its seen entries: 0 deleted, 1 not found (seen entries are
 * removed either way), < 0 error. */
int state_import_del(struct state_txn *t, int32_t partition, const char *import_id, char *err,
                     size_t errlen);
/* Every import of the partition, in import_id order (UUIDv7: oldest first). The callback must
 * not write imports in the same transaction. */
int state_imports_each(struct state_txn *t, int32_t partition,
                       int (*cb)(const struct import_state *s, void *opaque), void *opaque,
                       char *err, size_t errlen);

/* Remembers that import_id saw record_uid: 1 newly added, 0 already seen (a redelivery or a
 * duplicate: do not count it again), < 0 error. */
int state_seen_add(struct state_txn *t, int32_t partition, const char *import_id,
                   const char *record_uid, char *err, size_t errlen);
/* 0 seen, 1 not seen, < 0 error. */
int state_seen_has(struct state_txn *t, int32_t partition, const char *import_id,
                   const char *record_uid, char *err, size_t errlen);
/* Removes import_id's seen set (a prefix range; the import record stays). *removed (may be
 * NULL) gets the number of entries removed. */
int state_seen_clear(struct state_txn *t, int32_t partition, const char *import_id, size_t *removed,
                     char *err, size_t errlen);

/* ---- partitions: offsets, completeness, drop ---- */

/*
 * The next offset to process, written in the same transaction as the effects of the messages
 * before it. On assignment the reconciler compares it with the group's committed offset C:
 * state offset >= C: skip the messages below it (already applied); state offset < C or none:
 * another member processed [state offset, C), so the slice is stale: drop and rebuild it.
 */
struct state_partition_info {
    bool complete;       /* the slice was fully built (rebuilt from LDAP or kept since 0) */
    uint64_t epoch;      /* changes every time the slice is marked complete; 0 never */
    bool has_offset;     /* next_offset is set */
    int64_t next_offset; /* next offset to process */
};

/* 0 found, 1 nothing stored for the partition (*out zeroed), < 0 error. */
int state_partition_get(struct state_txn *t, int32_t partition, struct state_partition_info *out,
                        char *err, size_t errlen);
/* 0 found (*out set), 1 none stored, < 0 error. */
int state_offset_get(struct state_txn *t, int32_t partition, int64_t *out, char *err,
                     size_t errlen);
int state_offset_put(struct state_txn *t, int32_t partition, int64_t next_offset, char *err,
                     size_t errlen);
/* Marks the slice complete and gives it a new epoch (unique in this environment). */
int state_partition_mark_complete(struct state_txn *t, int32_t partition, char *err, size_t errlen);
/* 0 and *out set (false when nothing is stored), < 0 error. */
int state_partition_is_complete(struct state_txn *t, int32_t partition, bool *out, char *err,
                                size_t errlen);
/* Deletes every key of the partition in every sub-database (persons, members, imports, seen,
 * its offset and complete flag); other partitions are untouched. For rebuilds. */
int state_partition_drop(struct state_txn *t, int32_t partition, char *err, size_t errlen);

#endif
