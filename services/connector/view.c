/*
 * view: the authority's view of a central person, and the diff against what it holds.
 */
#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dir_escape.h"
#include "dir_layout.h"
#include "plan.h"
#include "strutil.h"

#define OWNER_PREFIX "sisopi_connector:authority:"

char *view_owner_mark(const char *authority)
{
    return xconcat(OWNER_PREFIX, authority, NULL);
}

bool view_owned(const struct dir_entry *e, const char *authority)
{
    const struct dir_attr *r = e ? dir_entry_attr(e, "ucsschoolRole") : NULL;
    char *mark = view_owner_mark(authority);
    bool owned = false;
    for (size_t i = 0; r && i < r->n && !owned; i++)
        owned = strcasecmp(r->values[i], mark) == 0;
    free(mark);
    return owned;
}

void view_authority_config(const struct config *central, const struct connector_authority *a,
                           struct config *out)
{
    *out = *central;
    out->ldap.uri = a->uri;
    out->ldap.base = a->base;
    out->ldap.bind_dn = a->bind_dn;
    out->ldap.password_file = a->password_file;
    out->ldap.account_key = "connector.authorities";
    out->ldap.starttls = a->starttls;
    out->ldap.ca_file = a->ca_file;
    out->import.limbo_ou = a->limbo_ou;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Copies the values of name from e into l (nothing when e lacks it). */
static void take(struct attr_list *l, const struct dir_entry *e, const char *name)
{
    const struct dir_attr *at = e ? dir_entry_attr(e, name) : NULL;
    if (at && at->n)
        attr_list_set(l, name, (const char *const *)at->values, at->n);
}

/* The schools of c that belong to the authority, sorted (byte-wise, as the reference sorts). */
static size_t authority_schools(const struct config *acfg, const struct connector_authority *a,
                                const struct person *c, char ***out)
{
    char **s = xcalloc(c->n_schools + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < c->n_schools; i++) {
        if (config_connector_school_of(acfg, c->schools[i], a->name))
            s[n++] = xstrdup(c->schools[i]);
    }
    qsort(s, n, sizeof(char *), cmp_str);
    *out = s;
    return n;
}

static void copy_classes(struct person *p, const struct person *c)
{
    p->classes = xcalloc(c->n_classes + 1, sizeof(*p->classes));
    for (size_t k = 0; k < c->n_classes; k++) {
        bool mine = false;
        for (size_t s = 0; s < p->n_schools && !mine; s++)
            mine = strcasecmp(p->schools[s], c->classes[k].school) == 0;
        if (!mine)
            continue;
        struct school_classes *d = &p->classes[p->n_classes++];
        d->school = xstrdup(c->classes[k].school);
        d->classes = xcalloc(c->classes[k].n_classes + 1, sizeof(char *));
        for (size_t j = 0; j < c->classes[k].n_classes; j++)
            d->classes[d->n_classes++] = xstrdup(c->classes[k].classes[j]);
    }
}

void view_compute(const struct config *acfg, const struct connector_authority *a,
                  const struct person *c, const struct dir_entry *ce, bool present,
                  struct view *out)
{
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    char **schools;
    size_t n = authority_schools(acfg, a, c, &schools);
    if (c->limbo)
        out->kind = present ? VIEW_LIMBO : VIEW_ABSENT;
    else if (n == 0)
        out->kind = present && a->leave_limbo ? VIEW_LIMBO : VIEW_ABSENT;
    else
        out->kind = VIEW_ACTIVE;
    if (out->kind == VIEW_ABSENT) {
        for (size_t i = 0; i < n; i++)
            free(schools[i]);
        free(schools);
        return;
    }
    struct person *p = &out->p;
    p->record_uid = xstrdup(c->record_uid);
    p->source_uid = xstrdup(c->source_uid);
    p->role = c->role;
    p->username = xstrdup(c->username);
    p->updated_offset = -1;
    if (out->kind == VIEW_LIMBO) {
        for (size_t i = 0; i < n; i++)
            free(schools[i]);
        free(schools);
        p->limbo = true;
        p->schools = xcalloc(1, sizeof(char *));
        p->primary_school = xstrdup(a->limbo_ou);
        p->purge_at_ms = c->limbo ? c->purge_at_ms : 0;
    } else {
        p->schools = schools;
        p->n_schools = n;
        const char *primary = schools[0];
        for (size_t i = 0; i < n && c->primary_school; i++) {
            if (strcasecmp(schools[i], c->primary_school) == 0)
                primary = schools[i];
        }
        p->primary_school = xstrdup(primary);
        copy_classes(p, c);
    }
    p->dn = layout_user_dn(acfg, p->username, p->primary_school, p->role);

