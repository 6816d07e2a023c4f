/*
 * state_codec: encode and decode the state store's values; own struct person/import_state.
 */
#include "state_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

/* ---- ownership helpers ---- */

void import_state_free(struct import_state *s)
{
    if (!s)
        return;
    free(s->import_id);
    free(s->source_uid);
    free(s->school);
    memset(s, 0, sizeof(*s));
}

const char *state_import_status_name(enum state_import_status s)
{
    static const char *const names[STATE_IMPORT_STATUS_COUNT] = {"open", "held", "completed",
                                                                 "incomplete"};
    return (unsigned)s < STATE_IMPORT_STATUS_COUNT ? names[s] : "unknown";
}

void state_codec_buf_free(struct state_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- writer ---- */

void state_codec_buf_append(struct state_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_u8(struct state_buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    state_codec_buf_append(b, &c, 1);
}

static void put_uvarint(struct state_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    state_codec_buf_append(b, tmp, n);
}

static void put_svarint(struct state_buf *b, int64_t v)
{
    put_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_str(struct state_buf *b, const char *s)
{
    if (!s) {
        put_uvarint(b, 0);
        return;
    }
    size_t n = strlen(s);
    put_uvarint(b, (uint64_t)n + 1);
    state_codec_buf_append(b, s, n);
}

static void put_strv(struct state_buf *b, char *const *v, size_t n)
{
    put_uvarint(b, n);
    for (size_t i = 0; i < n; i++)
        put_str(b, v[i]);
}

void state_codec_person_encode(const struct person *p, struct state_buf *b)
{
    b->len = 0;
    put_u8(b, STATE_CODEC_PERSON_VERSION);
    put_str(b, p->record_uid);
    put_str(b, p->source_uid);
    put_u8(b, (unsigned)p->role);
    put_u8(b, p->limbo ? 1 : 0);
    put_str(b, p->dn);
    put_str(b, p->username);
    put_str(b, p->primary_school);
    put_strv(b, p->schools, p->n_schools);
    put_uvarint(b, p->n_classes);
    for (size_t i = 0; i < p->n_classes; i++) {
        put_str(b, p->classes[i].school);
        put_strv(b, p->classes[i].classes, p->classes[i].n_classes);
    }
    put_svarint(b, p->purge_at_ms);
    put_svarint(b, p->updated_offset);
    put_uvarint(b, p->n_attrs);
    for (size_t i = 0; i < p->n_attrs; i++) {
        put_str(b, p->attrs[i].name);
        put_strv(b, p->attrs[i].values, p->attrs[i].n_values);
    }
}

void state_codec_import_encode(const struct import_state *s, struct state_buf *b)
{
    b->len = 0;
    put_u8(b, STATE_CODEC_IMPORT_VERSION);
    put_str(b, s->import_id);
    put_str(b, s->source_uid);
    put_str(b, s->school);
    put_u8(b, (unsigned)s->role);
    put_u8(b, (unsigned)s->status);
    put_u8(b, s->dry_run ? 1 : 0);
    put_svarint(b, s->records_seen);
    put_svarint(b, s->first_offset);
    put_svarint(b, s->last_offset);
    put_svarint(b, s->ended_at_offset);
    put_svarint(b, s->expected_records);
    put_svarint(b, s->produced_at_ms);
    const struct import_counts *k = &s->counts;
    put_svarint(b, k->records);
    put_svarint(b, k->created);
    put_svarint(b, k->modified);
    put_svarint(b, k->unchanged);
    put_svarint(b, k->removed);
    put_svarint(b, k->limbo);
    put_svarint(b, k->errors);
}

/* ---- reader: every get_* fails once and stays failed; the first failure is reported ---- */

struct reader {
    const unsigned char *start, *p, *end;
    const char *bad;  /* what went wrong first, NULL while fine */
    const char *what; /* the field being read */
    size_t bad_at;
};

static struct reader reader_init(const void *data, size_t len)
{
    const unsigned char *p = data;
    struct reader r = {.start = p, .p = p, .end = p ? p + len : p};
    return r;
}

static bool fail(struct reader *r, const char *why)
{
    if (!r->bad) {
        r->bad = why;
        r->bad_at = (size_t)(r->p - r->start);
    }
    return false;
}

static bool get_u8(struct reader *r, unsigned *out)
{
    *out = 0;
    if (r->bad)
        return false;
    if (r->p >= r->end)
        return fail(r, "truncated");
    *out = *r->p++;
    return true;
}

static bool get_uvarint(struct reader *r, uint64_t *out)
{
    *out = 0;
    if (r->bad)
        return false;
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end)
            return fail(r, "truncated");
        unsigned c = *r->p++;
        if (shift == 63 && c > 1)
            return fail(r, "varint overflow");
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return true;
        }
    }
    return fail(r, "varint too long");
}

