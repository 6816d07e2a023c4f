/*
 * avro_codec: records.h structs <-> Avro single-object encoding, through avro-c generic values.
 * Both directions go field by field, by name, from one table per struct (the tables below are
 * the contract with schemas/<family>.v<N>.avsc: name, C member, required or default).
 */
#include "avro_codec.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_registry.h"
#include "strutil.h"
#include "users_wire.h"

/* How a struct member maps to an Avro field. The writer's type only has to be compatible:
 * int or long for numbers, with or without a ["null", ...] union around it. */
enum fkind {
    K_STR,      /* char *; required: never null */
    K_OPT_STR,  /* char *; NULL <-> null */
    K_LONG,     /* int64_t */
    K_INT,      /* int32_t */
    K_BOOL,     /* bool */
    K_ROLE,     /* enum role as enum Role */
    K_OPT_ROLE, /* enum role; bool at aux says present, else null */
    K_EVTYPE,   /* enum event_type as enum EventType */
    K_STRV,     /* char ** with size_t count at aux: array<string> */
    K_OPT_STRV, /* as K_STRV, bool at aux2 says given, else null */
    K_EXTRA,    /* struct attr_values * with size_t count at aux */
    K_OPT_TIME, /* int64_t; 0 <-> null */
    K_COUNTS,   /* struct import_counts; bool at aux says present, else null */
    K_GUARD,    /* struct guard_decision; bool at aux says present, else null */
};

struct field {
    const char *name;
    enum fkind kind;
    bool required; /* an older writer without it cannot be read */
    size_t off, aux, aux2;
    int64_t dflt; /* numbers and booleans an older writer did not have */
};

/* clang-format off */
#define REQ(st, nm, k, m) {nm, k, true, offsetof(struct st, m), 0, 0, 0}
#define OPT(st, nm, k, m, d) {nm, k, false, offsetof(struct st, m), 0, 0, d}
#define OPTX(st, nm, k, m, a, a2) {nm, k, false, offsetof(struct st, m), a, a2, 0}
/* clang-format on */
#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static const struct field user_fields[] = {
    REQ(user_record, "import_id", K_STR, import_id),
    REQ(user_record, "source_uid", K_STR, source_uid),
    REQ(user_record, "school", K_STR, school),
    REQ(user_record, "role", K_ROLE, role),
    REQ(user_record, "record_uid", K_STR, record_uid),
    REQ(user_record, "firstname", K_STR, firstname),
    REQ(user_record, "lastname", K_STR, lastname),
    OPT(user_record, "username", K_OPT_STR, username, 0),
    OPT(user_record, "email", K_OPT_STR, email, 0),
    OPT(user_record, "birthday", K_OPT_STR, birthday, 0),
    OPT(user_record, "password_hash", K_OPT_STR, password_hash, 0),
    OPTX(user_record, "classes", K_OPT_STRV, classes, offsetof(struct user_record, n_classes),
         offsetof(struct user_record, classes_given)),
    OPTX(user_record, "extra", K_EXTRA, extra, offsetof(struct user_record, n_extra), 0),
    OPT(user_record, "line", K_LONG, line, 0),
    OPT(user_record, "dry_run", K_BOOL, dry_run, 0),
};

static const struct field end_fields[] = {
    REQ(import_end, "import_id", K_STR, import_id),
    REQ(import_end, "source_uid", K_STR, source_uid),
    REQ(import_end, "school", K_STR, school),
    REQ(import_end, "role", K_ROLE, role),
    REQ(import_end, "produced_at", K_LONG, produced_at_ms),
    REQ(import_end, "record_count", K_LONG, record_count),
    OPT(import_end, "first_offset", K_LONG, first_offset, -1),
    REQ(import_end, "partition", K_INT, partition),
    REQ(import_end, "partition_count", K_INT, partition_count),
    REQ(import_end, "total_records", K_LONG, total_records),
    OPTX(import_end, "kept_record_uids", K_STRV, kept_record_uids,
         offsetof(struct import_end, n_kept), 0),
    OPT(import_end, "dry_run", K_BOOL, dry_run, 0),
    OPTX(import_end, "guard", K_GUARD, guard, offsetof(struct import_end, has_guard), 0),
};

static const struct field guard_fields[] = {
    REQ(guard_decision, "held", K_BOOL, held),
    REQ(guard_decision, "removals", K_LONG, removals),
    REQ(guard_decision, "members", K_LONG, members),
    OPT(guard_decision, "reason", K_OPT_STR, reason, 0),
};

static const struct field purge_fields[] = {
    REQ(purge_due, "record_uid", K_STR, record_uid),
    REQ(purge_due, "purge_at", K_LONG, purge_at_ms),
    REQ(purge_due, "produced_at", K_LONG, produced_at_ms),
};

static const struct field release_fields[] = {
    REQ(import_release, "import_id", K_STR, import_id),
    REQ(import_release, "released_by", K_STR, released_by),
    REQ(import_release, "produced_at", K_LONG, produced_at_ms),
};

static const struct field counts_fields[] = {
    REQ(import_counts, "records", K_LONG, records),
    REQ(import_counts, "created", K_LONG, created),
    REQ(import_counts, "modified", K_LONG, modified),
    REQ(import_counts, "unchanged", K_LONG, unchanged),
    REQ(import_counts, "removed", K_LONG, removed),
    REQ(import_counts, "limbo", K_LONG, limbo),
    REQ(import_counts, "errors", K_LONG, errors),
};

