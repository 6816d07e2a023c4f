/*
 * username: UCS@school's username and e-mail handlers (docs/reference.md §3): from a scheme to the
 * counter key, and from the counter's stored value to the final name. Pure, no I/O.
 *
 * How the reconciler uses it, for a new user whose name comes from the scheme:
 *
 *   struct username_base b;
 *   if (username_derive(scheme, lookup, ctx, max_length, ".", &b, err, sizeof(err)) < 0)
 *       -> the row fails with err;
 *   uint64_t n = 0;                      // 0: the counter had no entry yet
 *   if (b.counter != SCHEME_COUNTER_NONE)
 *       n = <allocate from the store, below>;
 *   char name[USERNAME_OUT_MAX];
 *   rc = username_compose(&b, n, name, sizeof(name), err, sizeof(err));
 *   username_base_free(&b);
 *
 * The store ("allocate"): the entry cn=<b.key>,cn=unique-usernames,cn=ucsschool,cn=univention,
 * <base> (cn=unique-email,... for e-mail), objectClass ucsschoolUsername, holds the next number
 * in ucsschoolUsernameNextNumber. Build the DN with the LDAP library's escaping: e-mail keys
 * may hold "+", "," or "\". Then, exactly as the reference:
 *   1. Read the entry. None: add it with ucsschoolUsernameNextNumber: 2 (USERNAME_COUNTER_START)
 *      and use n = 0 ("first use": ALWAYSCOUNTER gives "1", COUNTER2 gives ""). If the add
 *      fails with alreadyExists, somebody else was first: start again at 1.
 *   2. Entry with value v (must be a decimal integer >= 1; anything else is a corrupt counter,
 *      fatal as in the reference): modify it with {delete: v, add: v + 1} in one operation,
 *      which fails with noSuchAttribute if v changed meanwhile (then start again at 1); on
 *      success use n = v. Both counter kinds share the key: Max1, Max2, Max3, then a COUNTER2
 *      scheme gives Max4.
 *   A number is never given back, not even when the row fails later (the reference's
 *   "historically unique" names). LDAP compares cn case-insensitively, so "Max" and "max" share
 *   an entry; an in-memory store for dry runs must compare keys the same way (ASCII case for
 *   usernames) and be seeded from LDAP. The directory's existing users are not consulted:
 *   uniqueness of the result is checked separately (docs/reference.md §3 "Validation").
 *
 * Where the result differs from the reference (checked against a Python port of it over 24,000
 * derivations; everything else is equal):
 *  - "umlauts" spells ł ı đ ħ ŋ ŧ œ ĸ ẞ þ ð as l i d h n t oe k SS th d, where the reference
 *    drops the first ones and writes þ ð as p o (text_norm_umlauts): "Łukasz Yıldız" gives
 *    "L.Yildiz", not "Yldz";
 *  - a counter comes from the scheme only, never from a value ("[COUNTER2]" in a name);
 *  - a name that would be empty on the counter's first use is an error before any number is
 *    spent (the reference spends one and hands out "2" next time);
 *  - usernames must begin and end with [A-Za-z0-9_] (UDM's uid syntax would refuse the rest;
 *    only reachable with specials beyond ".");
 *  - e-mail: U+00A0 is removed like other whitespace, and from the domain too; "lower" lacks
 *    Python's final-sigma rule (a Greek "Σ" at the end of a word becomes "σ", not "ς").
 *
 * Ownership: a struct username_base owns all its strings; username_base_free releases them.
 */
#ifndef SISOPI_USERNAME_H
#define SISOPI_USERNAME_H

#include <stddef.h>
#include <stdint.h>

#include "scheme.h"

/* The value a new counter entry is created with. */
#define USERNAME_COUNTER_START 2
/* Characters allowed in usernames besides [A-Za-z0-9] (config username.allowed_special_chars). */
#define USERNAME_DEFAULT_SPECIALS "."
/* An e-mail address has at most this many characters. */
#define USERNAME_EMAIL_MAX 254
/* Enough for every name username_compose can succeed with (254 characters of UTF-8). */
#define USERNAME_OUT_MAX 1024

struct username_base {
    /* The counter key (cn of the counter entry): the name without its counter, cleaned and cut.
     * NULL when counter is SCHEME_COUNTER_NONE. */
    char *key;
    enum scheme_counter counter;
    /* Private to username.c: how username_compose builds the name. */
    char *pre, *post; /* the text before and after the number, cleaned on composing */
    char *domain;     /* e-mail: what follows the last "@"; NULL for usernames */
    char *specials;   /* usernames: the allowed special characters; NULL for e-mail */
    size_t max_chars; /* the longest result (the local part for e-mail) */
};

/*
 * The username handler on a username scheme: expands it (with the implicit <:umlauts>), then
 *  1. at most one counter (scheme_expand refuses a second);
 *  2. strips each of `specials` (printable ASCII; NULL means USERNAME_DEFAULT_SPECIALS) from
 *     both ends, then removes characters other than [A-Za-z0-9] and specials; in this order,
 *     as the reference: the key of "'.a[COUNTER2]" is ".a" (step 4 strips the name's ".");
 *  3. with a counter, cuts the name without it to max_length - 3 characters, even if the
 *     counter turns out empty (the key); the number goes where the counter stood, or at the
 *     end if the cut reached that far. Without a counter, cuts to max_length;
 *  4. strips "." from both ends; an empty result is an error.
 * Returns 0 with *out filled, or -1 with err (the row's error: bad scheme, index beyond a
 * value, empty username).
 */
int username_derive(const char *scheme, scheme_lookup_fn lookup, void *opaque, int max_length,
                    const char *specials, struct username_base *out, char *err, size_t errlen);

/* The same on an expansion that is already there (username_derive = scheme_expand with
 * SCHEME_IMPLICIT_UMLAUTS, then this). */
int username_from_expansion(const struct scheme_result *x, int max_length, const char *specials,
                            struct username_base *out, char *err, size_t errlen);

/*
 * The e-mail handler: expands the e-mail scheme with <maildomain> = maildomain (over what
 * lookup says), lower-cases it, splits it at the last "@", and treats the local part like a
 * username (counter, cut to 254 - 1 - length of the domain, "." stripped from its ends) except
 * that only whitespace is removed. Whitespace is removed from the domain too. The counter key
 * is the local part alone (store: cn=unique-email).
 * Returns 1 with *out zeroed when there is no address to make (no scheme, or no maildomain: the
 * reference then makes none), 0 with *out filled, -1 with err (bad scheme, no "@", counter
 * after the "@", an address that is not name@domain.tld).
 */
int username_email_derive(const char *scheme, scheme_lookup_fn lookup, void *opaque,
                          const char *maildomain, struct username_base *out, char *err,
                          size_t errlen);

/*
 * The final name from b and the counter value the store gave (0: there was no entry yet). The
 * number is "1" (ALWAYSCOUNTER) or "" (COUNTER2) on first use, else n in decimal; ignored
 * without a counter. Writes the NUL-terminated name to out. Returns 0, or -1 with err when
 * the result is empty, longer than allowed (a counter past 999 can overflow the cut: the
 * reference then fails the row with UsernameToLong, and so does this), or does not fit outsz.
 */
int username_compose(const struct username_base *b, uint64_t n_from_store, char *out, size_t outsz,
                     char *err, size_t errlen);

void username_base_free(struct username_base *b);

#endif
