/*
 * plan: the SiSoPi rules as state transitions, and the directory changes between two states.
 *
 * The reconciler recognises records that change nothing by a digest of the record and of the
 * configuration values read here and in dir_layout.c (services/reconciler/record_digest.c):
 * a rule that reads another record field or configuration value must be added there too.
 */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dir_escape.h"
#include "dir_layout.h"
#include "strutil.h"

/* ---- small helpers over the person struct ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static ssize_t school_index(const struct person *p, const char *school)
{
    for (size_t i = 0; i < p->n_schools; i++) {
        if (strcasecmp(p->schools[i], school) == 0)
            return (ssize_t)i;
    }
    return -1;
}

static ssize_t classes_index(const struct person *p, const char *school)
{
    for (size_t i = 0; i < p->n_classes; i++) {
        if (strcasecmp(p->classes[i].school, school) == 0)
            return (ssize_t)i;
    }
    return -1;
}

static void free_classes_entry(struct school_classes *c)
{
    free(c->school);
    for (size_t i = 0; i < c->n_classes; i++)
        free(c->classes[i]);
    free(c->classes);
}

static void drop_classes(struct person *p, const char *school)
{
    ssize_t i = classes_index(p, school);
    if (i < 0)
        return;
    free_classes_entry(&p->classes[i]);
    memmove(&p->classes[i], &p->classes[i + 1],
            (p->n_classes - (size_t)i - 1) * sizeof(*p->classes));
    p->n_classes--;
}

static int cmp_classes(const void *a, const void *b)
{
    return strcasecmp(((const struct school_classes *)a)->school,
                      ((const struct school_classes *)b)->school);
}

/* Replaces the classes of school with the given ones (none: the entry goes). */
static void set_classes(struct person *p, const char *school, char *const *classes, size_t n)
{
    drop_classes(p, school);
    if (n == 0)
        return;
    p->classes = xrealloc(p->classes, (p->n_classes + 1) * sizeof(*p->classes));
    struct school_classes *c = &p->classes[p->n_classes++];
    c->school = xstrdup(school);
    c->classes = xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        c->classes[i] = xstrdup(classes[i]);
    c->n_classes = n;
    qsort(p->classes, p->n_classes, sizeof(*p->classes), cmp_classes);
}

static void add_school(struct person *p, const char *school)
{
    if (school_index(p, school) >= 0)
        return;
    p->schools = xrealloc(p->schools, (p->n_schools + 1) * sizeof(char *));
    p->schools[p->n_schools++] = xstrdup(school);
    qsort(p->schools, p->n_schools, sizeof(char *), cmp_str);
}

static void remove_school(struct person *p, const char *school)
{
    ssize_t i = school_index(p, school);
    if (i < 0)
        return;
    free(p->schools[i]);
    memmove(&p->schools[i], &p->schools[i + 1], (p->n_schools - (size_t)i - 1) * sizeof(char *));
    p->n_schools--;
    drop_classes(p, school);
}

static void set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? xstrdup(src) : NULL;
}

/* The personal attributes a record asks for, over those the person has (kept where the
 * record says "not given"). */
static void apply_personal(struct person *p, const struct user_record *r)
{
    struct attr_list l = {0};
    attr_list_copy(&l, p->attrs, p->n_attrs);
    char *cn = xasprintf("%s %s", r->firstname, r->lastname);
    attr_list_set1(&l, "givenName", r->firstname);
    attr_list_set1(&l, "sn", r->lastname);
    attr_list_set1(&l, "cn", cn);
    attr_list_set1(&l, "displayName", cn);
    free(cn);
    if (r->email) /* "" removes the address; NULL keeps it */
        attr_list_set1(&l, "mail", *r->email ? r->email : NULL);
    if (r->birthday)
        attr_list_set1(&l, "sisopiBirthday", r->birthday);
    for (size_t i = 0; i < r->n_extra; i++)
        attr_list_set(&l, r->extra[i].name, (const char *const *)r->extra[i].values,
                      r->extra[i].n_values);
    for (size_t i = 0; i < p->n_attrs; i++) {
        free(p->attrs[i].name);
        for (size_t j = 0; j < p->attrs[i].n_values; j++)
            free(p->attrs[i].values[j]);
        free(p->attrs[i].values);
    }
    free(p->attrs);
    p->attrs = l.v; /* the list's array becomes the person's (same struct, sorted by name) */
    p->n_attrs = l.n;
}

