/*
 * sync: one person, both directories, synchronously (one operation in flight): the order of
 * the operations is what makes a crash between any two of them harmless (view_diff).
 */
#include "sync.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dir_escape.h"
#include "dir_layout.h"
#include "dir_mods.h"
#include "log.h"
#include "person_ldap.h"
#include "strutil.h"

void sync_init(struct sync_ctx *s, const struct config *cfg, const struct connector_authority *a)
{
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    s->a = a;
    view_authority_config(cfg, a, &s->acfg);
}

int sync_open(struct sync_ctx *s, char *err, size_t errlen)
{
    if (dir_conn_open(s->cfg, &s->central, err, errlen) != LDAP_SUCCESS)
        return -1;
    if (dir_conn_open(&s->acfg, &s->target, err, errlen) != LDAP_SUCCESS)
        return -1;
    return 0;
}

void sync_close(struct sync_ctx *s)
{
    dir_conn_close(s->central);
    dir_conn_close(s->target);
    s->central = s->target = NULL;
}

/* ---- reading ---- */

static struct dir_entry *entry_copy(const struct dir_entry *e)
{
    struct dir_entry *c = xcalloc(1, sizeof(*c));
    c->dn = xstrdup(e->dn);
    c->attrs = xcalloc(e->n_attrs + 1, sizeof(*c->attrs));
    for (size_t i = 0; i < e->n_attrs; i++) {
        const struct dir_attr *a = &e->attrs[i];
        struct dir_attr *d = &c->attrs[c->n_attrs++];
        d->name = xstrdup(a->name);
        d->n = a->n;
        d->values = xcalloc(a->n + 1, sizeof(char *));
        d->lens = xcalloc(a->n + 1, sizeof(size_t));
        for (size_t k = 0; k < a->n; k++) {
            d->values[k] = xmalloc(a->lens[k] + 1);
            memcpy(d->values[k], a->values[k], a->lens[k] + 1);
            d->lens[k] = a->lens[k];
        }
    }
    return c;
}

struct entries {
    struct dir_entry **v;
    size_t n;
};

static void on_entry(const struct dir_entry *e, void *opaque)
{
    struct entries *l = opaque;
    l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    l->v[l->n++] = entry_copy(e);
}

