/*
 * scheme: parsing and expanding UCS@school's value templates in one pass over the scheme.
 */
#include "scheme.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strutil.h"
#include "text_norm.h"
#include "unicode_data.h"

/* A growing string. */
struct buf {
    char *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Takes the string out of b (never NULL), leaving b empty. */
static char *buf_take(struct buf *b)
{
    if (!b->p)
        buf_put(b, "", 0);
    char *s = b->p;
    *b = (struct buf){0};
    return s;
}

/* Appends the result of cmd (not TRIM) on s[0..n). */
static void apply_chars(const char *s, size_t n, enum scheme_cmd cmd, struct buf *out)
{
    if (cmd == SCHEME_CMD_UMLAUTS) {
        char *in = xstrndup(s, n), *u = text_norm_umlauts(in);
        buf_put(out, u, strlen(u));
        free(u);
        free(in);
        return;
    }
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = text_norm_utf8_next(s + i, n - i, &cp);
        char m[UNICODE_CASE_MAX];
        if (cmd == SCHEME_CMD_LOWER)
            buf_put(out, m, unicode_lower(cp, m));
        else if (cmd == SCHEME_CMD_UPPER)
            buf_put(out, m, unicode_upper(cp, m));
        else if (unicode_is_alnum(cp)) /* SCHEME_CMD_ALPHANUM */
            buf_put(out, s + i, k);
        i += k;
    }
}

/* Python's str.strip(): the span of s[0..n) without leading and trailing isspace(). */
static void strip_span(const char *s, size_t n, size_t *off, size_t *len)
{
    size_t a = 0, b = 0, i = 0;
    bool seen = false;
    while (i < n) {
        uint32_t cp;
        size_t k = text_norm_utf8_next(s + i, n - i, &cp);
        if (!unicode_is_space(cp)) {
            if (!seen)
                a = i;
            seen = true;
            b = i + k;
        }
        i += k;
    }
    *off = seen ? a : 0;
    *len = seen ? b - a : 0;
}

void scheme_result_apply(struct scheme_result *r, enum scheme_cmd cmd)
{
    size_t n = strlen(r->text), at = r->counter ? r->counter_at : n;
    struct buf out = {0};
    if (cmd == SCHEME_CMD_TRIM) {
        size_t off, len;
        strip_span(r->text, n, &off, &len);
        buf_put(&out, r->text + off, len);
        /* A counter in the stripped space moves to the nearest end of what is left. */
        at = at < off ? 0 : at - off > len ? len : at - off;
    } else {
        /* Per character commands: the counter stays between the two halves. */
        apply_chars(r->text, at, cmd, &out);
        size_t left = out.len;
        apply_chars(r->text + at, n - at, cmd, &out);
        at = left;
    }
    free(r->text);
    r->text = buf_take(&out);
    r->counter_at = r->counter ? at : 0;
}

void scheme_result_free(struct scheme_result *r)
{
    free(r->text);
    *r = (struct scheme_result){0};
}

/* --- parsing ---------------------------------------------------------------------------- */

struct parser {
    const char *s;
    size_t len, i;
    scheme_lookup_fn lookup;
    void *opaque;
    struct buf out;
    enum scheme_cmd *globals;
    size_t n_globals;
    enum scheme_counter counter;
    size_t counter_at;
    char *errstr;
    size_t errstr_size;
};

/* An index or slice: [n] or [a:b], with a/b optional in a slice. */
struct subscript {
    bool slice, has_a, has_b;
    int64_t a, b;
};

static int fail(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, size_t at, const char *fmt, ...)
{
    size_t chars = 1;
    for (size_t i = 0; i < at && i < p->len;) {
        uint32_t cp;
        i += text_norm_utf8_next(p->s + i, p->len - i, &cp);
        chars++;
    }
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->errstr, p->errstr_size, "at character %zu: %s", chars, msg);
    return -1;
}

static const struct {
    const char *name;
    enum scheme_cmd cmd;
} command_names[] = {
    {"lower", SCHEME_CMD_LOWER},       {"upper", SCHEME_CMD_UPPER}, {"umlauts", SCHEME_CMD_UMLAUTS},
    {"alphanum", SCHEME_CMD_ALPHANUM}, {"trim", SCHEME_CMD_TRIM},   {"strip", SCHEME_CMD_TRIM},
};

/* Parses the comma-separated commands of s[from..to) into a malloc'd *cmds. */
static int parse_commands(struct parser *p, size_t from, size_t to, enum scheme_cmd **cmds,
                          size_t *n)
{
    *cmds = NULL;
    *n = 0;
    for (size_t start = from; start <= to;) {
        const char *comma = memchr(p->s + start, ',', to - start);
        size_t end = comma ? (size_t)(comma - p->s) : to, off, len;
        strip_span(p->s + start, end - start, &off, &len);
        const char *word = p->s + start + off;
        size_t k = 0, n_names = sizeof(command_names) / sizeof(command_names[0]);
        while (k < n_names && !(strlen(command_names[k].name) == len &&
                                strncasecmp(word, command_names[k].name, len) == 0))
            k++;
        if (k == n_names) {
            free(*cmds);
            *cmds = NULL;
            if (len == 0)
                return fail(p, start, "empty command");
            return fail(p, start + off,
                        "unknown command \"%.*s\" (known: lower, upper, umlauts, alphanum, trim)",
                        (int)(len > 40 ? 40 : len), word);
        }
        *cmds = xrealloc(*cmds, (*n + 1) * sizeof(**cmds));
        (*cmds)[(*n)++] = command_names[k].cmd;
        start = end + 1;
    }
    return 0;
}

