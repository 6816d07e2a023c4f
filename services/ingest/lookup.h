/*
 * lookup: what the ingest asks the directory before it publishes an import: that the school
 * exists, and whom of the school's persons of this role and source the file no longer lists
 * (the deletion guard's decision for the whole import, carried by every end marker).
 */
#ifndef SISOPI_INGEST_LOOKUP_H
#define SISOPI_INGEST_LOOKUP_H

#include <stddef.h>

#include "config.h"
#include "dir_conn.h"
#include "records.h"
#include "strmap.h"

/* The import's connection to the directory (the look-ups and a dry run share it). NULL with
 * err saying the directory cannot be read. Close with dir_conn_close. */
struct dir_conn *lookup_open(const struct config *cfg, char *err, size_t errlen);

/*
 * Over dc: the mapping's attribute targets against the directory's schema (a
 * misspelt one is refused; a schema the bind may not read is a warning), the school's OU
 * (base scope), then its persons of source_uid with role (subtree). listed holds the record_uids
 * the file lists (valid rows and bad rows whose record_uid was read). Fills *out (out->reason
 * malloc'd when held). Returns 0, or -1 with err saying what is wrong: the directory unreachable, a
 * mapping target the directory does not know (file:line: key), or no such school.
 */
int lookup_before_publish(struct dir_conn *dc, const struct config *cfg, const char *school,
                          enum role role, const char *source_uid, const char *import_id,
                          const struct strmap *listed, struct guard_decision *out, char *err,
                          size_t errlen);

#endif
