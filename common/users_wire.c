/*
 * users_wire: UserRecord bodies of users.v1 read and written directly, byte by byte, for the
 * two hot paths (the ingest writes one per row, the reconciler reads one per message). The
 * generic avro-c path cost 3 us per record to write and 27,000 instructions to read.
 *
 * The reader takes only what it is sure of: any byte it does not expect (another body, a
 * branch or index out of range, bad UTF-8, a NUL in a string, a block count that does not
 * fit, trailing bytes) makes it answer "not mine", and the generic path reads the message or
 * rejects it with its own words. Both paths give the same struct for every body the reader
 * takes (fuzz_avro_decode checks it on every input).
 */
#include "users_wire.h"

#include <stdlib.h>
#include <string.h>

#include "strutil.h"

/* ---- reading ------------------------------------------------------------------------------ */

struct rd {
    const unsigned char *p;
    size_t left;
    size_t items; /* array items the body may still announce (as the generic pre-check) */
    bool bad;
    char *arena; /* the strings, one after the other: every byte is from the body, + a NUL */
    size_t used, cap;
};

static int64_t rd_long(struct rd *r)
{
    uint64_t acc = 0;
    for (int i = 0; i < 10 && r->left; i++) {
        unsigned char b = *r->p++;
        r->left--;
        acc |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i == 9 && b > 1)
                break;
            return (int64_t)((acc >> 1) ^ (0 - (acc & 1)));
        }
    }
    r->bad = true;
    return 0;
}

/* Strict UTF-8 without NUL: what the generic path accepts in a C string. */
static bool text_ok(const unsigned char *s, size_t len)
{
    return !memchr(s, '\0', len) && str_utf8_valid(s, len);
}

static char *rd_string(struct rd *r)
{
    int64_t n = rd_long(r);
    if (r->bad || n < 0 || (uint64_t)n > r->left || !text_ok(r->p, (size_t)n)) {
        r->bad = true;
        return NULL;
    }
    /* A string takes its bytes and a NUL, and its bytes are the body's (after a length of at
     * least one byte): the arena, twice the body's size, never runs out. */
    if (r->used + (size_t)n + 1 > r->cap) {
        r->bad = true;
        return NULL;
    }
    char *s = r->arena + r->used;
    memcpy(s, r->p, (size_t)n);
    s[n] = '\0';
    r->used += (size_t)n + 1;
    r->p += n;
    r->left -= (size_t)n;
    return s;
}

/* ["null", "string"]: NULL for null. */
static char *rd_opt_string(struct rd *r)
{
    int64_t branch = rd_long(r);
    if (branch == 1 && !r->bad)
        return rd_string(r);
    if (branch != 0)
        r->bad = true;
    return NULL;
}

/* The item count of the next array block, 0 at the end. */
static int64_t rd_block(struct rd *r)
{
    int64_t count = rd_long(r);
    if (count < 0 && !r->bad) {
        int64_t size = rd_long(r);
        if (count == INT64_MIN || size < 0 || (uint64_t)size > r->left) {
            r->bad = true; /* and never negate INT64_MIN */
            return 0;
        }
        count = -count;
    }
    if (r->bad || (uint64_t)count > r->left || (uint64_t)count > r->items) {
        r->bad = true;
        return 0;
    }
    r->items -= (size_t)count;
    return count;
}

/* array<string>: *out NULL when empty, as the generic path leaves it. */
static void rd_strings(struct rd *r, char ***out, size_t *n)
{
    size_t cap = 0;
    for (int64_t count; !r->bad && (count = rd_block(r)) > 0;) {
        if (*n + (size_t)count > cap) {
            cap = *n + (size_t)count;
            *out = xrealloc(*out, cap * sizeof(char *));
        }
        for (int64_t i = 0; i < count && !r->bad; i++) {
            char *s = rd_string(r);
            if (s)
                (*out)[(*n)++] = s;
        }
    }
}