static const struct field event_fields[] = {
    REQ(event, "type", K_EVTYPE, type),
    REQ(event, "produced_at", K_LONG, produced_at_ms),
    OPT(event, "record_uid", K_OPT_STR, record_uid, 0),
    OPT(event, "import_id", K_OPT_STR, import_id, 0),
    OPT(event, "cause", K_OPT_STR, cause, 0),
    OPT(event, "source_uid", K_OPT_STR, source_uid, 0),
    OPT(event, "school", K_OPT_STR, school, 0),
    OPTX(event, "role", K_OPT_ROLE, role, offsetof(struct event, has_role), 0),
    OPT(event, "input_topic", K_OPT_STR, input_topic, 0),
    OPT(event, "input_partition", K_INT, input_partition, -1),
    OPT(event, "input_offset", K_LONG, input_offset, -1),
    OPT(event, "dn_before", K_OPT_STR, dn_before, 0),
    OPT(event, "dn_after", K_OPT_STR, dn_after, 0),
    OPTX(event, "changed", K_STRV, changed, offsetof(struct event, n_changed), 0),
    OPT(event, "reason", K_OPT_STR, reason, 0),
    OPT(event, "purge_at", K_OPT_TIME, purge_at_ms, 0),
    OPTX(event, "counts", K_COUNTS, counts, offsetof(struct event, has_counts), 0),
    OPT(event, "dry_run", K_BOOL, dry_run, 0),
};

/* The users envelope's body branches, by record name (never by position). */
static const struct {
    const char *name;
    enum users_msg_type type;
    const struct field *fields;
    size_t n_fields;
} bodies[] = {
    {"UserRecord", USERS_MSG_USER_RECORD, user_fields, NFIELDS(user_fields)},
    {"ImportEnd", USERS_MSG_IMPORT_END, end_fields, NFIELDS(end_fields)},
    {"PurgeDue", USERS_MSG_PURGE_DUE, purge_fields, NFIELDS(purge_fields)},
    {"ImportRelease", USERS_MSG_IMPORT_RELEASE, release_fields, NFIELDS(release_fields)},
};

struct err {
    char *s;
    size_t n;
};

static int fail(struct err *er, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct err *er, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(er->s, er->n, fmt, ap);
    va_end(ap);
    return -1;
}

#define MEMBER(base, off, type)  ((type *)((char *)(base) + (off)))
#define CMEMBER(base, off, type) ((type const *)((const char *)(base) + (off)))

static avro_schema_t resolve(avro_schema_t s)
{
    while (s && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

/* ---- Body check: walk the bytes by the writer's schema before avro-c reads them ----------- */

/* avro-c allocates whatever length a string or array announces before it notices the bytes
 * are missing, so a crafted 2^40 length would exhaust memory. This pass proves every length
 * fits in the bytes that remain, every index is in range and every string is UTF-8. */
struct cursor {
    const unsigned char *p;
    size_t left;
    size_t items; /* array/map items the whole body may still announce */
    size_t total;
};

#define MAX_DEPTH 64

static int rd_varint(struct cursor *c, int64_t *out, struct err *er)
{
    uint64_t acc = 0;
    for (int i = 0; i < 10; i++) {
        if (c->left == 0)
            return fail(er, "body truncated at byte %zu", c->total);
        unsigned char b = *c->p++;
        c->left--;
        acc |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i == 9 && b > 1)
                return fail(er, "varint overflows 64 bits at byte %zu", c->total - c->left);
            *out = (int64_t)((acc >> 1) ^ (0 - (acc & 1)));
            return 0;
        }
    }
    return fail(er, "varint longer than 10 bytes at byte %zu", c->total - c->left);
}

/* A length or count that must fit in the remaining bytes. */
static int rd_length(struct cursor *c, int64_t *out, const char *what, struct err *er)
{
    if (rd_varint(c, out, er) < 0)
        return -1;
    if (*out < 0 || (uint64_t)*out > c->left)
        return fail(er, "%s %lld at byte %zu exceeds the %zu bytes left", what, (long long)*out,
                    c->total - c->left, c->left);
    return 0;
}

static int check_fixed_len(struct cursor *c, size_t len, struct err *er)
{
    if (len > c->left)
        return fail(er, "body truncated at byte %zu", c->total);
    c->p += len;
    c->left -= len;
    return 0;
}

static int check_string(struct cursor *c, bool utf8, struct err *er)
{
    int64_t len;
    if (rd_length(c, &len, "string length", er) < 0)
        return -1;
    if (utf8 && !str_utf8_valid(c->p, (size_t)len))
        return fail(er, "invalid UTF-8 in string at byte %zu", c->total - c->left);
    return check_fixed_len(c, (size_t)len, er);
}

static int check_datum(struct cursor *c, avro_schema_t s, int depth, struct err *er);