static void entries_free(struct entries *l)
{
    for (size_t i = 0; i < l->n; i++)
        dir_entry_free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Whether rc means "the directory is not there" (back off and retry) rather than a refusal. */
static bool unavailable(int rc, bool lost)
{
    return lost || rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ||
           rc == LDAP_BUSY || rc == LDAP_UNAVAILABLE || rc == LDAP_USER_CANCELLED ||
           rc == LDAP_LOCAL_ERROR;
}

static int ensure_up(struct dir_conn *c, char *err, size_t n)
{
    if (!dir_conn_is_down(c))
        return 0;
    return dir_conn_reconnect(c, err, n) == LDAP_SUCCESS ? 0 : -1;
}

/* A search run to its end into l; 0, or -1 with why (the directory failed). */
static int search(struct dir_conn *c, const char *base, const char *filter,
                  const char *const *attrs, struct entries *l, char *why, size_t n)
{
    char msg[256] = "";
    int rc = dir_conn_search_wait(c, base, LDAP_SCOPE_SUBTREE, filter, attrs, on_entry, l, NULL,
                                  msg, sizeof(msg));
    if (rc == LDAP_SUCCESS || rc == LDAP_NO_SUCH_OBJECT)
        return 0;
    snprintf(why, n, "%s: search %s: %s (%d) %s", dir_conn_uri(c), filter, ldap_err2string(rc), rc,
             msg);
    entries_free(l);
    return -1;
}

static const char *const person_attrs[] = {"*", "pwdAccountLockedTime", NULL};
static const char *const no_attrs[] = {"1.1", NULL};

/* The DNs of the sisopiGroups under base where attr = value. */
static int groups_with(struct dir_conn *c, const char *base, const char *attr, const char *value,
                       char ***out, size_t *n, char *why, size_t wn)
{
    char *v = dir_escape_filter_value(value);
    char *f = xasprintf("(&(objectClass=sisopiGroup)(%s=%s))", attr, v);
    struct entries l = {0};
    int rc = search(c, base, f, no_attrs, &l, why, wn);
    free(v);
    free(f);
    *out = xcalloc(l.n + 1, sizeof(char *));
    *n = 0;
    for (size_t i = 0; i < l.n; i++)
        (*out)[(*n)++] = xstrdup(l.v[i]->dn);
    entries_free(&l);
    return rc;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The person's classes, from the central class groups naming its DN. */
static int read_classes(struct sync_ctx *s, struct person *p, char *why, size_t wn)
{
    char **groups;
    size_t n;
    if (groups_with(s->central, s->cfg->ldap.base, "uniqueMember", p->dn, &groups, &n, why, wn) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char *cn, *school;
        if (layout_group_parts(groups[i], &cn, &school) < 0)
            continue;
        char *want = layout_class_dn(s->cfg, school, cn);
        if (dir_dn_equal(want, groups[i])) {
            struct school_classes *sc = NULL;
            for (size_t k = 0; k < p->n_classes && !sc; k++)
                if (strcasecmp(p->classes[k].school, school) == 0)
                    sc = &p->classes[k];
            if (!sc) {
                p->classes = xrealloc(p->classes, (p->n_classes + 1) * sizeof(*p->classes));
                sc = &p->classes[p->n_classes++];
                memset(sc, 0, sizeof(*sc));
                sc->school = xstrdup(school);
            }
            sc->classes = xrealloc(sc->classes, (sc->n_classes + 1) * sizeof(char *));
            sc->classes[sc->n_classes++] = xstrdup(cn);
        }
        free(want);
        free(cn);
        free(school);
    }
    strv_free(groups, n);
    return 0;
}

/* The entry of the person at the authority: the one the connector marked, if several match. */
static struct dir_entry *pick(struct entries *l, const char *authority)
{
    struct dir_entry *best = NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (!best || (view_owned(l->v[i], authority) && !view_owned(best, authority)))
            best = l->v[i];
    }
    return best;
}

/* ---- writing ---- */

struct op_result {
    int rc;
    bool lost;
    char msg[256];
};

static void on_done(const struct dir_result *r, void *opaque)
{
    struct op_result *o = opaque;
    o->rc = r->rc;
    o->lost = r->conn_lost;
    snprintf(o->msg, sizeof(o->msg), "%s", r->message);
}

static void wait_op(struct dir_conn *c, struct op_result *o)
{
    dir_conn_drain(c);
    (void)o;
}

static struct dir_mods *group_mods(const struct attr_list *l)
{
    static const struct {
        const char *key, *attr;
        int op;
    } map[] = {{"+uniqueMember", "uniqueMember", LDAP_MOD_ADD},
               {"-uniqueMember", "uniqueMember", LDAP_MOD_DELETE},
               {"+memberUid", "memberUid", LDAP_MOD_ADD},
               {"-memberUid", "memberUid", LDAP_MOD_DELETE}};
    struct dir_mods *m = dir_mods_new();
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        const struct attr_values *v = attr_list_get(l, map[i].key);
        if (v && v->n_values)
            dir_mods_add(m, map[i].op, map[i].attr, (const char *const *)v->values, v->n_values);
    }
    return m;
}

/* A class group the person should join that does not exist yet: created, as the central
 * reconciler does (the school's own groups come with the school). 0 if created or there. */
static int create_class_group(struct sync_ctx *s, const char *dn, struct op_result *o)
{
    char *cn, *school;
    if (!strstr(dn, ",cn=klassen,") || layout_group_parts(dn, &cn, &school) < 0)
        return -1;
    char *role = xasprintf("school_class:school:%s", school);
    struct dir_mods *m = dir_mods_new();
    const char *oc[] = {"sisopiGroup", "ucsschoolGroup"};
    dir_mods_add(m, LDAP_MOD_ADD, "objectClass", oc, 2);
    dir_mods_add1(m, LDAP_MOD_ADD, "cn", cn);
    dir_mods_add1(m, LDAP_MOD_ADD, "ucsschoolRole", role);
    dir_conn_add(s->target, dn, m, on_done, o);
    wait_op(s->target, o);
    dir_mods_destroy(m);
    free(role);
    free(cn);
    free(school);
    return o->rc == LDAP_SUCCESS || o->rc == LDAP_ALREADY_EXISTS ? 0 : -1;
}