/* An optionally negative decimal of at most 9 digits from s[*i..end); advances *i. */
static bool parse_int(const char *s, size_t *i, size_t end, int64_t *v)
{
    size_t j = *i;
    bool neg = j < end && s[j] == '-';
    if (neg)
        j++;
    size_t digits = 0;
    int64_t x = 0;
    while (j < end && s[j] >= '0' && s[j] <= '9' && digits < 10) {
        x = x * 10 + (s[j++] - '0');
        digits++;
    }
    if (digits == 0 || digits > 9)
        return false;
    *v = neg ? -x : x;
    *i = j;
    return true;
}

/* The bracket at p->s[p->i] ('['): a counter (*counter set) or a subscript. Advances p->i. */
static int parse_bracket(struct parser *p, enum scheme_counter *counter, struct subscript *sub)
{
    size_t open = p->i;
    const char *close = memchr(p->s + open, ']', p->len - open);
    const char *other = memchr(p->s + open + 1, '[', p->len - open - 1);
    if (!close || (other && other < close))
        return fail(p, open, "\"[\" without \"]\"");
    size_t end = (size_t)(close - p->s), n = end - open - 1;
    const char *in = p->s + open + 1;
    *counter = SCHEME_COUNTER_NONE;
    *sub = (struct subscript){0};
    if (n == 13 && strncasecmp(in, "ALWAYSCOUNTER", n) == 0) {
        *counter = SCHEME_COUNTER_ALWAYS;
    } else if (n == 8 && strncasecmp(in, "COUNTER2", n) == 0) {
        *counter = SCHEME_COUNTER_COUNTER2;
    } else {
        size_t i = open + 1;
        sub->has_a = parse_int(p->s, &i, end, &sub->a);
        if (i < end && p->s[i] == ':') {
            i++;
            sub->slice = true;
            sub->has_b = parse_int(p->s, &i, end, &sub->b);
        }
        if (i != end || (!sub->slice && !sub->has_a))
            return fail(p, open,
                        "\"[%.*s]\" is none of [n], [a:b], [ALWAYSCOUNTER], [COUNTER2] (n, a, b: "
                        "up to 9 digits)",
                        (int)(n > 40 ? 40 : n), in);
    }
    p->i = end + 1;
    return 0;
}

/* Byte offset of character index c of s[0..n) (n if c is past the end). */
static size_t char_offset(const char *s, size_t n, int64_t c)
{
    size_t i = 0;
    for (int64_t k = 0; k < c && i < n; k++) {
        uint32_t cp;
        i += text_norm_utf8_next(s + i, n - i, &cp);
    }
    return i;
}

/* Appends value[sub] with Python's semantics; -1 for an index beyond the value. */
static int put_subscript(struct parser *p, size_t tag, const char *key, const char *v,
                         const struct subscript *sub)
{
    size_t n = strlen(v);
    int64_t chars = (int64_t)text_norm_utf8_length(v), a, b;
    if (!sub->slice) {
        a = sub->a < 0 ? sub->a + chars : sub->a;
        if (a < 0 || a >= chars)
            return fail(p, tag, "index %lld is out of range: %s has %lld characters",
                        (long long)sub->a, key, (long long)chars);
        b = a + 1;
    } else {
        a = !sub->has_a ? 0 : sub->a < 0 ? sub->a + chars : sub->a;
        b = !sub->has_b ? chars : sub->b < 0 ? sub->b + chars : sub->b;
        a = a < 0 ? 0 : a > chars ? chars : a;
        b = b < 0 ? 0 : b > chars ? chars : b;
        if (a >= b)
            return 0;
    }
    size_t from = char_offset(v, n, a), to = char_offset(v, n, b);
    buf_put(&p->out, v + from, to - from);
    return 0;
}

/* The value of <key:cmds>[sub], appended to the output. */
static int put_value(struct parser *p, size_t tag, const char *key, const enum scheme_cmd *cmds,
                     size_t n_cmds, const struct subscript *sub)
{
    const char *v = p->lookup ? p->lookup(key, p->opaque) : NULL;
    if (!v || !*v)
        return 0; /* the reference skips commands and subscript of an empty value */
    struct scheme_result r = {.text = xstrdup(v)};
    for (size_t k = 0; k < n_cmds; k++)
        scheme_result_apply(&r, cmds[k]);
    int rc = 0;
    if (sub)
        rc = put_subscript(p, tag, key, r.text, sub);
    else
        buf_put(&p->out, r.text, strlen(r.text));
    scheme_result_free(&r);
    return rc;
}