static int check_items(struct cursor *c, avro_schema_t s, int depth, struct err *er)
{
    bool is_map = is_avro_map(s);
    avro_schema_t item = is_map ? avro_schema_map_values(s) : avro_schema_array_items(s);
    for (;;) {
        int64_t count, size;
        if (rd_varint(c, &count, er) < 0)
            return -1;
        if (count == 0)
            return 0;
        if (count < 0) {
            /* A block that also gives its byte size: -count items follow. */
            if (count == INT64_MIN)
                return fail(er, "bad block count at byte %zu", c->total - c->left);
            if (rd_length(c, &size, "block size", er) < 0)
                return -1;
            count = -count;
        }
        /* Every item of our schemas takes at least one byte; the budget also bounds zero-byte
         * items (arrays of null), which we therefore accept only up to the body length. */
        if ((uint64_t)count > c->left || (uint64_t)count > c->items)
            return fail(er, "block of %lld items at byte %zu exceeds the %zu bytes left",
                        (long long)count, c->total - c->left, c->left);
        c->items -= (size_t)count;
        for (int64_t i = 0; i < count; i++) {
            if (is_map && check_string(c, true, er) < 0)
                return -1;
            if (check_datum(c, item, depth + 1, er) < 0)
                return -1;
        }
    }
}

static int check_datum(struct cursor *c, avro_schema_t s, int depth, struct err *er)
{
    int64_t v;
    s = resolve(s);
    if (depth > MAX_DEPTH)
        return fail(er, "values nested deeper than %d", MAX_DEPTH);
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return 0;
    case AVRO_BOOLEAN:
        if (c->left == 0 || c->p[0] > 1)
            return c->left ? fail(er, "invalid boolean at byte %zu", c->total - c->left)
                           : fail(er, "body truncated at byte %zu", c->total);
        return check_fixed_len(c, 1, er);
    case AVRO_INT32:
        if (rd_varint(c, &v, er) < 0)
            return -1;
        if (v < INT32_MIN || v > INT32_MAX)
            return fail(er, "int out of range at byte %zu", c->total - c->left);
        return 0;
    case AVRO_INT64:
        return rd_varint(c, &v, er);
    case AVRO_FLOAT:
        return check_fixed_len(c, 4, er);
    case AVRO_DOUBLE:
        return check_fixed_len(c, 8, er);
    case AVRO_FIXED:
        return check_fixed_len(c, (size_t)avro_schema_fixed_size(s), er);
    case AVRO_STRING:
    case AVRO_BYTES:
        return check_string(c, is_avro_string(s), er);
    case AVRO_ENUM:
        if (rd_varint(c, &v, er) < 0)
            return -1;
        if (v < 0 || v >= avro_schema_enum_number_of_symbols(s))
            return fail(er, "enum index %lld out of range", (long long)v);
        return 0;
    case AVRO_UNION:
        if (rd_varint(c, &v, er) < 0)
            return -1;
        if (v < 0 || (uint64_t)v >= avro_schema_union_size(s))
            return fail(er, "union branch %lld out of range", (long long)v);
        return check_datum(c, avro_schema_union_branch(s, (int)v), depth + 1, er);
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++) {
            avro_schema_t f = avro_schema_record_field_get_by_index(s, (int)i);
            if (check_datum(c, f, depth + 1, er) < 0)
                return -1;
        }
        return 0;
    case AVRO_ARRAY:
    case AVRO_MAP:
        return check_items(c, s, depth, er);
    default:
        return fail(er, "unsupported Avro type %d in writer schema", (int)avro_typeof(s));
    }
}

/* ---- Framing ------------------------------------------------------------------------------- */

int avro_codec_peek_fingerprint(const void *buf, size_t len, uint64_t *fp)
{
    const unsigned char *p = buf;
    if (!buf || len < AVRO_CODEC_HEADER_SIZE || p[0] != 0xc3 || p[1] != 0x01)
        return -1;
    *fp = 0;
    for (int i = 7; i >= 0; i--)
        *fp = (*fp << 8) | p[2 + i];
    return 0;
}

int avro_codec_write_value(uint64_t fp, avro_value_t *v, void **buf, size_t *len, char *errstr,
                           size_t n)
{
    unsigned char *out = NULL;
    avro_writer_t w = NULL;
    size_t size;
    int rc = -1;

    *buf = NULL;
    *len = 0;
    if (avro_value_sizeof(v, &size) != 0) {
        snprintf(errstr, n, "cannot size Avro value: %s", avro_strerror());
        goto out;
    }
    out = xmalloc(AVRO_CODEC_HEADER_SIZE + size);
    out[0] = 0xc3;
    out[1] = 0x01;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)(fp >> (8 * i));
    w = avro_writer_memory((const char *)out + AVRO_CODEC_HEADER_SIZE, (int64_t)size);
    if (!w || avro_value_write(w, v) != 0) {
        snprintf(errstr, n, "cannot write Avro value: %s", avro_strerror());
        goto out;
    }
    *buf = out;
    *len = AVRO_CODEC_HEADER_SIZE + size;
    out = NULL;
    rc = 0;
out:
    if (w)
        avro_writer_free(w);
    free(out);
    return rc;
}

/* Checks the header and the body and reads the body into *root, a generic value of the writer's
 * schema that the caller releases with avro_value_decref(). */
static int read_message(const char *family, const void *buf, size_t len, avro_value_t *root,
                        struct err *er)
{
    const struct schema_entry *e;
    const unsigned char *p = buf;
    avro_reader_t r = NULL;
    uint64_t fp;
    int rc = -1;