/* ---- derived views ---- */

void plan_entry_attrs(const struct config *cfg, const struct person *p, struct attr_list *out)
{
    memset(out, 0, sizeof(*out));
    attr_list_copy(out, p->attrs, p->n_attrs);
    const char *limbo = cfg->import.limbo_ou;
    if (p->limbo) {
        char *roles[2];
        size_t nr = layout_role_values(p->role, limbo, roles);
        attr_list_set1(out, "ucsschoolSchool", limbo);
        attr_list_set(out, "ucsschoolRole", (const char *const *)roles, nr);
        attr_list_set1(out, "departmentNumber", limbo);
        attr_list_set1(out, "shadowExpire", "1");
        attr_list_set1(out, "pwdAccountLockedTime", LAYOUT_LOCKED_TIME);
        for (size_t i = 0; i < nr; i++)
            free(roles[i]);
    } else {
        attr_list_set(out, "ucsschoolSchool", (const char *const *)p->schools, p->n_schools);
        for (size_t s = 0; s < p->n_schools; s++) {
            char *roles[2];
            size_t nr = layout_role_values(p->role, p->schools[s], roles);
            for (size_t i = 0; i < nr; i++) {
                attr_list_add_value(out, "ucsschoolRole", roles[i]);
                free(roles[i]);
            }
        }
        attr_list_set1(out, "departmentNumber", p->primary_school);
    }
    if (p->purge_at_ms) {
        char ts[16];
        layout_generalized_time(p->purge_at_ms, ts);
        attr_list_set1(out, "ucsschoolPurgeTimestamp", ts);
    }
}

static void add_group_change(struct person_plan *p, const char *group, bool add, const char *dn,
                             const char *uid)
{
    p->groups = xrealloc(p->groups, (p->n_groups + 1) * sizeof(*p->groups));
    p->groups[p->n_groups++] =
        (struct group_change){xstrdup(group), add, xstrdup(dn), uid ? xstrdup(uid) : NULL};
}

static bool in_sorted(char **v, size_t n, const char *s)
{
    return n > 0 && bsearch(&s, v, n, sizeof(char *), cmp_str) != NULL;
}

/* Memberships to change between before (may be NULL) and the plan's after state. A moved
 * person's DN changes in every group it stays in (the directory has no refint overlay). */
static void diff_groups(const struct config *cfg, const struct person *before,
                        struct person_plan *p)
{
    char **old = NULL, **new = NULL;
    size_t n_old = before ? layout_person_groups(cfg, before, &old) : 0;
    size_t n_new = layout_person_groups(cfg, &p->after, &new);
    const char *uid = p->after.username;
    bool dn_changed = before && strcasecmp(before->dn, p->after.dn) != 0;
    for (size_t i = 0; i < n_old; i++) {
        if (!in_sorted(new, n_new, old[i]))
            add_group_change(p, old[i], false, before->dn, before->username);
        else if (dn_changed)
            add_group_change(p, old[i], false, before->dn, NULL);
    }
    for (size_t i = 0; i < n_new; i++) {
        bool had = in_sorted(old, n_old, new[i]);
        if (!had)
            add_group_change(p, new[i], true, p->after.dn, uid);
        else if (dn_changed)
            add_group_change(p, new[i], true, p->after.dn, NULL);
    }
    for (size_t i = 0; i < n_old; i++)
        free(old[i]);
    for (size_t i = 0; i < n_new; i++)
        free(new[i]);
    free(old);
    free(new);
}

