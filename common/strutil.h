/*
 * strutil: allocation that cannot fail silently, and the small string predicates
 * several modules share (LDAP attribute names, school names).
 */
#ifndef SISOPI_STRUTIL_H
#define SISOPI_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Like malloc/calloc/realloc/strdup, but abort with a message when memory is exhausted:
 * no caller can do anything better, and a NULL check forgotten once would be worse. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appends printf output to *s (malloc'd, or NULL for an empty start): for building filters. */
void xappendf(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The strings up to the terminating NULL, one after the other, in a new string: for DNs built
 * on every record, where vasprintf cost a fifth of an unchanged record. */
char *xconcat(const char *first, ...) __attribute__((sentinel));

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF. */
bool str_utf8_valid(const void *text, size_t len);

/* FNV-1a of s with ASCII A-Z folded to a-z: hash tables keyed like caseIgnore LDAP values. */
uint64_t str_hash_ci(const char *s);

/* RFC 4512 descr: a letter, then letters, digits and hyphens, at most 64 characters. */
bool str_is_attr_name(const char *s);

/* A school (OU) name sisopi accepts: 1..64 of [A-Za-z0-9_-], not starting with "-".
 * Keeping it this narrow keeps DNs, group names and filters free of special characters. */
bool str_is_school_name(const char *s);

#endif