    root->iface = NULL;
    if (!buf || len < AVRO_CODEC_HEADER_SIZE)
        return fail(er, "message of %zu bytes is shorter than the %d-byte Avro header", len,
                    AVRO_CODEC_HEADER_SIZE);
    if (avro_codec_peek_fingerprint(buf, len, &fp) < 0)
        return fail(er, "not Avro single-object encoding (starts %02x %02x, want c3 01)", p[0],
                    p[1]);
    e = schema_registry_by_fingerprint(fp);
    if (!e)
        return fail(er, "unknown schema fingerprint %016llx", (unsigned long long)fp);
    if (strcmp(e->family, family) != 0)
        return fail(er, "schema fingerprint %016llx is %s v%d, not a %s schema",
                    (unsigned long long)fp, e->family, e->version, family);

    size_t blen = len - AVRO_CODEC_HEADER_SIZE;
    struct cursor c = {.p = p + AVRO_CODEC_HEADER_SIZE, .left = blen, .items = blen, .total = blen};
    if (check_datum(&c, e->schema, 0, er) < 0)
        goto out;
    if (c.left) {
        fail(er, "%zu trailing bytes after the %s v%d body", c.left, family, e->version);
        goto out;
    }

    if (avro_generic_value_new(e->iface, root) != 0) {
        root->iface = NULL;
        fail(er, "avro-c: %s", avro_strerror());
        goto out;
    }
    r = avro_reader_memory((const char *)p + AVRO_CODEC_HEADER_SIZE, (int64_t)blen);
    if (!r || avro_value_read(r, root) != 0) {
        fail(er, "cannot read %s v%d body: %s", family, e->version, avro_strerror());
        goto out;
    }
    rc = 0;
out:
    if (r)
        avro_reader_free(r);
    if (rc < 0 && root->iface) {
        avro_value_decref(root);
        root->iface = NULL;
    }
    return rc;
}

/* ---- Encoding: struct -> generic value of the current schema -------------------------------- */

/* Selects the null branch (want_null) or the first non-null branch of a union field; a
 * non-union field is used as is but cannot hold null. */
static int pick(avro_value_t *fv, bool want_null, avro_value_t *out, const char *name,
                struct err *er)
{
    if (avro_value_get_type(fv) != AVRO_UNION) {
        if (want_null)
            return fail(er, "field %s: required, but no value", name);
        *out = *fv;
        return 0;
    }
    avro_schema_t us = resolve(avro_value_get_schema(fv));
    for (size_t i = 0; i < avro_schema_union_size(us); i++) {
        if (is_avro_null(resolve(avro_schema_union_branch(us, (int)i))) != want_null)
            continue;
        if (avro_value_set_branch(fv, (int)i, out) != 0)
            return fail(er, "field %s: %s", name, avro_strerror());
        return 0;
    }
    return fail(er, "field %s: writer schema has no %s branch", name, want_null ? "null" : "value");
}

static int put_string(avro_value_t *v, const char *s, const char *name, struct err *er)
{
    if (!str_utf8_valid((const unsigned char *)s, strlen(s)))
        return fail(er, "field %s: invalid UTF-8", name);
    if (avro_value_get_type(v) != AVRO_STRING || avro_value_set_string(v, s) != 0)
        return fail(er, "field %s: writer type is not string", name);
    return 0;
}

static int put_number(avro_value_t *v, int64_t x, const char *name, struct err *er)
{
    avro_type_t t = avro_value_get_type(v);
    if (t == AVRO_INT64 && avro_value_set_long(v, x) == 0)
        return 0;
    if (t == AVRO_INT32 && x >= INT32_MIN && x <= INT32_MAX &&
        avro_value_set_int(v, (int32_t)x) == 0)
        return 0;
    return fail(er, "field %s: %lld does not fit the writer type", name, (long long)x);
}

static int put_symbol(avro_value_t *v, const char *sym, const char *name, struct err *er)
{
    avro_schema_t s = resolve(avro_value_get_schema(v));
    int idx = (s && is_avro_enum(s)) ? avro_schema_enum_get_by_name(s, sym) : -1;
    if (idx < 0 || avro_value_set_enum(v, idx) != 0)
        return fail(er, "field %s: \"%s\" is not a symbol of the writer schema", name, sym);
    return 0;
}

static int put_strv(avro_value_t *v, char *const *sv, size_t count, const char *name,
                    struct err *er)
{
    if (avro_value_get_type(v) != AVRO_ARRAY)
        return fail(er, "field %s: writer type is not an array", name);
    for (size_t i = 0; i < count; i++) {
        avro_value_t item;
        if (!sv[i])
            return fail(er, "field %s: item %zu is NULL", name, i);
        if (avro_value_append(v, &item, NULL) != 0)
            return fail(er, "field %s: cannot append item %zu", name, i);
        if (put_string(&item, sv[i], name, er) < 0)
            return -1;
    }
    return 0;
}