static bool get_svarint(struct reader *r, int64_t *out)
{
    uint64_t u;
    *out = 0;
    if (!get_uvarint(r, &u))
        return false;
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return true;
}

/* A string (NULL allowed only if nullable); *out is NULL on failure. */
static bool get_str(struct reader *r, bool nullable, char **out)
{
    uint64_t n;
    *out = NULL;
    if (!get_uvarint(r, &n))
        return false;
    if (n == 0)
        return nullable ? true : fail(r, "missing required string");
    n--;
    if (n > (uint64_t)(r->end - r->p))
        return fail(r, "string longer than the data");
    if (memchr(r->p, 0, (size_t)n))
        return fail(r, "NUL inside a string");
    *out = xstrndup((const char *)r->p, (size_t)n);
    r->p += n;
    return true;
}

/* A count of items each at least min_bytes long: never more than the data can hold. */
static bool get_count(struct reader *r, size_t min_bytes, size_t *out)
{
    uint64_t n;
    *out = 0;
    if (!get_uvarint(r, &n))
        return false;
    if (n > (uint64_t)(r->end - r->p) / min_bytes)
        return fail(r, "count larger than the data");
    *out = (size_t)n;
    return true;
}

/* Strings of an array are never NULL. *n counts only the entries filled, for freeing. */
static bool get_strv(struct reader *r, char ***out, size_t *n)
{
    size_t cnt;
    *out = NULL;
    *n = 0;
    if (!get_count(r, 1, &cnt) || cnt == 0)
        return !r->bad;
    *out = xcalloc(cnt, sizeof(**out));
    for (size_t i = 0; i < cnt; i++) {
        if (!get_str(r, false, &(*out)[i]))
            return false;
        (*n)++;
    }
    return true;
}

static bool get_enum(struct reader *r, unsigned max, unsigned *out)
{
    if (!get_u8(r, out))
        return false;
    return *out <= max ? true : fail(r, "value out of range");
}

static int reader_result(struct reader *r, const char *kind, char *err, size_t n)
{
    if (!r->bad && r->p != r->end)
        fail(r, "trailing bytes");
    if (!r->bad)
        return 0;
    if (err && n)
        snprintf(err, n, "%s value undecodable: %s at byte %zu of %zu (%s)", kind, r->bad,
                 r->bad_at, (size_t)(r->end - r->start), r->what ? r->what : "?");
    return STATE_ERR_CORRUPT;
}

static void read_classes(struct reader *r, struct person *p)
{
    size_t cnt;
    r->what = "classes";
    if (!get_count(r, 2, &cnt) || cnt == 0)
        return;
    p->classes = xcalloc(cnt, sizeof(*p->classes));
    for (size_t i = 0; i < cnt; i++) {
        struct school_classes *c = &p->classes[p->n_classes++];
        if (!get_str(r, false, &c->school) || !get_strv(r, &c->classes, &c->n_classes))
            return;
    }
}

static void read_attrs(struct reader *r, struct person *p)
{
    size_t cnt;
    r->what = "attrs";
    if (!get_count(r, 2, &cnt) || cnt == 0)
        return;
    p->attrs = xcalloc(cnt, sizeof(*p->attrs));
    for (size_t i = 0; i < cnt; i++) {
        struct attr_values *a = &p->attrs[p->n_attrs++];
        if (!get_str(r, false, &a->name) || !get_strv(r, &a->values, &a->n_values))
            return;
    }
}

static void read_person(struct reader *r, struct person *p)
{
    unsigned v, role, flags;
    r->what = "version";
    if (get_u8(r, &v) && v != STATE_CODEC_PERSON_VERSION)
        fail(r, "unknown format version");
    r->what = "record_uid";
    get_str(r, false, &p->record_uid);
    r->what = "source_uid";
    get_str(r, false, &p->source_uid);
    r->what = "role";
    get_enum(r, ROLE_COUNT - 1, &role);
    p->role = (enum role)role;
    r->what = "flags";
    get_enum(r, 1, &flags);
    p->limbo = flags & 1;
    r->what = "dn";
    get_str(r, true, &p->dn);
    r->what = "username";
    get_str(r, true, &p->username);
    r->what = "primary_school";
    get_str(r, true, &p->primary_school);
    r->what = "schools";
    get_strv(r, &p->schools, &p->n_schools);
    read_classes(r, p);
    r->what = "purge_at_ms";
    get_svarint(r, &p->purge_at_ms);
    r->what = "updated_offset";
    get_svarint(r, &p->updated_offset);
    read_attrs(r, p);
}

