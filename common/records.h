/*
 * records: the plain C structs behind the messages of sisopi.users and sisopi.events.
 * The Avro codec (avro_codec.h) turns them into bytes and back; everything else works on these.
 *
 * Ownership: every char * and array in these structs is heap-allocated and owned by the struct;
 * the *_free() functions release the members (not the struct itself) and leave it zeroed.
 * A NULL string means "absent" (Avro null), which is different from "" (present, empty).
 */
#ifndef SISOPI_RECORDS_H
#define SISOPI_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum role {
    ROLE_STUDENT = 0,
    ROLE_TEACHER = 1,
    ROLE_STAFF = 2,
    ROLE_TEACHER_AND_STAFF = 3,
};
#define ROLE_COUNT 4

/* "student", "teacher", "staff", "teacher_and_staff". */
const char *role_name(enum role r);
/* Parses the names above; returns 0, or -1 for anything else. */
int role_parse(const char *s, enum role *out);

/* One extra attribute (a CSV column mapped to an LDAP attribute): name -> values. */
struct attr_values {
    char *name;
    char **values;
    size_t n_values;
};

/* The longest record_uid sisopi accepts, in bytes: it is a key of the state store and part
 * of LMDB keys, which hold at most 511 bytes. The ingest refuses longer ones per row. */
#define RECORD_UID_MAX_BYTES 255

/* A person as one school's export lists it. */
struct user_record {
    char *import_id;
    char *source_uid;
    char *school;
    enum role role;
    char *record_uid;
    char *firstname;
    char *lastname;
    char *username;      /* NULL: derive from the naming scheme */
    char *email;         /* NULL: not given; "" : remove the address */
    char *birthday;      /* NULL or yyyy-mm-dd */
    char *password_hash; /* NULL or an RFC 3112 / {CRYPT} hash; never plaintext */
    bool classes_given;  /* false: the class column is not mapped, keep the old classes */
    char **classes;      /* full class names "<school>-<name>", sorted, unique */
    size_t n_classes;
    struct attr_values *extra; /* sorted by name */
    size_t n_extra;
    int64_t line; /* line of the input file the record came from (1-based), 0 if none */
    bool dry_run;
    /* NULL, or the one block holding every string above (the arrays are allocated apart):
     * user_record_free frees it instead of each string. Set only by the wire reader. */
    char *arena;
};

/* The end of one import, written once to every partition of sisopi.users. */
/* The deletion guard's decision for a whole import (users.v2 ImportEnd.guard), taken once by
 * the producer and the same on every marker of the import. */
struct guard_decision {
    bool held;        /* no partition removes anyone until a release */
    int64_t removals; /* persons of the source, school and role the file did not list */
    int64_t members;  /* persons of the source, school and role in the directory */
    char *reason;     /* why it was held; NULL when not held */
};

struct import_end {
    char *import_id;
    char *source_uid;
    char *school;
    enum role role;
    int64_t produced_at_ms; /* Unix time in ms; purge dates derive from it */
    int64_t record_count;   /* records of this import written to this partition */
    int64_t first_offset;   /* offset of the first of them in this partition; -1: none */
    int32_t partition;      /* partition this marker was written to */
    int32_t partition_count;
    int64_t total_records; /* records of the whole import, all partitions */
    /* record_uids of rows that failed validation (tolerated errors) and would have gone to this
     * partition: listed by the school, but not published. They must be neither changed nor
     * removed, where the reference would take the school away from them. */
    char **kept_record_uids;
    size_t n_kept;
    bool dry_run;
    bool has_guard; /* false: the producer did not decide (users.v1, or another producer) */
    struct guard_decision guard;
};

/* The scheduler's order to purge a person whose grace period is over. */
struct purge_due {
    char *record_uid;
    int64_t purge_at_ms; /* the purge timestamp this order is for */
    int64_t produced_at_ms;
};

/* An operator's release of an import the deletion guard held, written to every partition. */
struct import_release {
    char *import_id;
    char *released_by; /* who released it (login name), for the audit trail */
    int64_t produced_at_ms;
};