static int put_extra(avro_value_t *v, const struct attr_values *x, size_t count, struct err *er)
{
    if (avro_value_get_type(v) != AVRO_ARRAY)
        return fail(er, "field extra: writer type is not an array");
    for (size_t i = 0; i < count; i++) {
        avro_value_t item, name, values;
        if (!x[i].name)
            return fail(er, "field extra: attribute %zu has no name", i);
        if (avro_value_append(v, &item, NULL) != 0 ||
            avro_value_get_by_name(&item, "name", &name, NULL) != 0 ||
            avro_value_get_by_name(&item, "values", &values, NULL) != 0)
            return fail(er, "field extra: writer schema has no {name, values} items");
        if (put_string(&name, x[i].name, "extra.name", er) < 0 ||
            put_strv(&values, x[i].values, x[i].n_values, "extra.values", er) < 0)
            return -1;
    }
    return 0;
}

static int encode_record(avro_value_t *rec, const struct field *t, size_t nt, const void *base,
                         struct err *er);

/* Whether the member holds a value (false: write null). */
static bool present(const struct field *f, const void *base)
{
    switch (f->kind) {
    case K_STR:
    case K_OPT_STR:
        return *CMEMBER(base, f->off, char *) != NULL;
    case K_OPT_ROLE:
    case K_COUNTS:
    case K_GUARD:
        return *CMEMBER(base, f->aux, bool);
    case K_OPT_STRV:
        return *CMEMBER(base, f->aux2, bool);
    case K_OPT_TIME:
        return *CMEMBER(base, f->off, int64_t) != 0;
    default:
        return true;
    }
}

static int encode_field(avro_value_t *fv, const struct field *f, const void *base, struct err *er)
{
    avro_value_t v;
    bool has = present(f, base);

    if (!has && f->required)
        return fail(er, "field %s: required, but NULL", f->name);
    if (pick(fv, !has, &v, f->name, er) < 0)
        return -1;
    if (!has)
        return 0;
    switch (f->kind) {
    case K_STR:
    case K_OPT_STR:
        return put_string(&v, *CMEMBER(base, f->off, char *), f->name, er);
    case K_LONG:
    case K_OPT_TIME:
        return put_number(&v, *CMEMBER(base, f->off, int64_t), f->name, er);
    case K_INT:
        return put_number(&v, *CMEMBER(base, f->off, int32_t), f->name, er);
    case K_BOOL:
        if (avro_value_get_type(&v) != AVRO_BOOLEAN ||
            avro_value_set_boolean(&v, *CMEMBER(base, f->off, bool)) != 0)
            return fail(er, "field %s: writer type is not boolean", f->name);
        return 0;
    case K_ROLE:
    case K_OPT_ROLE:
        return put_symbol(&v, role_name(*CMEMBER(base, f->off, enum role)), f->name, er);
    case K_EVTYPE:
        return put_symbol(&v, event_type_name(*CMEMBER(base, f->off, enum event_type)), f->name,
                          er);
    case K_STRV:
    case K_OPT_STRV:
        return put_strv(&v, *CMEMBER(base, f->off, char **), *CMEMBER(base, f->aux, size_t),
                        f->name, er);
    case K_EXTRA:
        return put_extra(&v, *CMEMBER(base, f->off, struct attr_values *),
                         *CMEMBER(base, f->aux, size_t), er);
    case K_COUNTS:
        return encode_record(&v, counts_fields, NFIELDS(counts_fields),
                             CMEMBER(base, f->off, struct import_counts), er);
    case K_GUARD:
        return encode_record(&v, guard_fields, NFIELDS(guard_fields),
                             CMEMBER(base, f->off, struct guard_decision), er);
    }
    return fail(er, "field %s: unknown kind", f->name);
}

/* A field of a newer writer schema this build does not know: write its empty value if it has
 * one (null branch, empty array or map); anything else would have to be invented. */
static int encode_unknown(avro_value_t *fv, const char *name, struct err *er)
{
    avro_value_t v;
    avro_type_t t = avro_value_get_type(fv);
    if (t == AVRO_ARRAY || t == AVRO_MAP)
        return 0;
    if (t == AVRO_UNION)
        return pick(fv, true, &v, name, er);
    return fail(er, "field %s of the writer schema is unknown to this build", name);
}

/* Writes the empty value into every field of rec that no table entry (nor skip) names. */
static int encode_rest(avro_value_t *rec, const struct field *t, size_t nt, const char *skip,
                       struct err *er)
{
    size_t nf;
    if (avro_value_get_size(rec, &nf) != 0)
        return fail(er, "writer type is not a record");
    for (size_t i = 0; i < nf; i++) {
        avro_value_t fv;
        const char *name;
        size_t j = 0;
        if (avro_value_get_by_index(rec, i, &fv, &name) != 0)
            return fail(er, "cannot get field %zu", i);
        while (j < nt && strcmp(t[j].name, name) != 0)
            j++;
        if (j == nt && !(skip && strcmp(skip, name) == 0) && encode_unknown(&fv, name, er) < 0)
            return -1;
    }
    return 0;
}

static int encode_record(avro_value_t *rec, const struct field *t, size_t nt, const void *base,
                         struct err *er)
{
    if (avro_value_get_type(rec) != AVRO_RECORD)
        return fail(er, "writer type is not a record");
    for (size_t i = 0; i < nt; i++) {
        avro_value_t fv;
        if (avro_value_get_by_name(rec, t[i].name, &fv, NULL) != 0)
            return fail(er, "writer schema has no field %s", t[i].name);
        if (encode_field(&fv, &t[i], base, er) < 0)
            return -1;
    }
    return encode_rest(rec, t, nt, NULL, er);
}