    /* The attributes that travel: the names always (inetOrgPerson needs cn and sn), the role's
     * mapping, the password hash all or nothing. */
    struct attr_list l = {0};
    take(&l, ce, "cn");
    take(&l, ce, "sn");
    for (size_t i = 0; i < a->n_attributes[p->role]; i++)
        take(&l, ce, a->attributes[p->role][i]);
    if (a->passwords)
        take(&l, ce, "userPassword");
    p->attrs = l.v;
    p->n_attrs = l.n;

    plan_entry_attrs(acfg, p, &out->entry);
    const char *const *oc = layout_user_object_classes(p->role);
    size_t n_oc = 0;
    while (oc[n_oc])
        n_oc++;
    attr_list_set(&out->entry, "objectClass", oc, n_oc);
    attr_list_set1(&out->entry, "uid", p->username);
    attr_list_set1(&out->entry, "ucsschoolSourceUID", p->source_uid);
    attr_list_set1(&out->entry, "ucsschoolRecordUID", p->record_uid);
    char *mark = view_owner_mark(a->name);
    attr_list_add_value(&out->entry, "ucsschoolRole", mark);
    free(mark);
    out->n_groups = layout_person_groups(acfg, p, &out->groups);
}

void view_free(struct view *v)
{
    if (!v)
        return;
    person_free(&v->p);
    attr_list_free(&v->entry);
    for (size_t i = 0; i < v->n_groups; i++)
        free(v->groups[i]);
    free(v->groups);
    memset(v, 0, sizeof(*v));
}

const char **view_managed_attrs(const struct connector_authority *a, enum role role)
{
    static const char *const fixed[] = {"cn",
                                        "sn",
                                        "ucsschoolSchool",
                                        "ucsschoolRole",
                                        "departmentNumber",
                                        "shadowExpire",
                                        "pwdAccountLockedTime",
                                        "ucsschoolPurgeTimestamp",
                                        NULL};
    size_t nf = sizeof(fixed) / sizeof(fixed[0]) - 1;
    const char **v = xcalloc(nf + a->n_attributes[role] + 2, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < nf; i++)
        v[n++] = fixed[i];
    for (size_t i = 0; i < a->n_attributes[role]; i++)
        v[n++] = a->attributes[role][i];
    if (a->passwords)
        v[n++] = "userPassword";
    return v;
}

/* ---- the diff ---- */

static struct view_op *new_op(struct view_diff *d, enum view_op_kind k, const char *dn)
{
    d->ops = xrealloc(d->ops, (d->n_ops + 1) * sizeof(*d->ops));
    struct view_op *op = &d->ops[d->n_ops++];
    memset(op, 0, sizeof(*op));
    op->kind = k;
    op->dn = xstrdup(dn);
    return op;
}

static bool has_dn(char *const *v, size_t n, const char *dn)
{
    for (size_t i = 0; i < n; i++) {
        if (dir_dn_equal(v[i], dn))
            return true;
    }
    return false;
}

/* Every group of v, dn and uid once (by DN meaning), in v's order then the others'. */
static size_t union_groups(const struct view *v, const struct view_found *f, const char ***out)
{
    size_t cap = v->n_groups + f->n_groups_dn + f->n_groups_uid + 1, n = 0;
    const char **u = xcalloc(cap, sizeof(char *));
    char *const *lists[3] = {v->groups, f->groups_dn, f->groups_uid};
    size_t counts[3] = {v->n_groups, f->n_groups_dn, f->n_groups_uid};
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; i < counts[l]; i++) {
            if (!has_dn((char *const *)u, n, lists[l][i]))
                u[n++] = lists[l][i];
        }
    }
    *out = u;
    return n;
}

/* The group changes: the new DN and uid into the groups of v, the old ones out of the others
 * the connector manages (or out of every group when the person goes: deleting). */
static void diff_groups(const struct config *acfg, const struct view *v, const struct view_found *f,
                        const char *olddn, const char *olduid, bool deleting, struct view_diff *d)
{
    const char **all;
    size_t n = union_groups(v, f, &all);
    const char *newdn = v->p.dn, *newuid = v->p.username;
    enum role role = v->kind == VIEW_ABSENT ? ROLE_STUDENT : v->p.role;
    bool moved = olddn && newdn && !dir_dn_equal(olddn, newdn);
    bool renamed_uid = olduid && newuid && strcmp(olduid, newuid) != 0;
    for (size_t i = 0; i < n; i++) {
        const char *g = all[i];
        bool wanted = !deleting && has_dn(v->groups, v->n_groups, g);
        bool in_dn = has_dn(f->groups_dn, f->n_groups_dn, g);
        bool in_uid = has_dn(f->groups_uid, f->n_groups_uid, g);
        struct attr_list ch = {0};
        if (wanted) {
            if (!in_dn || moved)
                attr_list_add_value(&ch, "+uniqueMember", newdn);
            if (moved && in_dn)
                attr_list_add_value(&ch, "-uniqueMember", olddn);
            if (!in_uid || renamed_uid)
                attr_list_add_value(&ch, "+memberUid", newuid);
            if (renamed_uid && in_uid)
                attr_list_add_value(&ch, "-memberUid", olduid);
        } else if (deleting || layout_managed_group(acfg, g, role)) {
            if (in_dn && olddn)
                attr_list_add_value(&ch, "-uniqueMember", olddn);
            if (in_uid && olduid)
                attr_list_add_value(&ch, "-memberUid", olduid);
        }
        if (ch.n) {
            struct view_op *op = new_op(d, VIEW_OP_GROUP, g);
            op->attrs = ch;
        } else {
            attr_list_free(&ch);
        }
    }
    free(all);
}

