/*
 * dir_escape: the escaping every string needs before it becomes part of an LDAP filter or DN,
 * and DN comparison by meaning (slapd answers with its own escaping, so never strcmp DNs).
 *
 * Pure functions, no connection needed. Every returned string is malloc'd: the caller frees it.
 */
#ifndef SISOPI_DIR_ESCAPE_H
#define SISOPI_DIR_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * An assertion value for a search filter (RFC 4515): "*", "(", ")", "\", NUL and every byte
 * that is not printable ASCII become \XX, so "*)(uid=*" can only ever match itself:
 *   char *v = dir_escape_filter_value(uid);
 *   char *filter = xasprintf("(&(objectClass=posixAccount)(uid=%s))", v);
 * Returns NULL only when s is NULL.
 */
char *dir_escape_filter_value(const char *s);

/*
 * An attribute value for a DN (RFC 4514), to be written after "attr=":
 * "," "+" '"' "\" "<" ">" ";" "=" become "\," etc.; a leading space or "#" and a trailing space
 * are escaped; control characters, DEL and bytes that are not valid UTF-8 become \XX. Valid
 * UTF-8 (umlauts) is kept as it is. "Müller, Hans" -> "Müller\, Hans".
 * Returns NULL only when s is NULL.
 */
char *dir_escape_dn_value(const char *s);

/* The same for a value of len bytes that may hold NUL bytes (they become \00). */
char *dir_escape_dn_value_len(const char *s, size_t len);

/*
 * 1 if a and b name the same entry, else 0 (also when either is not a valid DN: an invalid DN
 * equals nothing). Both are parsed (ldap_str2dn), so "cn=A\2C B" equals "cn=a\, b": attribute
 * types compare case-insensitively, with the usual long names and OIDs of cn, ou, dc, uid, o
 * and c mapped to the short ones; values compare as slapd's caseIgnore matching does for the
 * naming attributes sisopi uses: ASCII and Latin-1 letters (umlauts) ignore case, leading and
 * trailing spaces and runs of spaces are insignificant; the AVAs of a multi-valued RDN compare
 * in any order.
 */
int dir_dn_equal(const char *a, const char *b);

/* Like dir_dn_equal, for the first RDN only: "uid=x,ou=A,..." and "uid=X,ou=limbo,..." are
 * equal. 0 when either does not parse. */
int dir_dn_rdn_equal(const char *a, const char *b);

#endif