static void submit(struct sync_ctx *s, const struct view_op *op, struct op_result *o)
{
    struct dir_mods *m = NULL;
    o->rc = LDAP_OTHER;
    o->lost = false;
    o->msg[0] = '\0';
    switch (op->kind) {
    case VIEW_OP_ADD:
        m = dir_mods_new();
        for (size_t i = 0; i < op->attrs.n; i++)
            dir_mods_add(m, LDAP_MOD_ADD, op->attrs.v[i].name,
                         (const char *const *)op->attrs.v[i].values, op->attrs.v[i].n_values);
        dir_conn_add(s->target, op->dn, m, on_done, o);
        break;
    case VIEW_OP_MODIFY:
        m = dir_mods_new();
        for (size_t i = 0; i < op->attrs.n; i++) {
            const struct attr_values *v = &op->attrs.v[i];
            bool del = v->n_values == 1 && !*v->values[0];
            dir_mods_add(m, LDAP_MOD_REPLACE, v->name, (const char *const *)v->values,
                         del ? 0 : v->n_values);
        }
        dir_conn_modify(s->target, op->dn, m, 0, NULL, on_done, o);
        break;
    case VIEW_OP_GROUP:
        m = group_mods(&op->attrs);
        dir_conn_modify(s->target, op->dn, m, DIR_CONN_PERMISSIVE, NULL, on_done, o);
        break;
    case VIEW_OP_RENAME:
        dir_conn_rename(s->target, op->dn, op->newrdn, op->newsuperior, 1, on_done, o);
        break;
    case VIEW_OP_DELETE:
        dir_conn_delete(s->target, op->dn, on_done, o);
        break;
    case VIEW_OP_KIND_COUNT:
        break;
    }
    wait_op(s->target, o);
    dir_mods_destroy(m);
}

/* Applies one operation. SYNC_OK, SYNC_RETRY or SYNC_REJECTED with out->reason. */
static enum sync_result apply_op(struct sync_ctx *s, const struct view_op *op,
                                 struct sync_outcome *out)
{
    struct op_result o;
    submit(s, op, &o);
    bool adds =
        attr_list_get(&op->attrs, "+uniqueMember") || attr_list_get(&op->attrs, "+memberUid");
    if (op->kind == VIEW_OP_GROUP && o.rc == LDAP_NO_SUCH_OBJECT) {
        if (!adds)
            o.rc = LDAP_SUCCESS; /* leaving a group that is gone */
        else if (create_class_group(s, op->dn, &o) == 0)
            submit(s, op, &o);
    }
    if (op->kind == VIEW_OP_DELETE && o.rc == LDAP_NO_SUCH_OBJECT)
        o.rc = LDAP_SUCCESS;
    s->writes[op->kind][o.rc == LDAP_SUCCESS ? 0 : 1]++;
    if (o.rc == LDAP_SUCCESS)
        return SYNC_OK;
    const char *hint = "";
    if (o.rc == LDAP_NO_SUCH_OBJECT && op->kind != VIEW_OP_DELETE)
        hint = " (does the school exist at the authority? sisopi-admin school create)";
    snprintf(out->reason, sizeof(out->reason), "%s %.200s at %s: %s (%d)%s%s%.150s",
             view_op_name(op->kind), op->dn, s->a->name, ldap_err2string(o.rc), o.rc, hint,
             *o.msg ? ": " : "", o.msg);
    return unavailable(o.rc, o.lost) ? SYNC_RETRY : SYNC_REJECTED;
}

static void print_op(FILE *f, const char *authority, const struct view_op *op)
{
    fprintf(f, "%s %s %s", authority, view_op_name(op->kind), op->dn);
    if (op->kind == VIEW_OP_RENAME)
        fprintf(f, " -> %s,%s", op->newrdn, op->newsuperior);
    for (size_t i = 0; op->kind != VIEW_OP_ADD && i < op->attrs.n; i++) {
        const struct attr_values *v = &op->attrs.v[i];
        /* Never a password hash on a terminal. */
        bool secret = strcasecmp(v->name, "userPassword") == 0;
        fprintf(f, " %s=", v->name);
        for (size_t k = 0; k < v->n_values; k++)
            fprintf(f, "%s%s", k ? "|" : "", secret ? "(hash)" : v->values[k]);
    }
    fputc('\n', f);
}

/* ---- one person ---- */

struct reads {
    struct entries central, target;
    struct person p;
    bool have_p;
    struct view_found found;
};

static void reads_free(struct reads *r)
{
    entries_free(&r->central);
    entries_free(&r->target);
    if (r->have_p)
        person_free(&r->p);
    strv_free(r->found.groups_dn, r->found.n_groups_dn);
    strv_free(r->found.groups_uid, r->found.n_groups_uid);
}

