/*
 * purge_sweep: one paged search, served by the eq index of ucsschoolPurgeTimestamp through its
 * ordering rule.
 */
#include "purge_sweep.h"

#include <stdio.h>
#include <stdlib.h>

#include "dir_layout.h"
#include "person_ldap.h"
#include "strutil.h"

struct sweep {
    purge_sweep_cb cb;
    void *opaque;
    int stop;
    char err[256];
};

static void on_entry(const struct dir_entry *e, void *opaque)
{
    struct sweep *s = opaque;
    if (s->stop)
        return;
    struct purge_candidate c = {.dn = e->dn};
    const char *ts = dir_entry_value(e, "ucsschoolPurgeTimestamp");
    if (!ts || layout_parse_generalized_time(ts, &c.purge_at_ms) < 0)
        return; /* the filter matched, so this is a value we cannot read: nothing to order */
    c.record_uid = dir_entry_value(e, "ucsschoolRecordUID");
    c.source_uid = dir_entry_value(e, "ucsschoolSourceUID");
    c.username = dir_entry_value(e, "uid");
    c.has_role = person_ldap_role(e, &c.role) == 0;
    c.locked = dir_entry_value(e, "pwdAccountLockedTime") != NULL;
    s->stop = s->cb(&c, s->opaque);
}

static void on_done(const struct dir_result *r, void *opaque)
{
    struct sweep *s = opaque;
    if (r->rc != LDAP_SUCCESS)
        snprintf(s->err, sizeof(s->err), "purge sweep under %s: %s (%s)", r->dn,
                 ldap_err2string(r->rc), r->message ? r->message : "");
}

int purge_sweep(struct dir_conn *c, const struct config *cfg, int64_t upto_ms, purge_sweep_cb cb,
                void *opaque, char *err, size_t n)
{
    static const char *const attrs[] = {"objectClass",
                                        "uid",
                                        "ucsschoolRecordUID",
                                        "ucsschoolSourceUID",
                                        "ucsschoolPurgeTimestamp",
                                        "pwdAccountLockedTime",
                                        NULL};
    /* "All": slapd 2.5's GeneralizedTime ordering index finds nothing below a bound in
     * year 9999 (measured); year 2999 is far enough and works. */
    char upto[16] = "29991231235959Z";
    if (upto_ms != INT64_MAX)
        layout_generalized_time(upto_ms, upto);
    char *filter = xasprintf("(&(objectClass=ucsschoolType)(ucsschoolPurgeTimestamp<=%s))", upto);
    struct sweep s = {.cb = cb, .opaque = opaque};
    dir_conn_search(c, cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, on_entry, on_done, &s);
    int rc = dir_conn_drain(c);
    free(filter);
    if (!s.err[0] && rc != LDAP_SUCCESS)
        snprintf(s.err, sizeof(s.err), "purge sweep: %s", ldap_err2string(rc));
    if (s.err[0]) {
        snprintf(err, n, "%s", s.err);
        return -1;
    }
    return s.stop;
}
