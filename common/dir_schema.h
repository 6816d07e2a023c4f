/*
 * dir_schema: the attribute types the directory knows, read from its subschema subentry, and
 * the check that every LDAP attribute import.csv.mapping names is one of them: a misspelt
 * target ("klass") must stop a service at start, not fail every record it would write.
 *
 *   struct dir_schema *s = NULL;
 *   if (dir_schema_read(conn, cfg->ldap.base, &s, err, sizeof(err)) != LDAP_SUCCESS) ...
 *   if (dir_schema_check_mapping(s, cfg, err, sizeof(err)) < 0) ... // "FILE:LINE: KEY: ..."
 *   dir_schema_free(s);
 *
 * Ownership: the struct dir_schema belongs to the caller (dir_schema_free); it keeps copies.
 */
#ifndef SISOPI_DIR_SCHEMA_H
#define SISOPI_DIR_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "dir_conn.h"

struct dir_schema;

/*
 * Reads the subschemaSubentry of base, then the attributeTypes of that entry (one search
 * each, drained on c: nothing else may be outstanding). Returns LDAP_SUCCESS with *out set,
 * or an LDAP result code with err saying what was read where (the connection's loss code
 * when it was lost; LDAP_NO_SUCH_ATTRIBUTE when the server shows no schema to this bind).
 */
int dir_schema_read(struct dir_conn *c, const char *base, struct dir_schema **out, char *err,
                    size_t errlen);

/* A schema from attributeTypes values (RFC 4512 descriptions) as read from where; values
 * that do not parse are skipped (counted in dir_schema_skipped). For dir_schema_read and
 * tests. */
struct dir_schema *dir_schema_from_values(const char *const *values, size_t n, const char *where);

/* Whether name (case-insensitively) is one of the names or the OID of an attribute type. */
bool dir_schema_has_attribute(const struct dir_schema *s, const char *name);

size_t dir_schema_attribute_count(const struct dir_schema *s);
size_t dir_schema_skipped(const struct dir_schema *s);

/* Checks every LDAP attribute target of cfg->import.csv.mapping. Returns 0, or -1 with err =
 * "FILE:LINE: import.csv.mapping[N]: \"klass\" is not an attribute type of the directory
 * ...", naming the first unknown one. */
int dir_schema_check_mapping(const struct dir_schema *s, const struct config *cfg, char *err,
                             size_t errlen);

void dir_schema_free(struct dir_schema *s); /* NULL is fine */

/*
 * Both steps, as a program does at its start: reads the schema over c and checks cfg's mapping
 * against it. 0 when the mapping is fine, or when this bind may not read the schema (a warning
 * is logged: not a reason to stop); -1 with err when a target is unknown ("FILE:LINE: KEY:
 * ...") or the connection was lost (dir_conn_is_down(c) tells which).
 */
int dir_schema_check_directory(struct dir_conn *c, const struct config *cfg, char *err,
                               size_t errlen);

#endif