/* The tag at p->s[p->i] ('<'), with the subscript that may follow it. Advances p->i. */
static int parse_tag(struct parser *p)
{
    size_t open = p->i, j = open + 1;
    while (j < p->len && p->s[j] != '>') {
        if (p->s[j] == '<' || p->s[j] == '[' || p->s[j] == ']')
            return fail(p, j, "\"%c\" inside <...>", p->s[j]);
        j++;
    }
    if (j == p->len)
        return fail(p, open, "\"<\" without \">\"");
    if (j == open + 1)
        return fail(p, open, "empty <>");
    /* The reference splits at the last ':' (rsplit): "<a:b:lower>" is key "a:b". */
    size_t colon = j;
    for (size_t k = open + 1; k < j; k++)
        if (p->s[k] == ':')
            colon = k;
    enum scheme_cmd *cmds = NULL;
    size_t n_cmds = 0;
    if (colon < j && parse_commands(p, colon + 1, j, &cmds, &n_cmds) < 0)
        return -1;
    p->i = j + 1;

    int rc = 0;
    struct subscript sub;
    bool has_sub = false;
    if (p->i < p->len && p->s[p->i] == '[') {
        size_t save = p->i;
        enum scheme_counter counter;
        if ((rc = parse_bracket(p, &counter, &sub)) < 0)
            goto out;
        has_sub = counter == SCHEME_COUNTER_NONE;
        if (!has_sub)
            p->i = save; /* a counter right after the tag: the main loop takes it */
    }
    if (colon == open + 1) { /* <:cmds> */
        if (has_sub) {
            rc = fail(p, j + 1, "a subscript after <:...> has nothing to select from");
            goto out;
        }
        p->globals = xrealloc(p->globals, (p->n_globals + n_cmds) * sizeof(*p->globals));
        memcpy(p->globals + p->n_globals, cmds, n_cmds * sizeof(*cmds));
        p->n_globals += n_cmds;
    } else {
        char *key = xstrndup(p->s + open + 1, colon - open - 1);
        rc = put_value(p, open, key, cmds, n_cmds, has_sub ? &sub : NULL);
        free(key);
    }
out:
    free(cmds);
    return rc;
}

static int parse(struct parser *p)
{
    while (p->i < p->len) {
        size_t at = p->i;
        char c = p->s[at];
        if (c == '<') {
            if (parse_tag(p) < 0)
                return -1;
        } else if (c == '>') {
            return fail(p, at, "\">\" without \"<\"");
        } else if (c == ']') {
            return fail(p, at, "\"]\" without \"[\"");
        } else if (c == '[') {
            enum scheme_counter counter;
            struct subscript sub;
            if (parse_bracket(p, &counter, &sub) < 0)
                return -1;
            if (counter == SCHEME_COUNTER_NONE)
                return fail(p, at, "[n] and [a:b] must follow an <attribute>");
            if (p->counter != SCHEME_COUNTER_NONE)
                return fail(p, at, "a second counter; a scheme may have one");
            p->counter = counter;
            p->counter_at = p->out.len;
        } else {
            size_t end = at + strcspn(p->s + at, "<>[]");
            buf_put(&p->out, p->s + at, end - at);
            p->i = end;
        }
    }
    return 0;
}

int scheme_expand(const char *scheme, unsigned flags, scheme_lookup_fn lookup, void *opaque,
                  struct scheme_result *out, char *errstr, size_t errstr_size)
{
    struct parser p = {.s = scheme,
                       .len = strlen(scheme),
                       .lookup = lookup,
                       .opaque = opaque,
                       .errstr = errstr,
                       .errstr_size = errstr_size};
    *out = (struct scheme_result){0};
    if (flags & SCHEME_IMPLICIT_UMLAUTS) {
        p.globals = xmalloc(sizeof(*p.globals));
        p.globals[p.n_globals++] = SCHEME_CMD_UMLAUTS;
    }
    int rc = parse(&p);
    if (rc == 0) {
        out->text = buf_take(&p.out);
        out->counter = p.counter;
        out->counter_at = p.counter_at;
        for (size_t k = 0; k < p.n_globals; k++)
            scheme_result_apply(out, p.globals[k]);
    }
    free(p.out.p);
    free(p.globals);
    return rc;
}

int scheme_check(const char *scheme, char *errstr, size_t errstr_size)
{
    struct scheme_result r;
    if (scheme_expand(scheme, 0, NULL, NULL, &r, errstr, errstr_size) < 0)
        return -1;
    scheme_result_free(&r);
    return 0;
}

struct ref_search {
    const char *attr;
    bool found;
};

static const char *note_reference(const char *name, void *opaque)
{
    struct ref_search *rs = opaque;
    if (strcmp(name, rs->attr) == 0)
        rs->found = true;
    return NULL;
}

bool scheme_references(const char *scheme, const char *attr)
{
    struct ref_search rs = {.attr = attr};
    struct scheme_result r;
    char err[8];
    if (scheme_expand(scheme, 0, note_reference, &rs, &r, err, sizeof(err)) < 0)
        return false;
    scheme_result_free(&r);
    return rs.found;
}