/* The attributes of e (or of l) restricted to the managed names. */
static void restrict_entry(const struct dir_entry *e, const char **names, struct attr_list *out)
{
    for (const char **n = names; *n; n++)
        take(out, e, *n);
}

static void restrict_list(const struct attr_list *l, const char **names, struct attr_list *out)
{
    for (const char **n = names; *n; n++) {
        const struct attr_values *v = attr_list_get(l, *n);
        if (v && v->n_values)
            attr_list_set(out, v->name, (const char *const *)v->values, v->n_values);
    }
}

static void diff_attrs(const struct connector_authority *a, const struct view *v,
                       const struct dir_entry *e, struct view_diff *d)
{
    const char **names = view_managed_attrs(a, v->p.role);
    struct attr_list from = {0}, to = {0};
    restrict_entry(e, names, &from);
    restrict_list(&v->entry, names, &to);
    struct attr_change *ch = NULL;
    size_t n = attr_list_diff(from.v, from.n, to.v, to.n, &ch);
    if (n) {
        struct view_op *op = new_op(d, VIEW_OP_MODIFY, v->p.dn);
        op->changed = xcalloc(n, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            attr_list_set(&op->attrs, ch[i].name, ch[i].values, ch[i].n_values);
            if (ch[i].n_values == 0) /* attr_list_set drops it: an empty marker instead */
                attr_list_set1(&op->attrs, ch[i].name, "");
            op->changed[op->n_changed++] = xstrdup(ch[i].name);
        }
    }
    free(ch);
    attr_list_free(&from);
    attr_list_free(&to);
    free(names);
}

void view_diff(const struct config *acfg, const struct connector_authority *a, const struct view *v,
               const struct view_found *found, struct view_diff *out)
{
    memset(out, 0, sizeof(*out));
    const struct dir_entry *e = found->entry;
    if (!e) {
        if (v->kind == VIEW_ABSENT)
            return;
        struct view_op *op = new_op(out, VIEW_OP_ADD, v->p.dn);
        attr_list_copy(&op->attrs, v->entry.v, v->entry.n);
        diff_groups(acfg, v, found, NULL, NULL, false, out);
        return;
    }
    if (!view_owned(e, a->name)) {
        if (v->kind != VIEW_ABSENT) {
            out->conflict = true;
            snprintf(out->reason, sizeof(out->reason),
                     "%.200s holds this person at authority %.64s but was not made by the "
                     "connector (it has no " OWNER_PREFIX "%.64s role): left alone",
                     e->dn, a->name, a->name);
        }
        return;
    }
    const char *olduid = dir_entry_value(e, "uid");
    if (v->kind == VIEW_ABSENT) {
        diff_groups(acfg, v, found, e->dn, olduid, true, out);
        new_op(out, VIEW_OP_DELETE, e->dn);
        return;
    }
    diff_groups(acfg, v, found, e->dn, olduid, false, out);
    if (!dir_dn_equal(e->dn, v->p.dn)) {
        struct view_op *op = new_op(out, VIEW_OP_RENAME, e->dn);
        char *u = dir_escape_dn_value(v->p.username);
        op->newrdn = xconcat("uid=", u, NULL);
        op->newsuperior = layout_users_container_dn(acfg, v->p.primary_school, v->p.role);
        free(u);
    }
    diff_attrs(a, v, e, out);
}

void view_diff_free(struct view_diff *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_ops; i++) {
        struct view_op *op = &d->ops[i];
        free(op->dn);
        free(op->newrdn);
        free(op->newsuperior);
        attr_list_free(&op->attrs);
        for (size_t k = 0; k < op->n_changed; k++)
            free(op->changed[k]);
        free(op->changed);
    }
    free(d->ops);
    memset(d, 0, sizeof(*d));
}

const char *view_op_name(enum view_op_kind k)
{
    static const char *const names[VIEW_OP_KIND_COUNT] = {"add", "rename", "modify", "delete",
                                                          "group"};
    return (unsigned)k < VIEW_OP_KIND_COUNT ? names[k] : "?";
}
