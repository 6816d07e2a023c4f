/*
 * scheme: UCS@school's templates for derived values ("<firstname>[0].<lastname>[COUNTER2]"):
 * expansion against a value lookup, and the syntax check that config validation runs. Pure.
 *
 * Syntax (the reference's UDM pattern_replace plus the import's counters):
 *   text            copied as it is;
 *   <attr>          the attribute's value, "" if it is absent or empty;
 *   <attr>[n]       one character of it (characters, not bytes; Python semantics, n may be
 *                   negative; an index beyond the value is an error, an empty value gives "");
 *   <attr>[a:b]     a slice, Python semantics (negative and omitted bounds, never an error);
 *   <attr:c1,c2>    commands applied to that value, in order, before the index or slice;
 *   <:c1,c2>        commands applied to the whole result at the end, in order of appearance;
 *   [ALWAYSCOUNTER] [COUNTER2]   (any case) where a counter goes; at most one per scheme.
 * Commands (case and surrounding spaces ignored): lower, upper (Python's full case mapping,
 * without its final-sigma rule), umlauts (text_norm_umlauts), alphanum (keeps the characters
 * Python's isalnum accepts), trim or strip.
 * Extensions over the reference (which its own config check refuses): multi-digit and negative
 * subscripts. Stricter: unknown commands, nested or empty tags and stray subscripts are errors.
 *
 * The expansion leaves the counter out and says where it stood (struct scheme_result);
 * username.h turns that into the counter key and the final name.
 *
 * Ownership: a struct scheme_result owns its text (scheme_result_free). The strings a lookup
 * returns are borrowed: copied at once, they need to live only until the next lookup call.
 */
#ifndef SISOPI_SCHEME_H
#define SISOPI_SCHEME_H

#include <stdbool.h>
#include <stddef.h>

enum scheme_counter {
    SCHEME_COUNTER_NONE = 0,
    SCHEME_COUNTER_ALWAYS,   /* [ALWAYSCOUNTER]: the first use gets "1" */
    SCHEME_COUNTER_COUNTER2, /* [COUNTER2]: the first use gets "" */
};

enum scheme_cmd {
    SCHEME_CMD_LOWER = 0,
    SCHEME_CMD_UPPER,
    SCHEME_CMD_UMLAUTS,
    SCHEME_CMD_ALPHANUM,
    SCHEME_CMD_TRIM,
};

/* Returns the value of attribute `name` (as the scheme spells it, e.g. "firstname"), or NULL
 * if there is none. NULL and "" both expand to "". */
typedef const char *(*scheme_lookup_fn)(const char *name, void *opaque);

struct scheme_result {
    char *text;                  /* the expansion without the counter placeholder */
    enum scheme_counter counter; /* the placeholder the scheme had, if any */
    size_t counter_at;           /* byte offset in text where it stood (0 without one) */
};

/* Behave as if the scheme began with "<:umlauts>" (every username scheme does). */
#define SCHEME_IMPLICIT_UMLAUTS 1u

/*
 * Expands scheme with the values lookup gives (lookup may be NULL: every value is absent).
 * flags: 0 or SCHEME_IMPLICIT_UMLAUTS. Returns 0 with *out filled, or -1 with err saying
 * what is wrong and where ("at character 12: ..."; positions count characters of scheme from
 * 1): a syntax error, or an index beyond a value. err never repeats a value.
 */
int scheme_expand(const char *scheme, unsigned flags, scheme_lookup_fn lookup, void *opaque,
                  struct scheme_result *out, char *err, size_t errlen);

void scheme_result_free(struct scheme_result *r);

/* Applies one command to the whole of r->text, keeping r->counter_at where the counter
 * stood (the reference lower-cases e-mail addresses this way, after the expansion). */
void scheme_result_apply(struct scheme_result *r, enum scheme_cmd cmd);

/*
 * The syntax check of config validation (the reference's "defaults" check, stricter where it
 * lets nonsense through): "<" and ">" pair up without nesting and enclose something; "[" only
 * as [n] or [a:b] right after an <attr>, or as [ALWAYSCOUNTER] / [COUNTER2]; at most one
 * counter; known commands only. Returns 0, or -1 with err as for scheme_expand.
 */
int scheme_check(const char *scheme, char *err, size_t errlen);

/* True if scheme (which must pass scheme_check) uses <attr> (with or without commands): the
 * caller derives attributes that other schemes use first ("<username>@<maildomain>"). */
bool scheme_references(const char *scheme, const char *attr);

#endif
