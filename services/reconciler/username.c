/*
 * username: the reference's UsernameHandler/EmailHandler.format_name, split at the counter
 * store: derive (everything before the number) and compose (everything after it).
 */
#include "username.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_fields.h"
#include "strutil.h"
#include "text_norm.h"

/* The reference reserves three characters for the number: counters up to 999 fit. */
#define COUNTER_WIDTH 3

static bool ascii_alnum(uint32_t cp)
{
    return (cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
}

/* What UDM's uid syntax accepts at the ends of a username: \w (usernames are ASCII here). */
static bool word_char(char c)
{
    return ascii_alnum((unsigned char)c) || c == '_';
}

/*
 * The reference's remove_bad_chars on s[0..n).
 * Usernames (specials != NULL): strip each special character from both ends, in the order of
 * specials, then drop every character that is neither [A-Za-z0-9] nor special.
 * E-mail (specials == NULL): drop whitespace.
 */
static char *remove_bad(const char *s, size_t n, const char *specials)
{
    size_t a = 0, b = n;
    for (const char *c = specials; c && *c; c++) {
        while (a < b && s[a] == *c)
            a++;
        while (b > a && s[b - 1] == *c)
            b--;
    }
    char *out = xmalloc(b - a + 1), *o = out;
    for (size_t i = a; i < b;) {
        uint32_t cp;
        size_t k = text_norm_utf8_next(s + i, b - i, &cp);
        bool keep = specials ? ascii_alnum(cp) || (cp < 0x80 && cp && strchr(specials, (int)cp))
                             : !text_norm_is_space(cp);
        if (keep) {
            memcpy(o, s + i, k);
            o += k;
        }
        i += k;
    }
    *o = '\0';
    return out;
}

/* Byte length of the first `chars` characters of s. */
static size_t prefix_bytes(const char *s, size_t chars)
{
    size_t len = strlen(s), i = 0;
    for (size_t c = 0; c < chars && i < len; c++) {
        uint32_t cp;
        i += text_norm_utf8_next(s + i, len - i, &cp);
    }
    return i;
}

/* Python's s.strip("."), in place. */
static void strip_dots(char *s)
{
    size_t n = strlen(s), a = 0;
    while (n > 0 && s[n - 1] == '.')
        n--;
    while (a < n && s[a] == '.')
        a++;
    memmove(s, s + a, n - a);
    s[n - a] = '\0';
}

/*
 * format_name up to the counter store, on text (the expansion without its counter, which stood
 * at byte `at`). specials as for remove_bad. Fills everything of *out but domain.
 */
static int handle(const char *text, enum scheme_counter counter, size_t at, size_t max_chars,
                  const char *specials, struct username_base *out, char *errstr, size_t errstr_size)
{
    size_t n = strlen(text);
    if (at > n)
        at = n;
    *out = (struct username_base){.counter = counter, .max_chars = max_chars};
    out->specials = specials ? xstrdup(specials) : NULL;
    if (counter == SCHEME_COUNTER_NONE) {
        /* Cleaned, then cut to max_chars if the uncleaned text was longer; the final name. */
        out->pre = remove_bad(text, n, specials);
        if (text_norm_utf8_length(text) > max_chars)
            out->pre[prefix_bytes(out->pre, max_chars)] = '\0';
        strip_dots(out->pre);
        out->post = xstrdup("");
        return 0;
    }
    size_t cut = max_chars > COUNTER_WIDTH ? max_chars - COUNTER_WIDTH : 0;
    char *head = xstrndup(text, at);
    size_t start = text_norm_utf8_length(head);
    free(head);
    out->key = remove_bad(text, n, specials);
    if (text_norm_utf8_length(out->key) > cut) {
        /* The number goes at the counter's character position in the uncut text, applied to
         * the cut one (the reference's quirk: removed characters shift it to the right). */
        out->key[prefix_bytes(out->key, cut)] = '\0';
        size_t split = prefix_bytes(out->key, start);
        out->pre = xstrndup(out->key, split);
        out->post = xstrdup(out->key + split);
    } else {
        /* The number goes into the uncleaned text, which composing cleans as a whole. */
        out->pre = xstrndup(text, at);
        out->post = xstrdup(text + at);
    }
    if (!*out->key) {
        snprintf(errstr, errstr_size, "nothing is left of the %s once its characters are cleaned",
                 specials ? "username" : "e-mail address");
        return -1;
    }
    return 0;
}

int username_compose(const struct username_base *b, uint64_t n_from_store, char *out, size_t outsz,
                     char *errstr, size_t errstr_size)
{
    const char *what = b->domain ? "e-mail address" : "username";
    char *name;
    if (b->counter == SCHEME_COUNTER_NONE) {
        name = xstrdup(b->pre);
    } else {
        char number[24] = "";
        if (n_from_store > 0)
            snprintf(number, sizeof(number), "%" PRIu64, n_from_store);
        else if (b->counter == SCHEME_COUNTER_ALWAYS)
            strcpy(number, "1");
        char *raw = xasprintf("%s%s%s", b->pre, number, b->post);
        name = remove_bad(raw, strlen(raw), b->specials);
        free(raw);
        strip_dots(name);
    }
    int rc = -1;
    size_t chars = text_norm_utf8_length(name);
    if (chars == 0) {
        snprintf(errstr, errstr_size, "the %s is empty", what);
        goto out;
    }
    if (chars > b->max_chars) {
        /* Only a counter past 999 gets here: the reference fails such a row (UsernameToLong). */
        if (b->domain)
            snprintf(errstr, errstr_size,
                     "the e-mail address with counter %" PRIu64 " is longer than %d characters",
                     n_from_store, USERNAME_EMAIL_MAX);
        else
            snprintf(
                errstr, errstr_size,
                "username \"%s\" is longer than %zu characters (UsernameToLong): counter %" PRIu64
                " does not fit",
                name, b->max_chars, n_from_store);
        goto out;
    }
    if (!b->domain && !(word_char(name[0]) && word_char(name[strlen(name) - 1]))) {
        /* Only reachable with specials beyond ".": the reference would hand "-max" to UDM,
         * whose uid syntax refuses it. */
        snprintf(errstr, errstr_size,
                 "username \"%s\" must begin and end with a letter, a digit or \"_\"", name);
        goto out;
    }
    if (b->domain) {
        char *full = xasprintf("%s@%s", name, b->domain);
        free(name);
        name = import_fields_email(full, errstr, errstr_size);
        free(full);
        if (!name)
            goto out;
    }
    if (strlen(name) >= outsz) {
        snprintf(errstr, errstr_size, "the %s does not fit in %zu bytes", what, outsz);
        goto out;
    }
    strcpy(out, name);
    rc = 0;
out:
    free(name);
    return rc;
}

/* Fails early, before a counter is spent, on what composing would refuse anyway. */
static int try_compose(struct username_base *b, char *errstr, size_t errstr_size)
{
    char buf[USERNAME_OUT_MAX];
    if (username_compose(b, 0, buf, sizeof(buf), errstr, errstr_size) < 0) {
        username_base_free(b);
        return -1;
    }
    return 0;
}

int username_from_expansion(const struct scheme_result *x, int max_length, const char *specials,
                            struct username_base *out, char *errstr, size_t errstr_size)
{
    *out = (struct username_base){0};
    if (max_length < 1) {
        snprintf(errstr, errstr_size, "username max length %d is below 1", max_length);
        return -1;
    }
    if (!specials)
        specials = USERNAME_DEFAULT_SPECIALS;
    for (const char *c = specials; *c; c++) {
        if ((unsigned char)*c >= 0x80 || (unsigned char)*c < 0x20) {
            snprintf(errstr, errstr_size, "allowed special characters must be printable ASCII");
            return -1;
        }
    }
    if (handle(x->text, x->counter, x->counter_at, (size_t)max_length, specials, out, errstr,
               errstr_size) < 0) {
        username_base_free(out);
        return -1;
    }
    return try_compose(out, errstr, errstr_size);
}

int username_derive(const char *scheme, scheme_lookup_fn lookup, void *opaque, int max_length,
                    const char *specials, struct username_base *out, char *errstr,
                    size_t errstr_size)
{
    struct scheme_result x;
    *out = (struct username_base){0};
    if (scheme_expand(scheme, SCHEME_IMPLICIT_UMLAUTS, lookup, opaque, &x, errstr, errstr_size) < 0)
        return -1;
    int rc = username_from_expansion(&x, max_length, specials, out, errstr, errstr_size);
    scheme_result_free(&x);
    return rc;
}

struct mail_lookup {
    scheme_lookup_fn lookup;
    void *opaque;
    const char *maildomain;
};

/* The configured maildomain wins over any attribute of that name (the reference's order). */
static const char *lookup_with_maildomain(const char *name, void *opaque)
{
    const struct mail_lookup *ml = opaque;
    if (strcmp(name, "maildomain") == 0)
        return ml->maildomain;
    return ml->lookup ? ml->lookup(name, ml->opaque) : NULL;
}

int username_email_derive(const char *scheme, scheme_lookup_fn lookup, void *opaque,
                          const char *maildomain, struct username_base *out, char *errstr,
                          size_t errstr_size)
{
    *out = (struct username_base){0};
    if (!scheme || !*scheme || !maildomain || !*maildomain)
        return 1;
    struct mail_lookup ml = {lookup, opaque, maildomain};
    struct scheme_result x;
    if (scheme_expand(scheme, 0, lookup_with_maildomain, &ml, &x, errstr, errstr_size) < 0)
        return -1;
    scheme_result_apply(&x, SCHEME_CMD_LOWER);
    int rc = -1;
    char *local = NULL, *domain = NULL;
    const char *at = strrchr(x.text, '@');
    if (!at) {
        snprintf(errstr, errstr_size, "the e-mail scheme gave an address without \"@\"");
        goto out;
    }
    size_t at_off = (size_t)(at - x.text);
    if (x.counter != SCHEME_COUNTER_NONE && x.counter_at > at_off) {
        snprintf(errstr, errstr_size, "the counter of the e-mail scheme must be left of the \"@\"");
        goto out;
    }
    domain = remove_bad(at + 1, strlen(at + 1), NULL);
    size_t domain_chars = text_norm_utf8_length(domain);
    if (domain_chars + 1 >= USERNAME_EMAIL_MAX) {
        snprintf(errstr, errstr_size,
                 "the e-mail domain leaves no room for a name in %d characters",
                 USERNAME_EMAIL_MAX);
        goto out;
    }
    local = xstrndup(x.text, at_off);
    if (handle(local, x.counter, x.counter_at, USERNAME_EMAIL_MAX - 1 - domain_chars, NULL, out,
               errstr, errstr_size) < 0) {
        username_base_free(out);
        goto out;
    }
    out->domain = domain;
    domain = NULL;
    rc = try_compose(out, errstr, errstr_size);
out:
    free(local);
    free(domain);
    scheme_result_free(&x);
    return rc;
}

void username_base_free(struct username_base *b)
{
    free(b->key);
    free(b->pre);
    free(b->post);
    free(b->domain);
    free(b->specials);
    *b = (struct username_base){0};
}