/* Builds the message under the family's current schema with fill() and frames it. */
static int encode_with(const char *family, int (*fill)(avro_value_t *, const void *, struct err *),
                       const void *msg, void **buf, size_t *len, struct err *er)
{
    const struct schema_entry *e = schema_registry_current(family);
    avro_value_t root;
    int rc = -1;

    *buf = NULL;
    *len = 0;
    if (!e)
        return fail(er, "no %s schema registered", family);
    if (avro_generic_value_new(e->iface, &root) != 0)
        return fail(er, "avro-c: %s", avro_strerror());
    if (fill(&root, msg, er) < 0)
        goto out;
    rc = avro_codec_write_value(e->fingerprint, &root, buf, len, er->s, er->n);
out:
    avro_value_decref(&root);
    return rc;
}

static int fill_users(avro_value_t *root, const void *msg, struct err *er)
{
    const struct users_msg *m = msg;
    avro_value_t body, rec;
    size_t b = 0;

    while (b < NFIELDS(bodies) && bodies[b].type != m->type)
        b++;
    if (b == NFIELDS(bodies))
        return fail(er, "unknown users message type %d", (int)m->type);
    if (avro_value_get_by_name(root, "body", &body, NULL) != 0 ||
        avro_value_get_type(&body) != AVRO_UNION)
        return fail(er, "users schema has no body union");
    avro_schema_t us = resolve(avro_value_get_schema(&body));
    for (size_t i = 0; i < avro_schema_union_size(us); i++) {
        avro_schema_t bs = resolve(avro_schema_union_branch(us, (int)i));
        if (!is_avro_record(bs) || strcmp(avro_schema_name(bs), bodies[b].name) != 0)
            continue;
        if (avro_value_set_branch(&body, (int)i, &rec) != 0)
            return fail(er, "avro-c: %s", avro_strerror());
        if (encode_record(&rec, bodies[b].fields, bodies[b].n_fields, &m->u, er) < 0)
            return -1;
        /* Fields of a newer envelope beside body. */
        return encode_rest(root, NULL, 0, "body", er);
    }
    return fail(er, "users schema has no body branch %s", bodies[b].name);
}

static int fill_event(avro_value_t *root, const void *msg, struct err *er)
{
    return encode_record(root, event_fields, NFIELDS(event_fields), msg, er);
}

int users_msg_encode_generic(const struct users_msg *m, void **buf, size_t *len, char *errstr,
                             size_t n)
{
    struct err er = {errstr, n};
    return encode_with("users", fill_users, m, buf, len, &er);
}

int users_msg_encode(const struct users_msg *m, void **buf, size_t *len, char *errstr, size_t n)
{
    /* A UserRecord of the current schema, when that is v1 or v2 (whose UserRecord bodies are
     * the same bytes): written directly (users_wire). */
    const struct schema_entry *e = schema_registry_current("users");
    if (m->type == USERS_MSG_USER_RECORD && e && (e->version == 1 || e->version == 2)) {
        unsigned char h[AVRO_CODEC_HEADER_SIZE] = {0xc3, 0x01};
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)(e->fingerprint >> (8 * i));
        if (users_wire_write_v1(&m->u.user, h, buf, len) == 0)
            return 0;
    }
    return users_msg_encode_generic(m, buf, len, errstr, n);
}

int event_encode(const struct event *e, void **buf, size_t *len, char *errstr, size_t n)
{
    struct err er = {errstr, n};
    return encode_with("events", fill_event, e, buf, len, &er);
}

/* ---- Decoding: generic value of the writer's schema -> struct, by field name --------------- */

/* Steps into a union's current branch. Returns true if the value is null. */
static bool unwrap(avro_value_t *fv, avro_value_t *out)
{
    *out = *fv;
    if (avro_value_get_type(fv) == AVRO_UNION && avro_value_get_current_branch(fv, out) != 0)
        return true;
    return avro_value_get_type(out) == AVRO_NULL;
}

static int get_string(avro_value_t *v, char **out, const char *name, struct err *er)
{
    const char *p;
    size_t size;
    if (avro_value_get_type(v) != AVRO_STRING || avro_value_get_string(v, &p, &size) != 0)
        return fail(er, "field %s: writer type is not string", name);
    /* size counts avro-c's terminating NUL; a NUL inside cannot live in a C string. */
    size = size ? size - 1 : 0;
    if (memchr(p, '\0', size))
        return fail(er, "field %s: string contains a NUL byte", name);
    *out = xstrndup(p, size);
    return 0;
}

static int get_number(avro_value_t *v, int64_t *out, const char *name, struct err *er)
{
    int32_t i;
    switch (avro_value_get_type(v)) {
    case AVRO_INT64:
        return avro_value_get_long(v, out) == 0 ? 0 : fail(er, "field %s: bad long", name);
    case AVRO_INT32:
        if (avro_value_get_int(v, &i) != 0)
            return fail(er, "field %s: bad int", name);
        *out = i;
        return 0;
    default:
        return fail(er, "field %s: writer type is not int or long", name);
    }
}