/* Reads what both directories hold of the person. 0, or -1 with why (retry). */
static int read_both(struct sync_ctx *s, const char *sid, const char *rid, struct reads *r,
                     char *why, size_t wn)
{
    char *rv = dir_escape_filter_value(rid), *f;
    if (sid)
        f = person_ldap_filter_one(sid, rid);
    else
        f = xasprintf("(ucsschoolRecordUID=%s)", rv);
    char *cf = xasprintf("(&(objectClass=ucsschoolType)%s)", f);
    int rc = search(s->central, s->cfg->ldap.base, cf, person_attrs, &r->central, why, wn);
    free(cf);
    free(f);
    const struct dir_entry *ce = NULL;
    for (size_t i = 0; rc == 0 && i < r->central.n && !ce; i++) {
        char e2[256];
        if (person_from_entry(s->cfg, r->central.v[i], &r->p, e2, sizeof(e2)) == 0) {
            ce = r->central.v[i];
            r->have_p = true;
        } else {
            person_free(&r->p);
        }
    }
    if (rc == 0 && r->have_p)
        rc = read_classes(s, &r->p, why, wn);
    if (rc == 0) {
        const char *known_sid = r->have_p ? r->p.source_uid : sid;
        char *mark = view_owner_mark(s->a->name), *mv = dir_escape_filter_value(mark);
        f = known_sid ? person_ldap_filter_one(known_sid, rid)
                      : xasprintf("(&(ucsschoolRecordUID=%s)(ucsschoolRole=%s))", rv, mv);
        char *tf = xasprintf("(&(objectClass=ucsschoolType)%s)", f);
        rc = search(s->target, s->a->base, tf, person_attrs, &r->target, why, wn);
        free(tf);
        free(f);
        free(mark);
        free(mv);
    }
    r->found.entry = rc == 0 ? pick(&r->target, s->a->name) : NULL;
    if (rc == 0 && r->found.entry) {
        const char *uid = dir_entry_value(r->found.entry, "uid");
        rc = groups_with(s->target, s->a->base, "uniqueMember", r->found.entry->dn,
                         &r->found.groups_dn, &r->found.n_groups_dn, why, wn);
        if (rc == 0 && uid)
            rc = groups_with(s->target, s->a->base, "memberUid", uid, &r->found.groups_uid,
                             &r->found.n_groups_uid, why, wn);
    }
    free(rv);
    return rc;
}

enum sync_result sync_person(struct sync_ctx *s, const char *source_uid, const char *record_uid,
                             FILE *plan, struct sync_outcome *out)
{
    memset(out, 0, sizeof(*out));
    if (ensure_up(s->central, out->reason, sizeof(out->reason)) < 0 ||
        ensure_up(s->target, out->reason, sizeof(out->reason)) < 0)
        return SYNC_RETRY;
    struct reads r = {0};
    if (read_both(s, source_uid, record_uid, &r, out->reason, sizeof(out->reason)) < 0) {
        reads_free(&r);
        return SYNC_RETRY;
    }
    s->persons++;
    struct view v;
    struct view_diff d;
    const struct dir_entry *ce = NULL;
    for (size_t i = 0; r.have_p && i < r.central.n && !ce; i++)
        if (dir_dn_equal(r.central.v[i]->dn, r.p.dn))
            ce = r.central.v[i];
    view_compute(&s->acfg, s->a, r.have_p ? &r.p : NULL, ce, r.found.entry != NULL, &v);
    view_diff(&s->acfg, s->a, &v, &r.found, &d);
    if (r.found.entry)
        snprintf(out->dn_before, sizeof(out->dn_before), "%s", r.found.entry->dn);
    if (v.kind != VIEW_ABSENT)
        snprintf(out->dn_after, sizeof(out->dn_after), "%s", v.p.dn);
    enum sync_result res = SYNC_OK;
    if (d.conflict) {
        snprintf(out->reason, sizeof(out->reason), "%s", d.reason);
        res = SYNC_REJECTED;
    }
    for (size_t i = 0; res == SYNC_OK && i < d.n_ops; i++) {
        out->n_ops++;
        if (plan)
            print_op(plan, s->a->name, &d.ops[i]);
        else
            res = apply_op(s, &d.ops[i], out);
    }
    if (res == SYNC_OK && d.n_ops == 0)
        s->unchanged++;
    if (res == SYNC_REJECTED)
        s->rejected++;
    view_diff_free(&d);
    view_free(&v);
    reads_free(&r);
    return res;
}
