/*
 * dir_escape: filter and DN value escaping (RFC 4515, RFC 4514) and DN equality by meaning.
 */
#include "dir_escape.h"

#include <ldap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strutil.h"

char *dir_escape_filter_value(const char *s)
{
    if (!s)
        return NULL;
    struct berval in = {strlen(s), (char *)s}, out = {0, NULL};
    /* libldap escapes the RFC 4515 specials and every non-ASCII or control byte as \XX. */
    if (ldap_bv2escaped_filter_value(&in, &out) != 0 || !out.bv_val) {
        /* Only fails when out of memory; escape by hand then, every byte as \XX. */
        size_t n = strlen(s);
        char *r = xmalloc(3 * n + 1);
        for (size_t i = 0; i < n; i++) {
            static const char hex[] = "0123456789ABCDEF";
            r[3 * i] = '\\';
            r[3 * i + 1] = hex[(unsigned char)s[i] >> 4];
            r[3 * i + 2] = hex[(unsigned char)s[i] & 0xf];
        }
        r[3 * n] = '\0';
        return r;
    }
    char *r = xstrndup(out.bv_val, out.bv_len);
    ber_memfree(out.bv_val);
    return r;
}

/* Length of the valid UTF-8 sequence of 2..4 bytes at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0; /* overlong */
    else if (c == 0xED)
        hi = 0x9F; /* surrogates */
    else if (c == 0xF0)
        lo = 0x90; /* overlong */
    else if (c == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return len;
}

char *dir_escape_dn_value_len(const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    char *out = xmalloc(3 * n + 1), *o = out;
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t len = utf8_seq(u + i, n - i);
            if (len) {
                memcpy(o, u + i, len);
                o += len;
                i += len;
                continue;
            }
        }
        if (c < 0x20 || c >= 0x7F) {
            *o++ = '\\';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 0xf];
        } else if (strchr(",+\"\\<>;=", c) || (i == 0 && (c == ' ' || c == '#')) ||
                   (i == n - 1 && c == ' ')) {
            *o++ = '\\';
            *o++ = (char)c;
        } else {
            *o++ = (char)c;
        }
        i++;
    }
    *o = '\0';
    return out;
}

char *dir_escape_dn_value(const char *s)
{
    return s ? dir_escape_dn_value_len(s, strlen(s)) : NULL;
}

/* The short name of a naming attribute type, lower-cased, in buf (size n). */
static const char *norm_type(const struct berval *t, char *buf, size_t n)
{
    static const char *const alias[][2] = {
        {"commonname", "cn"},
        {"2.5.4.3", "cn"},
        {"organizationalunitname", "ou"},
        {"2.5.4.11", "ou"},
        {"domaincomponent", "dc"},
        {"0.9.2342.19200300.100.1.25", "dc"},
        {"userid", "uid"},
        {"0.9.2342.19200300.100.1.1", "uid"},
        {"organizationname", "o"},
        {"2.5.4.10", "o"},
        {"countryname", "c"},
        {"2.5.4.6", "c"},
    };
    size_t len = t->bv_len < n - 1 ? t->bv_len : n - 1;
    for (size_t i = 0; i < len; i++) {
        char c = t->bv_val[i];
        buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    buf[len] = '\0';
    if (strncasecmp(buf, "oid.", 4) == 0)
        memmove(buf, buf + 4, len - 3);
    for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++) {
        if (strcmp(buf, alias[i][0]) == 0)
            return alias[i][1];
    }
    return buf;
}

/* A value as caseIgnore matching sees it: case folded (ASCII, Latin-1 letters), spaces at both
 * ends dropped, inner runs of spaces collapsed. Returns a malloc'd buffer, its length in *len. */
static char *norm_value(const struct berval *v, size_t *len)
{
    const unsigned char *s = (const unsigned char *)v->bv_val;
    size_t n = v->bv_len, o = 0;
    char *out = xmalloc(n + 1);
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == ' ') {
            space = o > 0;
            continue;
        }
        if (space)
            out[o++] = ' ';
        space = false;
        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c - 'A' + 'a');
        } else if (c == 0xC3 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9E &&
                   s[i + 1] != 0x97) {
            /* U+00C0..U+00DE (but U+00D7, the multiplication sign) -> U+00E0..U+00FE */
            out[o++] = (char)c;
            c = (unsigned char)(s[++i] + 0x20);
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    *len = o;
    return out;
}

static bool ava_equal(const LDAPAVA *a, const LDAPAVA *b)
{
    char ta[80], tb[80];
    if (strcmp(norm_type(&a->la_attr, ta, sizeof(ta)), norm_type(&b->la_attr, tb, sizeof(tb))) != 0)
        return false;
    bool bin_a = a->la_flags & LDAP_AVA_BINARY, bin_b = b->la_flags & LDAP_AVA_BINARY;
    if (bin_a || bin_b) {
        return bin_a == bin_b && a->la_value.bv_len == b->la_value.bv_len &&
               memcmp(a->la_value.bv_val, b->la_value.bv_val, a->la_value.bv_len) == 0;
    }
    size_t la, lb;
    char *va = norm_value(&a->la_value, &la), *vb = norm_value(&b->la_value, &lb);
    bool eq = la == lb && memcmp(va, vb, la) == 0;
    free(va);
    free(vb);
    return eq;
}

static bool rdn_equal(LDAPRDN a, LDAPRDN b)
{
    size_t na = 0, nb = 0;
    while (a[na])
        na++;
    while (b[nb])
        nb++;
    if (na != nb)
        return false;
    /* AVAs of a multi-valued RDN ("cn=x+uid=y") are a set. */
    for (size_t i = 0; i < na; i++) {
        bool found = false;
        for (size_t j = 0; j < nb && !found; j++)
            found = ava_equal(a[i], b[j]);
        if (!found)
            return false;
    }
    return true;
}

/* Compares the first `depth` RDNs (SIZE_MAX: all, and the lengths must match). */
static int dn_compare(const char *a, const char *b, size_t depth)
{
    if (!a || !b)
        return 0;
    LDAPDN da = NULL, db = NULL;
    int eq = 0;
    if (ldap_str2dn(a, &da, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
        ldap_str2dn(b, &db, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
        goto out;
    if (!da || !db) { /* the empty DN (root DSE) */
        eq = !da && !db;
        goto out;
    }
    size_t i = 0;
    for (; i < depth && da[i] && db[i]; i++) {
        if (!rdn_equal(da[i], db[i]))
            goto out;
    }
    eq = i == depth || (!da[i] && !db[i]);
out:
    ldap_dnfree(da);
    ldap_dnfree(db);
    return eq;
}

int dir_dn_equal(const char *a, const char *b)
{
    return dn_compare(a, b, SIZE_MAX);
}

int dir_dn_rdn_equal(const char *a, const char *b)
{
    return dn_compare(a, b, 1);
}