static int get_symbol(avro_value_t *v, const char **sym, const char *name, struct err *er)
{
    avro_schema_t s = resolve(avro_value_get_schema(v));
    int idx;
    if (avro_value_get_type(v) != AVRO_ENUM || avro_value_get_enum(v, &idx) != 0)
        return fail(er, "field %s: writer type is not an enum", name);
    *sym = avro_schema_enum_get(s, idx);
    return *sym ? 0 : fail(er, "field %s: enum index %d out of range", name, idx);
}

/* Sets *count before filling so that a failure half-way leaves a freeable array. */
static int get_strv(avro_value_t *v, char ***out, size_t *count, const char *name, struct err *er)
{
    size_t size;
    if (avro_value_get_type(v) != AVRO_ARRAY || avro_value_get_size(v, &size) != 0)
        return fail(er, "field %s: writer type is not an array", name);
    *out = size ? xcalloc(size, sizeof(char *)) : NULL;
    *count = size;
    for (size_t i = 0; i < size; i++) {
        avro_value_t item, iv;
        if (avro_value_get_by_index(v, i, &item, NULL) != 0 || unwrap(&item, &iv))
            return fail(er, "field %s: item %zu is null", name, i);
        if (get_string(&iv, &(*out)[i], name, er) < 0)
            return -1;
    }
    return 0;
}

static int get_extra(avro_value_t *v, struct attr_values **out, size_t *count, struct err *er)
{
    size_t size;
    if (avro_value_get_type(v) != AVRO_ARRAY || avro_value_get_size(v, &size) != 0)
        return fail(er, "field extra: writer type is not an array");
    *out = size ? xcalloc(size, sizeof(**out)) : NULL;
    *count = size;
    for (size_t i = 0; i < size; i++) {
        avro_value_t item, fv, name;
        if (avro_value_get_by_index(v, i, &item, NULL) != 0 ||
            avro_value_get_by_name(&item, "name", &fv, NULL) != 0 || unwrap(&fv, &name))
            return fail(er, "field extra: attribute %zu has no name", i);
        if (get_string(&name, &(*out)[i].name, "extra.name", er) < 0)
            return -1;
        /* An attribute without values (an older or sparser writer) means "remove it". */
        if (avro_value_get_by_name(&item, "values", &fv, NULL) == 0 && !unwrap(&fv, &name) &&
            get_strv(&name, &(*out)[i].values, &(*out)[i].n_values, "extra.values", er) < 0)
            return -1;
    }
    return 0;
}

static int decode_record(avro_value_t *rec, const struct field *t, size_t nt, void *base,
                         struct err *er);

static int decode_field(avro_value_t *v, const struct field *f, void *base, struct err *er)
{
    const char *sym;
    int64_t x;

    switch (f->kind) {
    case K_STR:
    case K_OPT_STR:
        return get_string(v, MEMBER(base, f->off, char *), f->name, er);
    case K_LONG:
    case K_OPT_TIME:
        return get_number(v, MEMBER(base, f->off, int64_t), f->name, er);
    case K_INT:
        if (get_number(v, &x, f->name, er) < 0)
            return -1;
        if (x < INT32_MIN || x > INT32_MAX)
            return fail(er, "field %s: %lld out of int range", f->name, (long long)x);
        *MEMBER(base, f->off, int32_t) = (int32_t)x;
        return 0;
    case K_BOOL: {
        int b;
        if (avro_value_get_type(v) != AVRO_BOOLEAN || avro_value_get_boolean(v, &b) != 0)
            return fail(er, "field %s: writer type is not boolean", f->name);
        *MEMBER(base, f->off, bool) = b != 0;
        return 0;
    }
    case K_ROLE:
    case K_OPT_ROLE:
        if (get_symbol(v, &sym, f->name, er) < 0)
            return -1;
        if (role_parse(sym, MEMBER(base, f->off, enum role)) < 0)
            return fail(er, "field %s: unknown role \"%s\"", f->name, sym);
        if (f->kind == K_OPT_ROLE)
            *MEMBER(base, f->aux, bool) = true;
        return 0;
    case K_EVTYPE:
        if (get_symbol(v, &sym, f->name, er) < 0)
            return -1;
        if (event_type_parse(sym, MEMBER(base, f->off, enum event_type)) < 0)
            return fail(er, "field %s: unknown event type \"%s\"", f->name, sym);
        return 0;
    case K_STRV:
    case K_OPT_STRV:
        if (f->kind == K_OPT_STRV)
            *MEMBER(base, f->aux2, bool) = true;
        return get_strv(v, MEMBER(base, f->off, char **), MEMBER(base, f->aux, size_t), f->name,
                        er);
    case K_EXTRA:
        return get_extra(v, MEMBER(base, f->off, struct attr_values *),
                         MEMBER(base, f->aux, size_t), er);
    case K_COUNTS:
        if (avro_value_get_type(v) != AVRO_RECORD)
            return fail(er, "field %s: writer type is not a record", f->name);
        *MEMBER(base, f->aux, bool) = true;
        return decode_record(v, counts_fields, NFIELDS(counts_fields),
                             MEMBER(base, f->off, struct import_counts), er);
    case K_GUARD:
        if (avro_value_get_type(v) != AVRO_RECORD)
            return fail(er, "field %s: writer type is not a record", f->name);
        *MEMBER(base, f->aux, bool) = true;
        return decode_record(v, guard_fields, NFIELDS(guard_fields),
                             MEMBER(base, f->off, struct guard_decision), er);
    }
    return fail(er, "field %s: unknown kind", f->name);
}