/* Forgets the derived parts (a creation finished again under the next username). */
static void forget_derived(struct person_plan *p)
{
    attr_list_free(&p->before_entry);
    attr_list_free(&p->after_entry);
    free(p->mods);
    p->mods = NULL;
    p->n_mods = 0;
    for (size_t i = 0; i < p->n_groups; i++) {
        free(p->groups[i].group_dn);
        free(p->groups[i].member_dn);
        free(p->groups[i].member_uid);
    }
    free(p->groups);
    p->groups = NULL;
    p->n_groups = 0;
}

/* Fills the derived parts of a plan whose after state is complete. */
static void finish(const struct config *cfg, const struct person *before, struct person_plan *p)
{
    forget_derived(p);
    free(p->after.dn);
    p->after.dn = layout_user_dn(cfg, p->after.username, p->after.primary_school, p->after.role);
    p->move = before && strcasecmp(before->dn, p->after.dn) != 0;
    /* The entry and the groups derive from the person alone: a person the record leaves as it
     * was (most of a nightly import) has nothing to diff. */
    if (p->action == PLAN_MODIFY && !p->move && person_equal(before, &p->after)) {
        p->action = PLAN_NONE;
        return;
    }
    if (before)
        plan_entry_attrs(cfg, before, &p->before_entry);
    plan_entry_attrs(cfg, &p->after, &p->after_entry);
    p->n_mods = attr_list_diff(p->before_entry.v, p->before_entry.n, p->after_entry.v,
                               p->after_entry.n, &p->mods);
    diff_groups(cfg, before, p);
    if (p->action == PLAN_MODIFY && !p->move && p->n_mods == 0 && p->n_groups == 0)
        p->action = PLAN_NONE;
}

static enum plan_action reject(struct person_plan *p)
{
    p->action = PLAN_REJECT;
    p->event = EVENT_REJECTED;
    return p->action;
}

/* ---- the shortcut for records that change nothing ---- */

static bool values_are(const struct attr_list *l, const char *name, const char *const *v, size_t n)
{
    const struct attr_values *a = attr_list_get(l, name);
    if (!a)
        return n == 0;
    if (a->n_values != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a->values[i], v[i]) != 0)
            return false;
    }
    return true;
}

static bool value_is(const struct attr_list *l, const char *name, const char *v)
{
    return values_are(l, name, &v, v ? 1 : 0);
}

/* name holds exactly "<firstname> <lastname>". */
static bool full_name_is(const struct attr_list *l, const char *name, const struct user_record *r)
{
    const struct attr_values *a = attr_list_get(l, name);
    size_t nf = strlen(r->firstname);
    return a && a->n_values == 1 && strncmp(a->values[0], r->firstname, nf) == 0 &&
           a->values[0][nf] == ' ' && strcmp(a->values[0] + nf + 1, r->lastname) == 0;
}

/* Whether the record leaves the person exactly as it is (most of a nightly import), decided
 * by comparing, without building the after state and its entry and groups. It answers the
 * question plan_user_record's long way answers with PLAN_NONE, for the same inputs; where it
 * is not sure it says false, and the long way decides. */
static bool record_changes_nothing(const struct config *cfg, const struct person *p,
                                   const struct user_record *r)
{
    if (p->limbo || p->role != r->role || strcasecmp(p->source_uid, r->source_uid) != 0 ||
        school_index(p, r->school) < 0)
        return false;
    if (r->classes_given && r->role != ROLE_STAFF) {
        ssize_t ci = classes_index(p, r->school);
        size_t have = ci < 0 ? 0 : p->classes[ci].n_classes;
        if (have != r->n_classes)
            return false;
        for (size_t i = 0; i < have; i++) {
            if (strcmp(p->classes[ci].classes[i], r->classes[i]) != 0)
                return false;
        }
    }
    const struct attr_list l = {.v = p->attrs, .n = p->n_attrs, .cap = p->n_attrs};
    if (!value_is(&l, "givenName", r->firstname) || !value_is(&l, "sn", r->lastname) ||
        !full_name_is(&l, "cn", r) || !full_name_is(&l, "displayName", r) ||
        (r->email && !value_is(&l, "mail", *r->email ? r->email : NULL)) ||
        (r->birthday && !value_is(&l, "sisopiBirthday", r->birthday)))
        return false;
    for (size_t i = 0; i < r->n_extra; i++) {
        if (!values_are(&l, r->extra[i].name, (const char *const *)r->extra[i].values,
                        r->extra[i].n_values))
            return false;
    }
    /* The DN as the configuration makes it now: a changed users container moves everyone. */
    char *dn = layout_user_dn(cfg, p->username, p->primary_school, p->role);
    bool same = strcasecmp(dn, p->dn) == 0;
    free(dn);
    return same;
}

