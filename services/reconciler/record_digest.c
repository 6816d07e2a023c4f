/*
 * record_digest: SipHash-2-4-128 over the fields of a record the rules read, length-prefixed,
 * with a key made of the store's key and the configuration values the rules read.
 */
#include "record_digest.h"

#include <stdlib.h>
#include <string.h>

#include "strutil.h"

static inline uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline void store64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

void siphash128(const uint8_t key[RECORD_DIGEST_KEY_LEN], const void *data, size_t len,
                uint8_t out[RECORD_DIGEST_LEN])
{
    const uint8_t *in = data;
    uint64_t k0 = load64(key), k1 = load64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    v1 ^= 0xee;
    size_t end = len - len % 8;
    for (size_t i = 0; i < end; i += 8) {
        uint64_t m = load64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)in[end + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xee;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    store64(out, v0 ^ v1 ^ v2 ^ v3);
    v1 ^= 0xdd;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    store64(out + 8, v0 ^ v1 ^ v2 ^ v3);
}

/* A growable byte buffer of the serialisation. */
struct ser {
    uint8_t **p;
    size_t *cap, len;
};

static void put(struct ser *s, const void *b, size_t n)
{
    if (s->len + n > *s->cap) {
        *s->cap = (s->len + n) * 2 + 64;
        *s->p = xrealloc(*s->p, *s->cap);
    }
    memcpy(*s->p + s->len, b, n);
    s->len += n;
}

static void put_u64(struct ser *s, uint64_t v)
{
    uint8_t b[8];
    store64(b, v);
    put(s, b, 8);
}

static void put_u32(struct ser *s, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(s, b, 4);
}

/* A string, length-prefixed; NULL and "" differ (an e-mail of "" removes the address). A
 * record's values are far below 4 GiB (the reconciler refuses any above
 * import.csv.max_field_bytes before it gets here). */
static void put_str(struct ser *s, const char *v)
{
    if (!v) {
        put_u32(s, UINT32_MAX);
        return;
    }
    size_t n = strlen(v);
    put_u32(s, (uint32_t)n);
    put(s, v, n);
}

static void put_strv(struct ser *s, char *const *v, size_t n)
{
    put_u32(s, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put_str(s, v[i]);
}

void record_digest_init(struct record_digest_ctx *d, const struct config *cfg,
                        const uint8_t key[RECORD_DIGEST_KEY_LEN])
{
    memset(d, 0, sizeof(*d));
    struct ser s = {.p = &d->buf, .cap = &d->cap};
    /* Every configuration value plan.c and dir_layout.c read (a new one read there must be
     * added here, or a digest made under the old value would still match). */
    put_str(&s, cfg->ldap.base);
    for (int r = 0; r < ROLE_COUNT; r++)
        put_str(&s, cfg->ldap.users_container[r]);
    put_str(&s, cfg->import.limbo_ou);
    put_str(&s, cfg->import.scheme_email);
    put_u64(&s, (uint64_t)cfg->import.deletion_grace_seconds);
    put_u64(&s, (uint64_t)cfg->import.csv.max_field_bytes);
    /* The configuration goes into the key: the digest of each record then hashes the record
     * alone. */
    siphash128(key, d->buf, s.len, d->key);
}

void record_digest_free(struct record_digest_ctx *d)
{
    free(d->buf);
    memset(d, 0, sizeof(*d));
}

void record_digest(struct record_digest_ctx *d, const struct user_record *r,
                   uint8_t out[RECORD_DIGEST_LEN])
{
    struct ser s = {.p = &d->buf, .cap = &d->cap};
    put_str(&s, r->source_uid);
    put_str(&s, r->school);
    put_u32(&s, (uint32_t)r->role);
    put_str(&s, r->record_uid);
    put_str(&s, r->firstname);
    put_str(&s, r->lastname);
    put_str(&s, r->username);
    put_str(&s, r->email);
    put_str(&s, r->birthday);
    put_u32(&s, r->classes_given);
    put_strv(&s, r->classes, r->n_classes);
    put_u32(&s, (uint32_t)r->n_extra);
    for (size_t i = 0; i < r->n_extra; i++) {
        put_str(&s, r->extra[i].name);
        put_strv(&s, r->extra[i].values, r->extra[i].n_values);
    }
    siphash128(d->key, d->buf, s.len, out);
}