/* base is zeroed: a field the writer lacks (or sent as null) keeps zero/NULL/false unless the
 * table gives another default; only required fields must be there. */
static int decode_record(avro_value_t *rec, const struct field *t, size_t nt, void *base,
                         struct err *er)
{
    for (size_t i = 0; i < nt; i++) {
        const struct field *f = &t[i];
        avro_value_t fv, v;
        bool absent = avro_value_get_by_name(rec, f->name, &fv, NULL) != 0;
        if (absent || unwrap(&fv, &v)) {
            if (f->required)
                return fail(er, "required field %s is %s", f->name,
                            absent ? "missing from the writer schema" : "null");
            if (f->kind == K_LONG)
                *MEMBER(base, f->off, int64_t) = f->dflt;
            else if (f->kind == K_INT)
                *MEMBER(base, f->off, int32_t) = (int32_t)f->dflt;
            else if (f->kind == K_BOOL)
                *MEMBER(base, f->off, bool) = f->dflt != 0;
            continue;
        }
        if (decode_field(&v, f, base, er) < 0)
            return -1;
    }
    return 0;
}

static int users_from_value(avro_value_t *root, struct users_msg *out, struct err *er)
{
    avro_value_t fv, rec;
    if (avro_value_get_by_name(root, "body", &fv, NULL) != 0 || unwrap(&fv, &rec) ||
        avro_value_get_type(&rec) != AVRO_RECORD)
        return fail(er, "message has no body record");
    const char *name = avro_schema_name(resolve(avro_value_get_schema(&rec)));
    for (size_t b = 0; b < NFIELDS(bodies); b++) {
        if (strcmp(name, bodies[b].name) == 0) {
            out->type = bodies[b].type;
            return decode_record(&rec, bodies[b].fields, bodies[b].n_fields, &out->u, er);
        }
    }
    return fail(er, "unknown body type %s", name);
}

/* The fingerprints of users.v1 and v2 (v2's is v1's if the registry has no v2), found once:
 * the registry's look-up takes a lock and walks every schema, twice per message otherwise.
 * Fingerprints, not entries, are kept: they stay right across a registry shutdown. */
static uint64_t direct_fp1, direct_fp2;
static bool direct_known;
static pthread_once_t direct_once = PTHREAD_ONCE_INIT;

static void direct_find(void)
{
    const struct schema_entry *v1 = schema_registry_find("users", 1);
    const struct schema_entry *v2 = schema_registry_find("users", 2);
    if (!v1)
        return;
    direct_fp1 = v1->fingerprint;
    direct_fp2 = v2 ? v2->fingerprint : v1->fingerprint;
    direct_known = true;
}

static bool direct_fingerprints(uint64_t *fp1, uint64_t *fp2)
{
    pthread_once(&direct_once, direct_find);
    *fp1 = direct_fp1;
    *fp2 = direct_fp2;
    return direct_known;
}

/* direct: UserRecords written with users.v1 or v2 (the same body bytes) are read by
 * users_wire; everything else, and anything that reader is not sure of, the generic way. */
static int users_decode(const void *buf, size_t len, struct users_msg *out, char *errstr, size_t n,
                        bool direct)
{
    struct err er = {errstr, n};
    avro_value_t root;
    uint64_t fp, fp1, fp2;
    int rc;

    memset(out, 0, sizeof(*out));
    if (direct && direct_fingerprints(&fp1, &fp2) && buf && len > AVRO_CODEC_HEADER_SIZE &&
        avro_codec_peek_fingerprint(buf, len, &fp) == 0 && (fp == fp1 || fp == fp2) &&
        users_wire_read_v1((const unsigned char *)buf + AVRO_CODEC_HEADER_SIZE,
                           len - AVRO_CODEC_HEADER_SIZE, out) == 0) {
        rc = 0;
    } else {
        if (read_message("users", buf, len, &root, &er) < 0)
            return -1;
        rc = users_from_value(&root, out, &er);
        avro_value_decref(&root);
    }
    char why[300];
    if (rc == 0 && users_msg_invalid(out, why, sizeof(why)))
        rc = fail(&er, "%s", why);
    if (rc < 0)
        users_msg_free(out);
    return rc;
}

int users_msg_decode(const void *buf, size_t len, struct users_msg *out, char *errstr, size_t n)
{
    return users_decode(buf, len, out, errstr, n, true);
}

int users_msg_decode_generic(const void *buf, size_t len, struct users_msg *out, char *errstr,
                             size_t n)
{
    return users_decode(buf, len, out, errstr, n, false);
}

int event_decode(const void *buf, size_t len, struct event *out, char *errstr, size_t n)
{
    struct err er = {errstr, n};
    avro_value_t root;

    memset(out, 0, sizeof(*out));
    if (read_message("events", buf, len, &root, &er) < 0)
        return -1;
    int rc = decode_record(&root, event_fields, NFIELDS(event_fields), out, &er);
    avro_value_decref(&root);
    if (rc < 0)
        event_free(out);
    return rc;
}