/* ---- the rules ---- */

enum plan_action plan_user_record(const struct config *cfg, const struct person *before,
                                  const struct user_record *r, struct person_plan *out)
{
    memset(out, 0, sizeof(*out));
    if (before && before->role != r->role) {
        snprintf(out->reason, sizeof(out->reason),
                 "the person exists as %s and is listed as %s; roles never change",
                 role_name(before->role), role_name(r->role));
        return reject(out);
    }
    if (before && strcasecmp(before->source_uid, r->source_uid) != 0) {
        snprintf(out->reason, sizeof(out->reason),
                 "the record_uid belongs to source %.100s, not %.100s", before->source_uid,
                 r->source_uid);
        return reject(out);
    }
    if (before && record_changes_nothing(cfg, before, r)) {
        out->action = PLAN_NONE;
        out->event = EVENT_MODIFIED;
        return out->action;
    }
    struct person *a = &out->after;
    if (!before) {
        a->record_uid = xstrdup(r->record_uid);
        a->source_uid = xstrdup(r->source_uid);
        a->role = r->role;
        a->primary_school = xstrdup(r->school);
        add_school(a, r->school);
        out->action = PLAN_CREATE;
        out->event = EVENT_CREATED;
    } else {
        person_copy(a, before);
        out->action = PLAN_MODIFY;
        if (before->limbo) {
            /* Back from limbo: the job school only, active again, no purge date. */
            for (size_t i = 0; i < a->n_schools; i++)
                free(a->schools[i]);
            a->n_schools = 0;
            while (a->n_classes)
                drop_classes(a, a->classes[0].school);
            add_school(a, r->school);
            set_str(&a->primary_school, r->school);
            a->limbo = false;
            a->purge_at_ms = 0;
            out->event = EVENT_REACTIVATED;
        } else if (school_index(before, r->school) < 0) {
            add_school(a, r->school);
            out->event = EVENT_SCHOOL_ADDED;
        } else {
            out->event = EVENT_MODIFIED;
        }
    }
    /* A staff member has no classes; without a class column the classes stay as they are. */
    if (r->classes_given && r->role != ROLE_STAFF)
        set_classes(a, r->school, r->classes, r->n_classes);
    apply_personal(a, r);
    if (out->action == PLAN_MODIFY)
        finish(cfg, before, out);
    return out->action;
}

void plan_finish_create(const struct config *cfg, struct person_plan *p, const char *uid)
{
    set_str(&p->after.username, uid);
    finish(cfg, NULL, p);
}

enum plan_action plan_remove_school(const struct config *cfg, const struct person *before,
                                    const char *school, int64_t produced_at_ms,
                                    struct person_plan *out)
{
    memset(out, 0, sizeof(*out));
    if (before->limbo || school_index(before, school) < 0)
        return PLAN_NONE;
    struct person *a = &out->after;
    person_copy(a, before);
    out->action = PLAN_MODIFY;
    remove_school(a, school);
    if (a->n_schools > 0) {
        /* The primary school goes: the sorted-first remaining one takes its place. */
        if (strcasecmp(a->primary_school, school) == 0)
            set_str(&a->primary_school, a->schools[0]);
        out->event = EVENT_SCHOOL_REMOVED;
    } else {
        set_str(&a->primary_school, cfg->import.limbo_ou);
        a->limbo = true;
        if (!a->purge_at_ms)
            a->purge_at_ms = plan_purge_date(cfg, produced_at_ms);
        out->event = EVENT_MOVED_TO_LIMBO;
    }
    finish(cfg, before, out);
    return out->action;
}

