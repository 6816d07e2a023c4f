/*
 * admin_ldap: sisopi-admin's directory commands run one operation at a time (an operator's
 * command, not a pipeline): submit, drain, keep the code and message.
 */
#include "admin_ldap.h"

#include <stdio.h>
#include <string.h>

static void on_done(const struct dir_result *r, void *opaque)
{
    struct admin_op *o = opaque;
    o->rc = r->rc;
    o->entries = r->entries;
    snprintf(o->msg, sizeof(o->msg), "%s", r->message);
}

int admin_ldap_open(const struct config *cfg, struct dir_conn **c)
{
    char err[512];
    if (dir_conn_open(cfg, c, err, sizeof(err)) != LDAP_SUCCESS) {
        fprintf(stderr, "sisopi-admin: %s\n", err);
        return -1;
    }
    return 0;
}

void admin_op_error(const struct admin_op *o, char *out, size_t n)
{
    if (o->msg[0])
        snprintf(out, n, "%s (%d): %s", ldap_err2string(o->rc), o->rc, o->msg);
    else
        snprintf(out, n, "%s (%d)", ldap_err2string(o->rc), o->rc);
}

int admin_ldap_search(struct dir_conn *c, const char *base, int scope, const char *filter,
                      const char *const *attrs, dir_conn_entry_cb cb, void *opaque,
                      struct admin_op *o)
{
    memset(o, 0, sizeof(*o));
    o->rc = dir_conn_search_wait(c, base, scope, filter, attrs, cb, opaque, &o->entries, o->msg,
                                 sizeof(o->msg));
    return o->rc;
}

/* A submit that fails returns its code without calling back: keep it as the outcome. */
static int finish(struct dir_conn *c, int submitted, struct admin_op *o)
{
    if (submitted == LDAP_SUCCESS)
        dir_conn_drain(c);
    else
        o->rc = submitted;
    return o->rc;
}

int admin_ldap_add(struct dir_conn *c, const char *dn, const struct dir_mods *m, struct admin_op *o)
{
    memset(o, 0, sizeof(*o));
    return finish(c, dir_conn_add(c, dn, m, on_done, o), o);
}

int admin_ldap_modify(struct dir_conn *c, const char *dn, const struct dir_mods *m,
                      struct admin_op *o)
{
    memset(o, 0, sizeof(*o));
    return finish(c, dir_conn_modify(c, dn, m, 0, NULL, on_done, o), o);
}

int admin_ldap_delete(struct dir_conn *c, const char *dn, struct admin_op *o)
{
    memset(o, 0, sizeof(*o));
    return finish(c, dir_conn_delete(c, dn, on_done, o), o);
}