enum users_msg_type {
    USERS_MSG_USER_RECORD = 0,
    USERS_MSG_IMPORT_END = 1,
    USERS_MSG_PURGE_DUE = 2,
    USERS_MSG_IMPORT_RELEASE = 3,
};

/* The envelope of sisopi.users: exactly one body. */
struct users_msg {
    enum users_msg_type type;
    union {
        struct user_record user;
        struct import_end end;
        struct purge_due purge;
        struct import_release release;
    } u;
};

enum event_type {
    EVENT_CREATED = 0,
    EVENT_MODIFIED,
    EVENT_SCHOOL_ADDED,
    EVENT_SCHOOL_REMOVED,
    EVENT_MOVED_TO_LIMBO,
    EVENT_REACTIVATED,
    EVENT_DELETED,
    EVENT_REJECTED,
    EVENT_IMPORT_COMPLETED,
    EVENT_IMPORT_HELD,
    EVENT_IMPORT_INCOMPLETE,
    EVENT_IMPORT_RELEASED,
};
#define EVENT_TYPE_COUNT 12

/* "Created", "Modified", ... as in schemas/events.v1.avsc. */
const char *event_type_name(enum event_type t);
int event_type_parse(const char *s, enum event_type *out);

struct import_counts {
    int64_t records;
    int64_t created;
    int64_t modified;
    int64_t unchanged;
    int64_t removed; /* lost this school but kept another */
    int64_t limbo;   /* lost their last school */
    int64_t errors;
};

/* Adds c to sum, field by field (an import's partitions together). */
void import_counts_add(struct import_counts *sum, const struct import_counts *c);

/* One outcome on sisopi.events. */
struct event {
    enum event_type type;
    int64_t produced_at_ms;
    char *record_uid; /* NULL for import summaries */
    char *import_id;  /* NULL when the cause is not an import */
    char *cause;      /* NULL, or e.g. "purge", "release" */
    char *source_uid;
    char *school;
    bool has_role;
    enum role role;
    char *input_topic; /* the input message this event answers, if any */
    int32_t input_partition;
    int64_t input_offset; /* -1: none */
    char *dn_before;
    char *dn_after;
    char **changed; /* names of the LDAP attributes changed */
    size_t n_changed;
    char *reason;        /* why: Rejected, ImportHeld, ImportIncomplete */
    int64_t purge_at_ms; /* 0: none */
    bool has_counts;     /* ImportCompleted/Held/Incomplete */
    struct import_counts counts;
    bool dry_run;
};

/*
 * Why a sisopi.users message breaks rules its Avro schema cannot express, or NULL: an empty
 * import_id, source_uid, school, record_uid or class; a control character (C0, DEL, C1) in
 * any string but an extra attribute's values, which may hold tabs and line breaks (the
 * ingest refuses control characters in every CSV value, so no other producer may send them
 * either); a negative count or line, an offset below -1. users_msg_misplaced() checks keys
 * and partitions. The reason is written to why[n] and returned. users_msg_decode() refuses
 * such messages, so every reader sees the same ones.
 */
const char *users_msg_invalid(const struct users_msg *m, char *why, size_t n);

/*
 * Why message m arrived where the contract of sisopi.users never puts it, or NULL: its key
 * must be the record_uid (UserRecord, PurgeDue) or the import_id (ImportEnd, ImportRelease),
 * a person's message must be in the partition of its record_uid (partitioner.h, Kafka's
 * murmur2 among partition_count), an ImportEnd in the partition it names. A person's state
 * lives in the partition of its record_uid only: a message elsewhere would act on no state
 * (create a second account) or on another reconciler's. key may be NULL (no key).
 */
const char *users_msg_misplaced(const struct users_msg *m, const void *key, size_t key_len,
                                int32_t partition, int32_t partition_count, char *why, size_t n);

void user_record_free(struct user_record *r);
void import_end_free(struct import_end *e);
void purge_due_free(struct purge_due *p);
void import_release_free(struct import_release *r);
void users_msg_free(struct users_msg *m);
void event_free(struct event *e);

#endif
