/*
 * lookup: the mapping against the schema, the school's OU, then its persons, over the
 * import's dir_conn.
 */
#include "lookup.h"

#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deletion_guard.h"
#include "dir_conn.h"
#include "dir_entry.h"
#include "dir_escape.h"
#include "dir_layout.h"
#include "dir_schema.h"
#include "person_ldap.h"
#include "strutil.h"

struct count {
    enum role role;
    const struct strmap *listed;
    int64_t members, removals;
    char message[256]; /* the server's, of the last search */
};

static void on_person(const struct dir_entry *e, void *opaque)
{
    struct count *c = opaque;
    enum role r;
    const char *rid = dir_entry_value(e, "ucsschoolRecordUID");
    if (!rid || person_ldap_role(e, &r) < 0 || r != c->role)
        return; /* another role at this school: another import's */
    c->members++;
    if (!strmap_get(c->listed, rid))
        c->removals++;
}

/*
 * The mapping's attribute targets against the schema: a misspelt one would be refused for
 * every record. Once per process: neither changes within a run (--watch imports hundreds of
 * files, and the schema is the largest entry read). A schema this bind may not read is a
 * warning. Returns 0, or -1 with err.
 */
static int check_mapping_once(struct dir_conn *dc, const struct config *cfg, char *err, size_t n)
{
    static bool checked;
    char e[768];
    if (checked)
        return 0;
    if (dir_schema_check_directory(dc, cfg, e, sizeof(e)) < 0) {
        if (dir_conn_is_down(dc))
            snprintf(err, n,
                     "cannot read the directory (the school and the deletion guard need it): %s",
                     e);
        else
            snprintf(err, n, "%s", e);
        return -1;
    }
    checked = true;
    return 0;
}

struct dir_conn *lookup_open(const struct config *cfg, char *err, size_t n)
{
    struct dir_conn *dc = NULL;
    char e[512];
    if (dir_conn_open(cfg, &dc, e, sizeof(e)) != LDAP_SUCCESS) {
        snprintf(err, n,
                 "cannot read the directory (the school and the deletion guard need it): %s", e);
        return NULL;
    }
    return dc;
}

int lookup_before_publish(struct dir_conn *dc, const struct config *cfg, const char *school,
                          enum role role, const char *source_uid, const char *import_id,
                          const struct strmap *listed, struct guard_decision *out, char *err,
                          size_t n)
{
    static const char *const no_attrs[] = {"1.1", NULL};
    static const char *const person_attrs[] = {"objectClass", "ucsschoolRecordUID", NULL};
    memset(out, 0, sizeof(*out));
    int rc = -1;
    struct count c = {.role = role, .listed = listed};
    char *school_dn = layout_school_dn(cfg, school);
    char *fs = dir_escape_filter_value(school);
    char *fsid = dir_escape_filter_value(source_uid);
    char *filter = xasprintf("(&(objectClass=ucsschoolType)(ucsschoolSourceUID=%s)"
                             "(ucsschoolSchool=%s)(ucsschoolRecordUID=*))",
                             fsid, fs);
    if (check_mapping_once(dc, cfg, err, n) < 0)
        goto out;
    int lrc = dir_conn_search_wait(dc, school_dn, LDAP_SCOPE_BASE, "(objectClass=*)", no_attrs,
                                   NULL, &c, NULL, c.message, sizeof(c.message));
    if (lrc == LDAP_NO_SUCH_OBJECT) {
        snprintf(err, n,
                 "school %s does not exist in the directory (no %s): create it first with "
                 "sisopi-admin school create %s",
                 school, school_dn, school);
        goto out;
    }
    if (lrc == LDAP_SUCCESS)
        lrc = dir_conn_search_wait(dc, cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, person_attrs,
                                   on_person, &c, NULL, c.message, sizeof(c.message));
    if (lrc != LDAP_SUCCESS) {
        snprintf(err, n,
                 "cannot read the directory (the school and the deletion guard need it): "
                 "%s: %s%s%s",
                 dir_conn_uri(dc), ldap_err2string(lrc), c.message[0] ? ": " : "", c.message);
        goto out;
    }
    out->members = c.members;
    out->removals = c.removals;
    out->held = deletion_guard_trips(&cfg->import, c.removals, c.members);
    if (out->held)
        out->reason =
            deletion_guard_reason(&cfg->import, school, role, c.removals, c.members, import_id);
    rc = 0;
out:
    free(school_dn);
    free(fs);
    free(fsid);
    free(filter);
    return rc;
}
