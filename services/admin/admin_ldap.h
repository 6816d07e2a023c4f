/*
 * admin_ldap: the directory one operation at a time, as sisopi-admin's commands use it: submit,
 * drain, and the result's code and message kept for an error line.
 */
#ifndef SISOPI_ADMIN_LDAP_H
#define SISOPI_ADMIN_LDAP_H

#include <stddef.h>

#include "config.h"
#include "dir_conn.h"
#include "dir_mods.h"

/* The outcome of one operation: the LDAP result code, the entries a search delivered and the
 * server's diagnostic message ("" if none). */
struct admin_op {
    int rc;
    size_t entries;
    char msg[256];
};

/* Opens the connection of cfg; on failure prints "sisopi-admin: why" and returns -1. */
int admin_ldap_open(const struct config *cfg, struct dir_conn **c);

/* "Already exists (68): server message" for error lines, in out. */
void admin_op_error(const struct admin_op *o, char *out, size_t n);

/* Each runs one operation to its end and returns its LDAP result code (also in o->rc). */
int admin_ldap_search(struct dir_conn *c, const char *base, int scope, const char *filter,
                      const char *const *attrs, dir_conn_entry_cb cb, void *opaque,
                      struct admin_op *o);
int admin_ldap_add(struct dir_conn *c, const char *dn, const struct dir_mods *m,
                   struct admin_op *o);
int admin_ldap_modify(struct dir_conn *c, const char *dn, const struct dir_mods *m,
                      struct admin_op *o);
int admin_ldap_delete(struct dir_conn *c, const char *dn, struct admin_op *o);

#endif