static void rd_extra(struct rd *r, struct attr_values **out, size_t *n)
{
    size_t cap = 0;
    for (int64_t count; !r->bad && (count = rd_block(r)) > 0;) {
        if (*n + (size_t)count > cap) {
            cap = *n + (size_t)count;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        for (int64_t i = 0; i < count && !r->bad; i++) {
            struct attr_values *a = &(*out)[*n];
            memset(a, 0, sizeof(*a));
            if (!(a->name = rd_string(r)))
                break;
            (*n)++;
            rd_strings(r, &a->values, &a->n_values);
        }
    }
}

int users_wire_read_v1(const void *body, size_t len, struct users_msg *out)
{
    struct rd r = {.p = body, .left = len, .items = len};
    struct user_record *u = &out->u.user;
    memset(out, 0, sizeof(*out));
    if (rd_long(&r) != 0 || r.bad) /* the body union: UserRecord is branch 0 */
        return 1;
    out->type = USERS_MSG_USER_RECORD;
    /* One allocation for every string of the record, not one each (user_record_free). */
    r.cap = 2 * len + 1;
    r.arena = u->arena = xmalloc(r.cap);
    u->import_id = rd_string(&r);
    u->source_uid = rd_string(&r);
    u->school = rd_string(&r);
    int64_t role = rd_long(&r);
    if (role < 0 || role >= ROLE_COUNT) /* Role's symbols are enum role's, in order */
        r.bad = true;
    u->role = (enum role)role;
    u->record_uid = rd_string(&r);
    u->firstname = rd_string(&r);
    u->lastname = rd_string(&r);
    u->username = rd_opt_string(&r);
    u->email = rd_opt_string(&r);
    u->birthday = rd_opt_string(&r);
    u->password_hash = rd_opt_string(&r);
    int64_t classes = rd_long(&r);
    if (classes == 1) {
        u->classes_given = true;
        rd_strings(&r, &u->classes, &u->n_classes);
    } else if (classes != 0) {
        r.bad = true;
    }
    rd_extra(&r, &u->extra, &u->n_extra);
    u->line = rd_long(&r);
    if (r.left != 1 || r.p[0] > 1)
        r.bad = true; /* dry_run is the last byte */
    else
        u->dry_run = r.p[0] == 1;
    if (r.bad) {
        users_msg_free(out);
        memset(out, 0, sizeof(*out));
        return 1;
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

struct wr {
    unsigned char *p;
    size_t len, cap;
    bool bad; /* a NULL or a string that is not UTF-8: the generic path says which */
};

static void wr_reserve(struct wr *w, size_t n)
{
    if (w->len + n <= w->cap)
        return;
    w->cap = 2 * (w->len + n);
    w->p = xrealloc(w->p, w->cap);
}

static void wr_long(struct wr *w, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    wr_reserve(w, 10);
    do {
        unsigned char b = z & 0x7f;
        z >>= 7;
        w->p[w->len++] = b | (z ? 0x80 : 0);
    } while (z);
}

static void wr_string(struct wr *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (!s || !text_ok((const unsigned char *)s, n)) {
        w->bad = true;
        return;
    }
    wr_long(w, (int64_t)n);
    wr_reserve(w, n);
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void wr_opt_string(struct wr *w, const char *s)
{
    wr_long(w, s ? 1 : 0);
    if (s)
        wr_string(w, s);
}

/* One block and the end marker; an empty array is the end marker alone. */
static void wr_strings(struct wr *w, char *const *v, size_t n)
{
    if (n) {
        wr_long(w, (int64_t)n);
        for (size_t i = 0; i < n; i++)
            wr_string(w, v[i]);
    }
    wr_long(w, 0);
}

int users_wire_write_v1(const struct user_record *u, const unsigned char header[10], void **buf,
                        size_t *len)
{
    if ((unsigned)u->role >= ROLE_COUNT)
        return 1; /* the generic path says what is wrong */
    struct wr w = {0};
    wr_reserve(&w, 256);
    memcpy(w.p, header, 10);
    w.len = 10;
    wr_long(&w, 0); /* body: UserRecord */
    wr_string(&w, u->import_id);
    wr_string(&w, u->source_uid);
    wr_string(&w, u->school);
    wr_long(&w, u->role);
    wr_string(&w, u->record_uid);
    wr_string(&w, u->firstname);
    wr_string(&w, u->lastname);
    wr_opt_string(&w, u->username);
    wr_opt_string(&w, u->email);
    wr_opt_string(&w, u->birthday);
    wr_opt_string(&w, u->password_hash);
    wr_long(&w, u->classes_given ? 1 : 0);
    if (u->classes_given)
        wr_strings(&w, u->classes, u->n_classes);
    if (u->n_extra) {
        wr_long(&w, (int64_t)u->n_extra);
        for (size_t i = 0; i < u->n_extra; i++) {
            wr_string(&w, u->extra[i].name);
            wr_strings(&w, u->extra[i].values, u->extra[i].n_values);
        }
    }
    wr_long(&w, 0);
    wr_long(&w, u->line);
    wr_reserve(&w, 1);
    w.p[w.len++] = u->dry_run ? 1 : 0;
    if (w.bad) {
        free(w.p);
        return 1;
    }
    *buf = w.p;
    *len = w.len;
    return 0;
}
