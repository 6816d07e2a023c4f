/*
 * import_fields: the rules for the single values of an import row (docs/reference.md §1 and §3):
 * multi-value cells, school names, classes, birthday, email, passwords. Pure, no I/O.
 *
 * Ownership: every char * / char ** returned is malloc'd and belongs to the caller
 * (import_fields_free_strv for arrays). err never repeats a password.
 */
#ifndef SISOPI_IMPORT_FIELDS_H
#define SISOPI_IMPORT_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

/* Splits cell on delim (a string; NULL or "" = do not split), trims every item and drops the
 * empty ones. Returns the number of items; *items is NULL when there are none. */
size_t import_fields_split(const char *cell, const char *delim, char ***items);

void import_fields_free_strv(char **v, size_t n);

/* True if value names school: both umlaut-normalised, compared ASCII case-insensitively (OU
 * names are case-insensitive in LDAP). */
bool import_fields_same_school(const char *value, const char *school);

/*
 * A school_classes cell of a row imported for `school`:
 *  - split on delim; each item is cut at its first "-": "X-1a" is class "1a" of school X,
 *    an item without "-" is a class of `school` ("1a" -> "<school>-1a");
 *  - a "-" with nothing after it, or nothing before it, is an error;
 *  - the class part is umlaut-normalised and characters outside [0-9A-Za-z -._] become
 *    `replacement` ("" keeps them) - see text_norm_class_part;
 *  - every class must belong to `school` (else an error: SiSoPi imports one school);
 *  - the result is "<school>-<class>" with the job's spelling of school, de-duplicated
 *    ASCII case-insensitively (LDAP group names are; the first spelling stays), sorted with
 *    strcmp.
 * Returns 0 with *classes / *n (NULL / 0 for an empty cell), or -1 with err.
 */
int import_fields_classes(const char *cell, const char *delim, const char *school,
                          const char *replacement, char ***classes, size_t *n, char *err,
                          size_t errlen);

/*
 * A birthday as yyyy-mm-dd, dd.mm.yyyy, dd.mm.yy, mm/dd/yyyy or mm/dd/yy (day and month in the
 * dotted and slashed forms may have one digit) -> "yyyy-mm-dd" in out. A two-digit year not
 * after current_year's last two digits is 20yy, else 19yy. The date must exist, and lie between
 * 1900-01-01 and the end of current_year. Returns 0 or -1 with err.
 */
int import_fields_birthday(const char *in, int current_year, char out[11], char *err,
                           size_t errlen);

/* An email address with every whitespace character removed, checked against
 * [^@]+@.+\..+ (anchored at the start, like the reference) and 254 characters at most.
 * "" stays "" (it removes the address). Returns the malloc'd address or NULL with err. */
char *import_fields_email(const char *in, char *err, size_t errlen);

/* "{CRYPT}$6$<salt>$<hash>": SHA-512 crypt with 16 bytes of getrandom() salt. Returns the
 * malloc'd hash, or NULL with err. Wipes its own copies of the password. The same as
 * password_hash() (password.h), which does the work. */
char *import_fields_hash_password(const char *password, char *err, size_t errlen);

#endif
