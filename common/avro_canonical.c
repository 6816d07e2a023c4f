/*
 * avro_canonical: Parsing Canonical Form by walking an avro_schema_t, and CRC-64-AVRO.
 * Walking the parsed schema (not its JSON) means defaults, docs and attributes avro-c drops
 * can never leak into the form, and namespaces are already resolved the way avro-c reads them.
 */
#include "avro_canonical.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

/* Output buffer plus the fullnames already written: a named type is spelled out only at its
 * first occurrence, afterwards by name (spec rule [FULLNAMES] with the "first" rule). */
struct pcf {
    char *buf;
    size_t len, cap;
    char **seen;
    size_t n_seen, cap_seen;
    char *errstr;
    size_t n;
};

static void put(struct pcf *c, const char *s, size_t len)
{
    if (c->len + len + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 256;
        while (c->len + len + 1 > cap)
            cap *= 2;
        c->buf = xrealloc(c->buf, cap);
        c->cap = cap;
    }
    memcpy(c->buf + c->len, s, len);
    c->len += len;
    c->buf[c->len] = '\0';
}

static void put_str(struct pcf *c, const char *s)
{
    put(c, s, strlen(s));
}

/* A JSON string literal. Avro names and symbols are [A-Za-z0-9_.] so this rarely escapes; the
 * spec's [STRINGS] rule keeps non-ASCII as raw UTF-8, which we do by copying bytes >= 0x80. */
static void put_quoted(struct pcf *c, const char *s)
{
    put(c, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(c, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            put(c, esc, 6);
        } else {
            put(c, (const char *)p, 1);
        }
    }
    put(c, "\"", 1);
}

static int fail(struct pcf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct pcf *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr, c->n, fmt, ap);
    va_end(ap);
    return -1;
}

static char *fullname(avro_schema_t s)
{
    const char *name = avro_schema_name(s);
    const char *ns = avro_schema_namespace(s);
    if (!ns || !*ns || strchr(name, '.'))
        return xstrdup(name);
    return xasprintf("%s.%s", ns, name);
}

/* Returns true if the fullname was written before; otherwise records it (taking ownership). */
static bool seen_before(struct pcf *c, char *full)
{
    for (size_t i = 0; i < c->n_seen; i++) {
        if (strcmp(c->seen[i], full) == 0)
            return true;
    }
    if (c->n_seen == c->cap_seen) {
        c->cap_seen = c->cap_seen ? 2 * c->cap_seen : 8;
        c->seen = xrealloc(c->seen, c->cap_seen * sizeof(*c->seen));
    }
    c->seen[c->n_seen++] = full;
    return false;
}

static int walk(struct pcf *c, avro_schema_t s);

static int walk_named(struct pcf *c, avro_schema_t s)
{
    char *full = fullname(s);
    if (seen_before(c, full)) {
        put_quoted(c, full);
        free(full);
        return 0;
    }
    /* full is now owned by c->seen. */
    put_str(c, "{\"name\":");
    put_quoted(c, full);
    put_str(c, ",\"type\":");
    put_str(c, is_avro_record(s) ? "\"record\"" : is_avro_enum(s) ? "\"enum\"" : "\"fixed\"");
    if (is_avro_record(s)) {
        put_str(c, ",\"fields\":[");
        size_t nf = avro_schema_record_size(s);
        for (size_t i = 0; i < nf; i++) {
            put_str(c, i ? ",{\"name\":" : "{\"name\":");
            put_quoted(c, avro_schema_record_field_name(s, (int)i));
            put_str(c, ",\"type\":");
            if (walk(c, avro_schema_record_field_get_by_index(s, (int)i)) < 0)
                return -1;
            put_str(c, "}");
        }
        put_str(c, "]}");
    } else if (is_avro_enum(s)) {
        put_str(c, ",\"symbols\":[");
        int ns = avro_schema_enum_number_of_symbols(s);
        for (int i = 0; i < ns; i++) {
            if (i)
                put_str(c, ",");
            put_quoted(c, avro_schema_enum_get(s, i));
        }
        put_str(c, "]}");
    } else {
        char size[32];
        snprintf(size, sizeof(size), ",\"size\":%lld}", (long long)avro_schema_fixed_size(s));
        put_str(c, size);
    }
    return 0;
}

static int walk(struct pcf *c, avro_schema_t s)
{
    switch (avro_typeof(s)) {
    case AVRO_STRING:
    case AVRO_BYTES:
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
    case AVRO_BOOLEAN:
    case AVRO_NULL:
        /* [PRIMITIVES]: {"type":"int"} becomes "int"; avro-c already folded it. */
        put_quoted(c, avro_schema_type_name(s));
        return 0;
    case AVRO_RECORD:
    case AVRO_ENUM:
    case AVRO_FIXED:
        return walk_named(c, s);
    case AVRO_LINK:
        /* A reference to a named type defined earlier: the target is in c->seen. */
        return walk(c, avro_schema_link_target(s));
    case AVRO_ARRAY:
        put_str(c, "{\"type\":\"array\",\"items\":");
        if (walk(c, avro_schema_array_items(s)) < 0)
            return -1;
        put_str(c, "}");
        return 0;
    case AVRO_MAP:
        put_str(c, "{\"type\":\"map\",\"values\":");
        if (walk(c, avro_schema_map_values(s)) < 0)
            return -1;
        put_str(c, "}");
        return 0;
    case AVRO_UNION: {
        put_str(c, "[");
        size_t nb = avro_schema_union_size(s);
        for (size_t i = 0; i < nb; i++) {
            if (i)
                put_str(c, ",");
            if (walk(c, avro_schema_union_branch(s, (int)i)) < 0)
                return -1;
        }
        put_str(c, "]");
        return 0;
    }
    default:
        return fail(c, "canonical form: unsupported Avro type %d", (int)avro_typeof(s));
    }
}

int avro_canonical_form(avro_schema_t s, char **out, char *errstr, size_t n)
{
    struct pcf c = {.errstr = errstr, .n = n};
    int rc = -1;

    *out = NULL;
    if (!s) {
        fail(&c, "canonical form: no schema");
        goto out;
    }
    put(&c, "", 0); /* so that an empty result is still a string */
    if (walk(&c, s) < 0)
        goto out;
    *out = c.buf;
    c.buf = NULL;
    rc = 0;
out:
    free(c.buf);
    for (size_t i = 0; i < c.n_seen; i++)
        free(c.seen[i]);
    free(c.seen);
    return rc;
}

static uint64_t fp_table[256];
static pthread_once_t fp_once = PTHREAD_ONCE_INIT;

/* The table from the spec: one step of the Rabin reduction per bit of each byte value. */
static void fp_table_init(void)
{
    for (int i = 0; i < 256; i++) {
        uint64_t fp = (uint64_t)i;
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (AVRO_FINGERPRINT_EMPTY & (0 - (fp & 1)));
        fp_table[i] = fp;
    }
}

uint64_t avro_fingerprint64(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t fp = AVRO_FINGERPRINT_EMPTY;

    pthread_once(&fp_once, fp_table_init);
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ fp_table[(fp ^ p[i]) & 0xff];
    return fp;
}