/* The length of the no-op header at the start of a person value: 0 if none, -1 if damaged. */
static long noop_header(const unsigned char *p, size_t len)
{
    if (len < 1 || p[0] != STATE_CODEC_PERSON_NOOP)
        return 0;
    if (len < 2 || p[1] < 1 || p[1] > STATE_CODEC_NOOP_MAX)
        return -1;
    size_t h = 2 + (size_t)p[1] * STATE_DIGEST_LEN;
    return h < len ? (long)h : -1;
}

bool state_codec_person_has_noop(const void *data, size_t len,
                                 const unsigned char digest[STATE_DIGEST_LEN])
{
    const unsigned char *p = data;
    if (noop_header(p, len) <= 0)
        return false;
    for (unsigned i = 0; i < p[1]; i++) {
        if (memcmp(p + 2 + i * STATE_DIGEST_LEN, digest, STATE_DIGEST_LEN) == 0)
            return true;
    }
    return false;
}

void state_codec_person_add_noop(const void *data, size_t len,
                                 const unsigned char digest[STATE_DIGEST_LEN], struct state_buf *b)
{
    const unsigned char *p = data;
    long h = noop_header(p, len);
    unsigned old = h > 0 ? p[1] : 0, keep = 0;
    size_t body = h > 0 ? (size_t)h : 0;
    unsigned char hdr[2 + STATE_CODEC_NOOP_MAX * STATE_DIGEST_LEN];
    memcpy(hdr + 2, digest, STATE_DIGEST_LEN);
    for (unsigned i = 0; i < old && keep < STATE_CODEC_NOOP_MAX - 1; i++) {
        const unsigned char *d = p + 2 + i * STATE_DIGEST_LEN;
        if (memcmp(d, digest, STATE_DIGEST_LEN) != 0)
            memcpy(hdr + 2 + ++keep * STATE_DIGEST_LEN, d, STATE_DIGEST_LEN);
    }
    hdr[0] = STATE_CODEC_PERSON_NOOP;
    hdr[1] = (unsigned char)(keep + 1);
    b->len = 0;
    state_codec_buf_append(b, hdr, 2 + (keep + 1) * STATE_DIGEST_LEN);
    state_codec_buf_append(b, p + body, len - body);
}

int state_codec_person_decode(const void *data, size_t len, struct person *out, char *err, size_t n)
{
    long h = noop_header(data, len);
    if (h < 0) {
        memset(out, 0, sizeof(*out));
        if (err && n)
            snprintf(err, n, "person value undecodable: damaged no-op digests header (%zu bytes)",
                     len);
        return STATE_ERR_CORRUPT;
    }
    struct reader r = reader_init((const unsigned char *)data + h, len - (size_t)h);
    memset(out, 0, sizeof(*out));
    read_person(&r, out);
    int rc = reader_result(&r, "person", err, n);
    if (rc)
        person_free(out);
    return rc;
}

int state_codec_import_decode(const void *data, size_t len, struct import_state *out, char *err,
                              size_t n)
{
    struct reader r = reader_init(data, len);
    unsigned v, role, status, flags;
    memset(out, 0, sizeof(*out));
    r.what = "version";
    if (get_u8(&r, &v) && v != STATE_CODEC_IMPORT_VERSION)
        fail(&r, "unknown format version");
    r.what = "strings";
    get_str(&r, false, &out->import_id);
    get_str(&r, true, &out->source_uid);
    get_str(&r, true, &out->school);
    r.what = "role/status/flags";
    get_enum(&r, ROLE_COUNT - 1, &role);
    get_enum(&r, STATE_IMPORT_STATUS_COUNT - 1, &status);
    get_enum(&r, 1, &flags);
    out->role = (enum role)role;
    out->status = (enum state_import_status)status;
    out->dry_run = flags & 1;
    r.what = "counters";
    get_svarint(&r, &out->records_seen);
    get_svarint(&r, &out->first_offset);
    get_svarint(&r, &out->last_offset);
    get_svarint(&r, &out->ended_at_offset);
    get_svarint(&r, &out->expected_records);
    get_svarint(&r, &out->produced_at_ms);
    struct import_counts *k = &out->counts;
    get_svarint(&r, &k->records);
    get_svarint(&r, &k->created);
    get_svarint(&r, &k->modified);
    get_svarint(&r, &k->unchanged);
    get_svarint(&r, &k->removed);
    get_svarint(&r, &k->limbo);
    get_svarint(&r, &k->errors);
    int rc = reader_result(&r, "import", err, n);
    if (rc)
        import_state_free(out);
    return rc;
}