int64_t plan_purge_date(const struct config *cfg, int64_t produced_at_ms)
{
    /* Rounded up to a whole second: the directory keeps seconds (GeneralizedTime), and a
     * date read back from it must equal the one in the state and the events, never earlier. */
    int64_t ms = produced_at_ms + cfg->import.deletion_grace_seconds * 1000;
    return (ms + 999) / 1000 * 1000;
}

void plan_create_attrs(const struct person_plan *p, const char *password_hash,
                       struct attr_list *out)
{
    memset(out, 0, sizeof(*out));
    const char *const *oc = layout_user_object_classes(p->after.role);
    size_t n_oc = 0;
    while (oc[n_oc])
        n_oc++;
    attr_list_set(out, "objectClass", oc, n_oc);
    attr_list_set1(out, "uid", p->after.username);
    attr_list_set1(out, "ucsschoolSourceUID", p->after.source_uid);
    attr_list_set1(out, "ucsschoolRecordUID", p->after.record_uid);
    if (password_hash)
        attr_list_set1(out, "userPassword", password_hash);
    for (size_t i = 0; i < p->after_entry.n; i++)
        attr_list_set(out, p->after_entry.v[i].name,
                      (const char *const *)p->after_entry.v[i].values,
                      p->after_entry.v[i].n_values);
}

void plan_keep(const struct config *cfg, const struct person *before, struct person_plan *out)
{
    memset(out, 0, sizeof(*out));
    out->action = PLAN_MODIFY;
    out->event = EVENT_MODIFIED;
    person_copy(&out->after, before);
    free(out->after.dn);
    out->after.dn =
        layout_user_dn(cfg, out->after.username, out->after.primary_school, out->after.role);
    out->move = strcasecmp(before->dn, out->after.dn) != 0;
    plan_entry_attrs(cfg, before, &out->before_entry);
    plan_entry_attrs(cfg, &out->after, &out->after_entry);
    out->n_mods = attr_list_diff(out->before_entry.v, out->before_entry.n, out->after_entry.v,
                                 out->after_entry.n, &out->mods);
    diff_groups(cfg, before, out);
}

void plan_rebase(const struct config *cfg, struct person_plan *p, const char *dn,
                 const char *username, const struct attr_list *managed)
{
    if (p->action == PLAN_CREATE) {
        /* Created before the crash: the account keeps the name it was given then, and the
         * address a scheme gave it (a new counter would make another one). */
        plan_finish_create(cfg, p, username);
        const struct attr_values *mail = attr_list_get(managed, "mail");
        if (mail && mail->n_values && !attr_list_get(&p->after_entry, "mail") &&
            cfg->import.scheme_email) {
            struct attr_list l = {
                .v = p->after.attrs, .n = p->after.n_attrs, .cap = p->after.n_attrs};
            attr_list_set1(&l, "mail", mail->values[0]);
            p->after.attrs = l.v;
            p->after.n_attrs = l.n;
            attr_list_set1(&p->after_entry, "mail", mail->values[0]);
        }
        p->action = PLAN_MODIFY; /* the event stays Created */
    }
    attr_list_free(&p->before_entry);
    attr_list_copy(&p->before_entry, managed->v, managed->n);
    free(p->mods);
    p->mods = NULL;
    p->n_mods = attr_list_diff(p->before_entry.v, p->before_entry.n, p->after_entry.v,
                               p->after_entry.n, &p->mods);
    p->move = !dir_dn_equal(dn, p->after.dn);
}

void person_plan_free(struct person_plan *p)
{
    person_free(&p->after);
    forget_derived(p);
    memset(p, 0, sizeof(*p));
}
