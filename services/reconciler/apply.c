/*
 * apply: each job is a small state machine advanced by the results of its operations; the
 * callbacks only record a result and queue the job, the loop in apply_wave() submits the next
 * operation, so the window bounds what is in flight.
 */
#include "apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dir_layout.h"
#include "failpoint.h"
#include "log.h"
#include "password.h"
#include "strutil.h"
#include "uid_set.h"
#include "username.h"

#define MAX_NAME_TRIES 50 /* uids taken by someone else before a creation gives up */

enum stage {
    ST_START = 0,
    ST_EMAIL_COUNTER, /* taking the e-mail counter */
    ST_EMAIL_CREATE,  /* creating the e-mail counter entry */
    ST_USER_COUNTER,  /* taking the username counter */
    ST_USER_CREATE,   /* creating the username counter entry */
    ST_ADD,
    ST_RENAME,
    ST_MODIFY,
    ST_FIND_GROUPS,  /* a purge: searching the groups that hold the account */
    ST_LEAVE_GROUPS, /* a purge: removing it from them */
    ST_DELETE,
    ST_DONE,
};

struct names {
    struct username_base user, email;
    bool have_user, have_email;
    char email_value[USERNAME_OUT_MAX];
};

struct applier {
    const struct config *cfg;
    struct dir_conn *c;
    struct uid_set *known_groups;
    struct uid_set *known_counters; /* "<store>/<key>" of counter entries seen to exist */
    struct apply_job **ready;
    size_t n_ready, cap_ready;
    struct apply_stats stats;
};

struct applier *applier_new(const struct config *cfg, struct dir_conn *c)
{
    struct applier *a = xcalloc(1, sizeof(*a));
    a->cfg = cfg;
    a->c = c;
    a->known_groups = uid_set_new();
    a->known_counters = uid_set_new();
    return a;
}

void applier_free(struct applier *a)
{
    if (!a)
        return;
    uid_set_free(a->known_groups);
    uid_set_free(a->known_counters);
    free(a->ready);
    free(a);
}

void applier_forget_groups(struct applier *a)
{
    uid_set_free(a->known_groups);
    a->known_groups = uid_set_new();
}

struct apply_stats applier_stats(const struct applier *a)
{
    return a->stats;
}

static void push_ready(struct applier *a, struct apply_job *j)
{
    if (a->n_ready == a->cap_ready) {
        a->cap_ready = a->cap_ready ? 2 * a->cap_ready : 64;
        a->ready = xrealloc(a->ready, a->cap_ready * sizeof(*a->ready));
    }
    a->ready[a->n_ready++] = j;
}

static void on_result(const struct dir_result *r, void *opaque)
{
    struct apply_job *j = opaque;
    j->last_rc = r->rc;
    j->counter = r->counter;
    if (r->conn_lost)
        j->conn_lost = true;
    snprintf(j->last_msg, sizeof(j->last_msg), "%s", r->message ? r->message : "");
    push_ready(j->a, j);
}

/* Ends a job with an error: what failed, and the server's word on it. */
static void job_fail(struct apply_job *j, int rc, const char *what)
{
    j->rc = rc;
    j->stage = ST_DONE;
    if (rc && j->last_msg[0])
        snprintf(j->error, sizeof(j->error), "%.120s: %.60s (%.120s)", what, ldap_err2string(rc),
                 j->last_msg);
    else if (rc)
        snprintf(j->error, sizeof(j->error), "%.200s: %.100s", what, ldap_err2string(rc));
    else
        snprintf(j->error, sizeof(j->error), "%.300s", what);
}

/* The values a naming scheme may use: the record's fields by their mapping names. */
static const char *scheme_value(const char *name, void *opaque)
{
    const struct user_record *r = opaque;
    if (strcmp(name, "firstname") == 0)
        return r->firstname;
    if (strcmp(name, "lastname") == 0)
        return r->lastname;
    if (strcmp(name, "record_uid") == 0)
        return r->record_uid;
    if (strcmp(name, "source_uid") == 0)
        return r->source_uid;
    if (strcmp(name, "school") == 0)
        return r->school;
    if (strcmp(name, "birthday") == 0)
        return r->birthday;
    if (strcmp(name, "email") == 0)
        return r->email;
    if (strcmp(name, "role") == 0)
        return role_name(r->role);
    for (size_t i = 0; i < r->n_extra; i++) {
        if (strcasecmp(r->extra[i].name, name) == 0 && r->extra[i].n_values)
            return r->extra[i].values[0];
    }
    return NULL;
}

static const char *counter_store(bool email)
{
    return email ? "unique-email" : "unique-usernames";
}

/* Counter entries are never deleted by sisopi, so one seen once exists from then on (one
 * deleted by hand makes the next take fail with "no such object", which creates it again). */
static void counter_key(bool email, const char *key, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", counter_store(email), key);
}

static bool counter_known(const struct applier *a, bool email, const char *key)
{
    char k[USERNAME_OUT_MAX + 32];
    counter_key(email, key, k, sizeof(k));
    return uid_set_has(a->known_counters, k);
}

static void counter_remember(struct applier *a, bool email, const char *key)
{
    char k[USERNAME_OUT_MAX + 32];
    counter_key(email, key, k, sizeof(k));
    uid_set_add(a->known_counters, k, 1);
}

static void take_counter(struct apply_job *j, const char *store, const char *key, int stage)
{
    free(j->counter_dn);
    j->counter_dn = layout_counter_dn(j->a->cfg, store, key);
    j->stage = stage;
    j->a->stats.counters++;
    dir_conn_counter_take(j->a->c, j->counter_dn, "ucsschoolUsernameNextNumber", on_result, j);
}

/* A counter entry that does not exist yet: create it holding 2 ("the first number is used"). */
static void create_counter(struct apply_job *j, const char *key, int stage)
{
    struct dir_mods *m = dir_mods_new();
    dir_mods_add1(m, LDAP_MOD_ADD, "objectClass", "ucsschoolUsername");
    dir_mods_add1(m, LDAP_MOD_ADD, "cn", key);
    dir_mods_add1(m, LDAP_MOD_ADD, "ucsschoolUsernameNextNumber", "2");
    j->stage = stage;
    dir_conn_add(j->a->c, j->counter_dn, m, on_result, j);
    dir_mods_destroy(m);
}

/* The number for a name with a counter. A counter not known to exist is created first: in an
 * initial load nearly every key is new, and creating it straight away is one write where
 * taking it first was a failed modify and then the write. "Already exists" falls back to
 * taking it, as when two jobs race for a new key. */
static void use_counter(struct apply_job *j, bool email, const char *key)
{
    if (counter_known(j->a, email, key)) {
        take_counter(j, counter_store(email), key, email ? ST_EMAIL_COUNTER : ST_USER_COUNTER);
        return;
    }
    free(j->counter_dn);
    j->counter_dn = layout_counter_dn(j->a->cfg, counter_store(email), key);
    create_counter(j, key, email ? ST_EMAIL_CREATE : ST_USER_CREATE);
}

static void mods_from_list(struct dir_mods *m, int op, const struct attr_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        dir_mods_add(m, op, l->v[i].name, (const char *const *)l->v[i].values, l->v[i].n_values);
}

/* The hash a new account gets when its record brings none (import.initial_password). */
static char *initial_password(const struct config *cfg, char *err, size_t n)
{
    if (!cfg->import.initial_password_generated)
        return password_hash_unknown(err, n);
    char pw[256];
    char *hash = NULL;
    if (password_generate(cfg->import.password_length, pw, sizeof(pw), err, n) == 0)
        hash = password_hash_rounds(pw, PASSWORD_GENERATED_ROUNDS, err, n);
    explicit_bzero(pw, sizeof(pw));
    return hash;
}

static void submit_add(struct apply_job *j, const char *uid)
{
    struct applier *a = j->a;
    struct names *nm = j->names;
    char err[256];
    plan_finish_create(a->cfg, &j->plan, uid);
    if (nm->email_value[0] && !attr_list_get(&j->plan.after_entry, "mail")) {
        /* A generated address: part of the person from now on. */
        struct attr_values *pa = j->plan.after.attrs;
        struct attr_list l = {.v = pa, .n = j->plan.after.n_attrs, .cap = j->plan.after.n_attrs};
        attr_list_set1(&l, "mail", nm->email_value);
        j->plan.after.attrs = l.v;
        j->plan.after.n_attrs = l.n;
        attr_list_set1(&j->plan.after_entry, "mail", nm->email_value);
    }
    char *hash = NULL;
    if (!j->record->password_hash && !(hash = initial_password(a->cfg, err, sizeof(err)))) {
        job_fail(j, 0, "no initial password");
        return;
    }
    struct attr_list attrs;
    plan_create_attrs(&j->plan, hash ? hash : j->record->password_hash, &attrs);
    free(hash);
    struct dir_mods *m = dir_mods_new();
    mods_from_list(m, LDAP_MOD_ADD, &attrs);
    attr_list_free(&attrs);
    j->stage = ST_ADD;
    a->stats.adds++;
    dir_conn_add(a->c, j->plan.after.dn, m, on_result, j);
    dir_mods_destroy(m);
}

static void submit_modify(struct apply_job *j)
{
    struct dir_mods *m = dir_mods_new();
    for (size_t i = 0; i < j->plan.n_mods; i++) {
        const struct attr_change *c = &j->plan.mods[i];
        if (c->n_values == 0)
            dir_mods_add(m, LDAP_MOD_DELETE, c->name, NULL, 0);
        else
            dir_mods_add(m, LDAP_MOD_REPLACE, c->name, c->values, c->n_values);
    }
    j->stage = ST_MODIFY;
    j->a->stats.modifies++;
    dir_conn_modify(j->a->c, j->plan.after.dn, m, DIR_CONN_PERMISSIVE, NULL, on_result, j);
    dir_mods_destroy(m);
}

/* The DN the entry has now: where a move starts and what a purge deletes. */
static const char *entry_dn(const struct apply_job *j)
{
    return j->entry_dn ? j->entry_dn : j->before->dn;
}

static void submit_rename(struct apply_job *j)
{
    const struct person *after = &j->plan.after;
    char *uid = dir_escape_dn_value(after->username);
    char *rdn = xasprintf("uid=%s", uid);
    char *parent = layout_users_container_dn(j->a->cfg, after->primary_school, after->role);
    j->stage = ST_RENAME;
    j->a->stats.renames++;
    dir_conn_rename(j->a->c, entry_dn(j), rdn, parent, 1, on_result, j);
    free(parent);
    free(rdn);
    free(uid);
}

/* The next step of a modification after a move: the attributes, or done (a move alone, e.g.
 * a changed users container, is a change applied like any other). */
static void after_rename(struct apply_job *j)
{
    if (j->plan.n_mods) {
        submit_modify(j);
    } else {
        j->applied = true;
        j->stage = ST_DONE;
    }
}

/* The username: given by the record, or from the scheme, with a counter when it has one. */
static void start_username(struct apply_job *j)
{
    const struct user_record *r = j->record;
    const struct import_config *im = &j->a->cfg->import;
    struct names *nm = j->names;
    char err[256], uid[USERNAME_OUT_MAX];
    if (r->username && *r->username) {
        submit_add(j, r->username);
        return;
    }
    const char *scheme = im->scheme_username[r->role] ? im->scheme_username[r->role]
                                                      : im->scheme_username[ROLE_COUNT];
    if (username_derive(scheme, scheme_value, (void *)r, im->username_max_length[r->role], NULL,
                        &nm->user, err, sizeof(err)) < 0) {
        job_fail(j, 0, err);
        return;
    }
    nm->have_user = true;
    if (nm->user.key) {
        use_counter(j, false, nm->user.key);
        return;
    }
    if (username_compose(&nm->user, 0, uid, sizeof(uid), err, sizeof(err)) < 0) {
        job_fail(j, 0, err);
        return;
    }
    submit_add(j, uid);
}

/* A new account: first the e-mail address when the scheme makes one, then the username. */
static void start_create(struct apply_job *j)
{
    const struct user_record *r = j->record;
    const struct import_config *im = &j->a->cfg->import;
    struct names *nm = j->names = xcalloc(1, sizeof(struct names));
    char err[256];
    if (!r->email && im->scheme_email && im->maildomain) {
        if (username_email_derive(im->scheme_email, scheme_value, (void *)r, im->maildomain,
                                  &nm->email, err, sizeof(err)) < 0) {
            job_fail(j, 0, err);
            return;
        }
        nm->have_email = true;
        if (nm->email.key) {
            use_counter(j, true, nm->email.key);
            return;
        }
        if (username_compose(&nm->email, 0, nm->email_value, sizeof(nm->email_value), err,
                             sizeof(err)) < 0) {
            job_fail(j, 0, err);
            return;
        }
    }
    start_username(j);
}

/* A counter was taken (n) or created (n = 0): compose the name and go on. */
static void counter_done(struct apply_job *j, bool email, int64_t n)
{
    struct names *nm = j->names;
    char err[256], name[USERNAME_OUT_MAX];
    struct username_base *b = email ? &nm->email : &nm->user;
    if (username_compose(b, (uint64_t)n, name, sizeof(name), err, sizeof(err)) < 0) {
        job_fail(j, 0, err);
        return;
    }
    if (email) {
        snprintf(nm->email_value, sizeof(nm->email_value), "%s", name);
        start_username(j);
    } else {
        submit_add(j, name);
    }
}

static void advance_counter(struct apply_job *j, bool email, bool creating)
{
    struct names *nm = j->names;
    const char *key = email ? nm->email.key : nm->user.key;
    int take = email ? ST_EMAIL_COUNTER : ST_USER_COUNTER;
    int create = email ? ST_EMAIL_CREATE : ST_USER_CREATE;
    if (j->last_rc == LDAP_SUCCESS || (creating && j->last_rc == LDAP_ALREADY_EXISTS))
        counter_remember(j->a, email, key);
    if (j->last_rc == LDAP_SUCCESS)
        counter_done(j, email, creating ? 0 : j->counter);
    else if (!creating && j->last_rc == LDAP_NO_SUCH_OBJECT)
        create_counter(j, key, create);
    else if (creating && j->last_rc == LDAP_ALREADY_EXISTS)
        take_counter(j, counter_store(email), key, take); /* known, or lost a race */
    else
        job_fail(j, j->last_rc, "the username counter");
}

static void advance_add(struct apply_job *j)
{
    struct names *nm = j->names;
    if (j->last_rc == LDAP_SUCCESS) {
        j->applied = true;
        j->stage = ST_DONE;
    } else if ((j->last_rc == LDAP_CONSTRAINT_VIOLATION || j->last_rc == LDAP_ALREADY_EXISTS) &&
               nm && nm->have_user && nm->user.key && ++j->tries < MAX_NAME_TRIES) {
        /* The directory (unique overlay) says the uid is taken: take the next number. */
        take_counter(j, "unique-usernames", nm->user.key, ST_USER_COUNTER);
    } else if (j->last_rc == LDAP_NO_SUCH_OBJECT) {
        char what[160];
        snprintf(what, sizeof(what), "school %.64s is missing in the directory",
                 j->plan.after.primary_school);
        job_fail(j, j->last_rc, what);
    } else {
        job_fail(j, j->last_rc, "cannot create the account");
    }
}

/* ---- purges: leave every group, then go ---- */

struct held_by {
    char *group;
    struct dir_mods *leave; /* the values naming the account */
};

struct purge_groups {
    struct held_by *v;
    size_t n, pending;
    int rc; /* the first failure while leaving */
};

/* Which of a group's uniqueMember values are the account: its DN, and a DN it had before a
 * move (same first RDN: uids are unique), which a hand-made group may still hold. */
static void on_group_entry(const struct dir_entry *e, void *opaque)
{
    struct apply_job *j = opaque;
    struct purge_groups *pg = j->purge;
    const struct person *p = j->before;
    struct dir_mods *m = dir_mods_new();
    const struct dir_attr *um = dir_entry_attr(e, "uniqueMember");
    for (size_t i = 0; um && i < um->n; i++) { /* the current DN has the same first RDN too */
        if (dir_dn_rdn_equal(um->values[i], p->dn))
            dir_mods_add1(m, LDAP_MOD_DELETE, "uniqueMember", um->values[i]);
    }
    if (p->username && *p->username)
        dir_mods_add1(m, LDAP_MOD_DELETE, "memberUid", p->username);
    pg->v = xrealloc(pg->v, (pg->n + 1) * sizeof(*pg->v));
    pg->v[pg->n++] = (struct held_by){.group = xstrdup(e->dn), .leave = m};
}

static void purge_groups_free(struct apply_job *j)
{
    struct purge_groups *pg = j->purge;
    for (size_t i = 0; pg && i < pg->n; i++) {
        free(pg->v[i].group);
        dir_mods_destroy(pg->v[i].leave);
    }
    if (pg)
        free(pg->v);
    free(pg);
    j->purge = NULL;
}

static void submit_delete(struct apply_job *j)
{
    j->stage = ST_DELETE;
    j->a->stats.deletes++;
    dir_conn_delete(j->a->c, entry_dn(j), on_result, j);
}

/* Adds to filter f the assertions of the groups that name a person: by uid (NULL or "": not
 * asked), or by any of the DNs it has had (the one before a change, the entry's now, the one
 * after; NULLs and repeats skipped). */
static void add_holders(char **f, const char *uid, const char *const *dns, size_t n)
{
    if (uid && *uid) {
        char *u = dir_escape_filter_value(uid);
        xappendf(f, "(memberUid=%s)", u);
        free(u);
    }
    for (size_t i = 0; i < n; i++) {
        bool seen = !dns[i];
        for (size_t k = 0; k < i && !seen; k++)
            seen = dns[k] && dir_dn_equal(dns[k], dns[i]);
        if (seen)
            continue;
        char *d = dir_escape_filter_value(dns[i]);
        xappendf(f, "(uniqueMember=%s)", d);
        free(d);
    }
}

/* Any group, managed or made by hand, may hold the account (by DN or by uid): without the
 * refint overlay nothing else would take it out, and a stale member must not outlive it. */
static void start_delete(struct apply_job *j)
{
    const struct person *p = j->before;
    const char *dns[] = {entry_dn(j), p->dn};
    char *filter = xstrdup("(|");
    add_holders(&filter, p->username, dns, 2);
    xappendf(&filter, ")");
    static const char *const attrs[] = {"uniqueMember", NULL};
    j->purge = xcalloc(1, sizeof(struct purge_groups));
    j->stage = ST_FIND_GROUPS;
    dir_conn_search(j->a->c, j->a->cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs,
                    on_group_entry, on_result, j);
    free(filter);
}

static void leave_groups(struct apply_job *j)
{
    struct purge_groups *pg = j->purge;
    if (j->last_rc != LDAP_SUCCESS) {
        job_fail(j, j->last_rc, "cannot find the account's groups");
        return;
    }
    if (pg->n == 0) {
        submit_delete(j);
        return;
    }
    j->stage = ST_LEAVE_GROUPS;
    pg->pending = pg->n;
    for (size_t i = 0; i < pg->n; i++) {
        j->a->stats.group_modifies++;
        dir_conn_modify(j->a->c, pg->v[i].group, pg->v[i].leave, DIR_CONN_PERMISSIVE, NULL,
                        on_result, j);
    }
}

static void group_left(struct apply_job *j)
{
    struct purge_groups *pg = j->purge;
    if (j->last_rc != LDAP_SUCCESS && j->last_rc != LDAP_NO_SUCH_OBJECT && !pg->rc)
        pg->rc = j->last_rc; /* remember the first failure; wait for the others */
    if (--pg->pending > 0)
        return;
    if (pg->rc)
        job_fail(j, pg->rc, "cannot take the account out of a group");
    else
        submit_delete(j);
}

static void advance(struct apply_job *j)
{
    if (j->conn_lost) {
        job_fail(j, j->last_rc, "connection lost");
        return;
    }
    switch (j->stage) {
    case ST_EMAIL_COUNTER:
    case ST_EMAIL_CREATE:
        advance_counter(j, true, j->stage == ST_EMAIL_CREATE);
        break;
    case ST_USER_COUNTER:
    case ST_USER_CREATE:
        advance_counter(j, false, j->stage == ST_USER_CREATE);
        break;
    case ST_ADD:
        advance_add(j);
        break;
    case ST_RENAME:
        if (j->last_rc == LDAP_SUCCESS)
            after_rename(j);
        else
            job_fail(j, j->last_rc, "cannot move the account");
        break;
    case ST_MODIFY:
        if (j->last_rc == LDAP_SUCCESS) {
            j->applied = true;
            j->stage = ST_DONE;
        } else {
            job_fail(j, j->last_rc, "cannot modify the account");
        }
        break;
    case ST_FIND_GROUPS:
        leave_groups(j);
        break;
    case ST_LEAVE_GROUPS:
        group_left(j);
        break;
    case ST_DELETE:
        /* Gone already (a redelivered purge) is what was wanted. */
        if (j->last_rc == LDAP_SUCCESS || j->last_rc == LDAP_NO_SUCH_OBJECT) {
            j->applied = true;
            j->stage = ST_DONE;
        } else {
            job_fail(j, j->last_rc, "cannot delete the account");
        }
        break;
    default:
        break;
    }
}

static void start(struct apply_job *j)
{
    j->stage = ST_START;
    bool plan = j->kind == APPLY_PLAN;
    if (j->kind == APPLY_DELETE) {
        start_delete(j);
    } else if (plan && j->plan.action == PLAN_CREATE) {
        start_create(j);
    } else if (plan && j->plan.move) {
        submit_rename(j);
    } else if (plan && j->plan.n_mods) {
        submit_modify(j);
    } else {
        /* only group changes, or APPLY_NOTHING: done already (see enum apply_kind) */
        j->applied = true;
        j->stage = ST_DONE;
    }
}

/* ---- the schools a wave's records name ---- */

struct school_check {
    const char *school; /* borrowed from a job's record */
    int rc;
    bool lost;
    size_t entries;
};

static void on_school_entry(const struct dir_entry *e, void *opaque)
{
    (void)e;
    (void)opaque;
}

static void on_school_done(const struct dir_result *r, void *opaque)
{
    struct school_check *s = opaque;
    s->rc = r->rc;
    s->lost = r->conn_lost;
    s->entries = r->entries;
}

/*
 * A record for a school the directory does not have is refused before anything is written:
 * the add of a new account would fail, but a person listed by it already would get the school
 * in ucsschoolSchool and ucsschoolRole with none of its groups, and a new one a username
 * counter. One base search per school of the wave (not cached, so that a school deleted
 * meanwhile is seen); the job then ends as a Rejected event naming the school.
 */
static void check_schools(struct applier *a, struct apply_job *jobs, size_t n)
{
    static const char *const attrs[] = {"1.1", NULL};
    struct school_check *chk = xcalloc(n ? n : 1, sizeof(*chk));
    size_t n_chk = 0;
    for (size_t i = 0; i < n; i++) {
        const struct user_record *r = jobs[i].record;
        if (jobs[i].kind != APPLY_PLAN || !r || !r->school)
            continue;
        size_t k = 0;
        while (k < n_chk && strcasecmp(chk[k].school, r->school) != 0)
            k++;
        if (k < n_chk)
            continue;
        chk[n_chk].school = r->school;
        char *dn = layout_school_dn(a->cfg, r->school);
        dir_conn_search(a->c, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, on_school_entry,
                        on_school_done, &chk[n_chk]);
        free(dn);
        n_chk++;
    }
    if (n_chk)
        dir_conn_drain(a->c);
    for (size_t i = 0; i < n; i++) {
        struct apply_job *j = &jobs[i];
        const struct user_record *r = j->record;
        if (j->kind != APPLY_PLAN || !r || !r->school)
            continue;
        size_t k = 0;
        while (k < n_chk && strcasecmp(chk[k].school, r->school) != 0)
            k++;
        const struct school_check *s = &chk[k];
        char what[200];
        if (s->rc == LDAP_SUCCESS && s->entries > 0)
            continue;
        j->failed_early = true;
        j->last_msg[0] = '\0';
        if (s->lost) {
            j->conn_lost = true;
            job_fail(j, s->rc, "connection lost");
        } else if (s->rc == LDAP_SUCCESS || s->rc == LDAP_NO_SUCH_OBJECT) {
            snprintf(what, sizeof(what),
                     "school %.64s does not exist in the directory (sisopi-admin school create "
                     "%.64s)",
                     r->school, r->school);
            job_fail(j, 0, what);
        } else {
            snprintf(what, sizeof(what), "cannot check that school %.64s exists", r->school);
            job_fail(j, s->rc, what);
        }
    }
    free(chk);
}

/* Runs the entry operations of every job to their end. */
static void run_entries(struct applier *a, struct apply_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        jobs[i].a = a;
        if (jobs[i].failed_early)
            continue;
        start(&jobs[i]);
        while (a->n_ready) { /* results that came in while submitting */
            struct apply_job *j = a->ready[--a->n_ready];
            advance(j);
        }
    }
    while (dir_conn_outstanding(a->c) > 0 || a->n_ready) {
        if (!a->n_ready)
            dir_conn_poll(a->c, 1000);
        while (a->n_ready) {
            struct apply_job *j = a->ready[--a->n_ready];
            advance(j);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct names *nm = jobs[i].names;
        if (nm) {
            if (nm->have_user)
                username_base_free(&nm->user);
            if (nm->have_email)
                username_base_free(&nm->email);
            free(nm);
            jobs[i].names = NULL;
        }
        free(jobs[i].counter_dn);
        jobs[i].counter_dn = NULL;
        purge_groups_free(&jobs[i]);
    }
}

/* ---- groups: one modify per group for the whole wave ---- */

struct group_op {
    struct applier *a;
    const char *dn;
    int rc;
    bool lost;
    char msg[200];
};

static void on_group_result(const struct dir_result *r, void *opaque)
{
    struct group_op *g = opaque;
    g->rc = r->rc;
    g->lost = r->conn_lost;
    snprintf(g->msg, sizeof(g->msg), "%s", r->message ? r->message : "");
}

static int cmp_change(const void *x, const void *y)
{
    const struct group_change *a = *(const struct group_change *const *)x;
    const struct group_change *b = *(const struct group_change *const *)y;
    return strcasecmp(a->group_dn, b->group_dn);
}

/* Class groups are created on first use; the school groups come with the school. */
static void ensure_class_group(struct applier *a, const char *dn, struct group_op *g)
{
    char *cn, *school;
    g->a = a;
    g->dn = dn;
    g->rc = LDAP_SUCCESS;
    if (!strstr(dn, ",cn=klassen,") || layout_group_parts(dn, &cn, &school) < 0) {
        g->rc = -1; /* not a class group: nothing to create */
        return;
    }
    char *role = xasprintf("school_class:school:%s", school);
    struct dir_mods *m = dir_mods_new();
    const char *oc[] = {"sisopiGroup", "ucsschoolGroup"};
    dir_mods_add(m, LDAP_MOD_ADD, "objectClass", oc, 2);
    dir_mods_add1(m, LDAP_MOD_ADD, "cn", cn);
    dir_mods_add1(m, LDAP_MOD_ADD, "ucsschoolRole", role);
    a->stats.group_creates++;
    dir_conn_add(a->c, dn, m, on_group_result, g);
    dir_mods_destroy(m);
    free(role);
    free(cn);
    free(school);
}

static void submit_group_modify(struct applier *a, struct group_change **c, size_t n,
                                struct group_op *g)
{
    const char **add_dn = xcalloc(n, sizeof(char *)), **add_uid = xcalloc(n, sizeof(char *));
    const char **del_dn = xcalloc(n, sizeof(char *)), **del_uid = xcalloc(n, sizeof(char *));
    size_t na = 0, nau = 0, nd = 0, ndu = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i]->add) {
            add_dn[na++] = c[i]->member_dn;
            if (c[i]->member_uid)
                add_uid[nau++] = c[i]->member_uid;
        } else {
            del_dn[nd++] = c[i]->member_dn;
            if (c[i]->member_uid)
                del_uid[ndu++] = c[i]->member_uid;
        }
    }
    struct dir_mods *m = dir_mods_new();
    /* Deletions first: a moved member's old DN goes before its new one comes. */
    if (nd)
        dir_mods_add(m, LDAP_MOD_DELETE, "uniqueMember", del_dn, nd);
    if (ndu)
        dir_mods_add(m, LDAP_MOD_DELETE, "memberUid", del_uid, ndu);
    if (na)
        dir_mods_add(m, LDAP_MOD_ADD, "uniqueMember", add_dn, na);
    if (nau)
        dir_mods_add(m, LDAP_MOD_ADD, "memberUid", add_uid, nau);
    g->a = a;
    g->dn = c[0]->group_dn;
    a->stats.group_modifies++;
    dir_conn_modify(a->c, g->dn, m, DIR_CONN_PERMISSIVE, NULL, on_group_result, g);
    dir_mods_destroy(m);
    free(add_dn);
    free(add_uid);
    free(del_dn);
    free(del_uid);
}

/* ---- memberships of persons read back from the directory ---- */

/* A person that may have been left half-changed (a crash between a wave's entries and its
 * groups, by this member or another) may be in groups its state does not say, or under a DN it
 * no longer has, so its memberships are read from the groups themselves and compared with what
 * it should be in. Read a hundred persons at a time, one search each: a group that holds many
 * of them (Domain Users of a school) comes once, not once per person. */
struct held {
    char *group;
    char **dns; /* uniqueMember values naming the person (its DN, or one before a move) */
    size_t n_dns;
};

struct resync {
    struct held *v;
    size_t n;
};

#define RESYNC_CHUNK 100

struct resync_chunk {
    struct apply_job **jobs;
    size_t n;
    struct uid_set *by_uid; /* uid -> 1 + index in jobs */
    int rc;
    bool lost;
};

/* The value of a DN's first RDN if it is uid=... ("uid=a.b,ou=..." -> "a.b"); false if not. */
static bool first_rdn_uid(const char *dn, char *out, size_t n)
{
    if (strncasecmp(dn, "uid=", 4) != 0)
        return false;
    size_t len = strcspn(dn + 4, ",+\\");
    if (dn[4 + len] == '\\') { /* escaped: let libldap parse it */
        LDAPDN parsed = NULL;
        bool ok = ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS && parsed &&
                  parsed[0] && parsed[0][0]->la_value.bv_len < n;
        if (ok) {
            memcpy(out, parsed[0][0]->la_value.bv_val, parsed[0][0]->la_value.bv_len);
            out[parsed[0][0]->la_value.bv_len] = '\0';
        }
        if (parsed)
            ldap_dnfree(parsed);
        return ok;
    }
    if (len >= n)
        return false;
    memcpy(out, dn + 4, len);
    out[len] = '\0';
    return true;
}

/* j's record of group, made on first use (the values of one group come in one callback). */
static struct held *held_in(struct apply_job *j, const char *group)
{
    struct resync *rs = j->resync;
    if (rs->n && strcmp(rs->v[rs->n - 1].group, group) == 0)
        return &rs->v[rs->n - 1];
    rs->v = xrealloc(rs->v, (rs->n + 1) * sizeof(*rs->v));
    rs->v[rs->n] = (struct held){.group = xstrdup(group)};
    return &rs->v[rs->n++];
}

static void on_held_group(const struct dir_entry *e, void *opaque)
{
    struct resync_chunk *c = opaque;
    const struct dir_attr *um = dir_entry_attr(e, "uniqueMember");
    const struct dir_attr *mu = dir_entry_attr(e, "memberUid");
    char uid[256];
    for (size_t i = 0; um && i < um->n; i++) { /* the same first RDN: uids are unique */
        int64_t k =
            first_rdn_uid(um->values[i], uid, sizeof(uid)) ? uid_set_get(c->by_uid, uid) : 0;
        if (k == 0)
            continue;
        struct held *h = held_in(c->jobs[k - 1], e->dn);
        h->dns = xrealloc(h->dns, (h->n_dns + 1) * sizeof(char *));
        h->dns[h->n_dns++] = xstrdup(um->values[i]);
    }
    for (size_t i = 0; mu && i < mu->n; i++) {
        int64_t k = uid_set_get(c->by_uid, mu->values[i]);
        if (k > 0)
            held_in(c->jobs[k - 1], e->dn);
    }
}

static void on_held_done(const struct dir_result *r, void *opaque)
{
    struct resync_chunk *c = opaque;
    if (r->rc != LDAP_SUCCESS && c->rc == LDAP_SUCCESS)
        c->rc = r->rc;
    c->lost |= r->conn_lost;
}

static void resync_free(struct apply_job *j)
{
    struct resync *rs = j->resync;
    for (size_t i = 0; rs && i < rs->n; i++) {
        free(rs->v[i].group);
        for (size_t k = 0; k < rs->v[i].n_dns; k++)
            free(rs->v[i].dns[k]);
        free(rs->v[i].dns);
    }
    if (rs)
        free(rs->v);
    free(rs);
    j->resync = NULL;
}

static void push_change(struct person_plan *p, const char *group, bool add, const char *dn,
                        const char *uid)
{
    p->groups = xrealloc(p->groups, (p->n_groups + 1) * sizeof(*p->groups));
    p->groups[p->n_groups++] =
        (struct group_change){xstrdup(group), add, xstrdup(dn), uid ? xstrdup(uid) : NULL};
}

/* plan.groups from what the directory holds: into every group the person should be in, with
 * its current DN; out of the managed ones it should not be in, and every stale DN out. */
static void resync_plan_groups(const struct config *cfg, struct apply_job *j)
{
    struct resync *rs = j->resync;
    struct person_plan *p = &j->plan;
    const struct person *after = &p->after;
    for (size_t i = 0; i < p->n_groups; i++) {
        free(p->groups[i].group_dn);
        free(p->groups[i].member_dn);
        free(p->groups[i].member_uid);
    }
    free(p->groups);
    p->groups = NULL;
    p->n_groups = 0;
    char **want = NULL;
    size_t nw = layout_person_groups(cfg, after, &want); /* none in limbo */
    for (size_t i = 0; i < rs->n; i++) {
        const struct held *h = &rs->v[i];
        bool wanted = false;
        for (size_t w = 0; w < nw && !wanted; w++)
            wanted = dir_dn_equal(want[w], h->group);
        if (!wanted && !layout_managed_group(cfg, h->group, after->role))
            continue;
        for (size_t k = 0; k < h->n_dns; k++) {
            if (!wanted || !dir_dn_equal(h->dns[k], after->dn))
                push_change(p, h->group, false, h->dns[k],
                            !wanted && k == 0 ? after->username : NULL);
        }
        if (!wanted && h->n_dns == 0) /* held by memberUid alone */
            push_change(p, h->group, false, after->dn, after->username);
    }
    for (size_t w = 0; w < nw; w++) {
        push_change(p, want[w], true, after->dn, after->username);
        free(want[w]);
    }
    free(want);
}

/* Reads the groups of the chunk's persons (one search) and replaces their plan.groups.
 * Returns -1 when the connection was lost. */
static int resync_chunk(struct applier *a, struct apply_job **jobs, size_t n)
{
    static const char *const attrs[] = {"uniqueMember", "memberUid", NULL};
    struct resync_chunk c = {.jobs = jobs, .n = n, .by_uid = uid_set_new()};
    char *filter = xstrdup("(|");
    for (size_t i = 0; i < n; i++) {
        struct apply_job *j = jobs[i];
        const struct person *p = &j->plan.after;
        const char *dns[] = {p->dn, j->entry_dn, j->before ? j->before->dn : NULL};
        add_holders(&filter, p->username, dns, 3);
        uid_set_add(c.by_uid, p->username, (int64_t)i + 1);
        j->resync = xcalloc(1, sizeof(struct resync));
    }
    xappendf(&filter, ")");
    dir_conn_search(a->c, a->cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, on_held_group,
                    on_held_done, &c);
    dir_conn_drain(a->c);
    free(filter);
    uid_set_free(c.by_uid);
    for (size_t i = 0; i < n; i++) {
        if (!c.lost && c.rc != LDAP_SUCCESS)
            log_kv(LEVEL_ERROR, "memberships_unknown", "dn", jobs[i]->plan.after.dn, "error",
                   ldap_err2string(c.rc), "msg",
                   "the groups holding a person that may be half-changed could not be read; "
                   "its planned group changes are applied as they are",
                   NULL);
        else if (!c.lost)
            resync_plan_groups(a->cfg, jobs[i]);
        resync_free(jobs[i]);
    }
    return c.lost ? -1 : 0;
}

/* Replaces plan.groups of every applied job that asks for it by what the groups make right.
 * Returns -1 when the connection was lost. */
static int resync_memberships(struct applier *a, struct apply_job *jobs, size_t n)
{
    struct apply_job **chunk = xcalloc(RESYNC_CHUNK, sizeof(*chunk));
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct apply_job *j = &jobs[i];
        if (j->resync_groups && j->applied && j->kind == APPLY_PLAN && j->plan.after.dn &&
            j->plan.after.username)
            chunk[k++] = j;
        if (k == RESYNC_CHUNK || (k > 0 && i + 1 == n)) {
            rc = resync_chunk(a, chunk, k);
            k = 0;
        }
    }
    free(chunk);
    return rc;
}

/* Returns -1 when the connection was lost. */
static int run_groups(struct applier *a, struct apply_job *jobs, size_t n)
{
    size_t total = 0, k = 0, ngroups = 0;
    for (size_t i = 0; i < n; i++)
        total += jobs[i].applied && jobs[i].kind == APPLY_PLAN ? jobs[i].plan.n_groups : 0;
    if (total == 0)
        return 0;
    struct group_change **c = xcalloc(total, sizeof(*c));
    for (size_t i = 0; i < n; i++) {
        for (size_t g = 0;
             jobs[i].applied && jobs[i].kind == APPLY_PLAN && g < jobs[i].plan.n_groups; g++)
            c[k++] = &jobs[i].plan.groups[g];
    }
    qsort(c, total, sizeof(*c), cmp_change);
    struct group_op *ops = xcalloc(total, sizeof(*ops));
    size_t *start = xcalloc(total + 1, sizeof(size_t));
    for (size_t i = 0; i < total; i++) {
        if (i == 0 || strcasecmp(c[i]->group_dn, c[i - 1]->group_dn) != 0)
            start[ngroups++] = i;
    }
    start[ngroups] = total;
    /* Create the class groups gaining members that are not known to exist yet. */
    for (size_t g = 0; g < ngroups; g++) {
        bool adds = false;
        for (size_t i = start[g]; i < start[g + 1] && !adds; i++)
            adds = c[i]->add;
        if (adds && uid_set_add(a->known_groups, c[start[g]]->group_dn, 1) == 0)
            ensure_class_group(a, c[start[g]]->group_dn, &ops[g]);
    }
    dir_conn_drain(a->c);
    int rc = 0;
    for (size_t g = 0; g < ngroups; g++) {
        if (ops[g].lost)
            rc = -1;
        else if (ops[g].rc > 0 && ops[g].rc != LDAP_ALREADY_EXISTS)
            log_kv(LEVEL_ERROR, "group_create_failed", "group", ops[g].dn, "error",
                   ldap_err2string(ops[g].rc), "msg", ops[g].msg, NULL);
        memset(&ops[g], 0, sizeof(ops[g]));
    }
    for (size_t g = 0; rc == 0 && g < ngroups; g++)
        submit_group_modify(a, &c[start[g]], start[g + 1] - start[g], &ops[g]);
    dir_conn_drain(a->c);
    for (size_t g = 0; rc == 0 && g < ngroups; g++) {
        if (ops[g].lost) {
            rc = -1;
        } else if (ops[g].rc != LDAP_SUCCESS) {
            a->stats.group_errors++;
            log_kv(LEVEL_ERROR, "group_change_failed", "group", ops[g].dn, "error",
                   ldap_err2string(ops[g].rc), "msg", ops[g].msg, NULL);
        }
    }
    if (rc < 0)
        applier_forget_groups(a);
    free(start);
    free(ops);
    free(c);
    return rc;
}

int apply_wave(struct applier *a, struct apply_job *jobs, size_t n)
{
    a->n_ready = 0;
    for (size_t i = 0; i < n; i++)
        jobs[i].failed_early = false;
    check_schools(a, jobs, n);
    run_entries(a, jobs, n);
    failpoint("wave_entries");
    bool lost = false;
    for (size_t i = 0; i < n; i++)
        lost |= jobs[i].conn_lost;
    if (lost) {
        applier_forget_groups(a);
        return -1;
    }
    if (resync_memberships(a, jobs, n) < 0 || run_groups(a, jobs, n) < 0) {
        /* Entries are in, memberships unknown: redo the whole wave's groups after a
         * reconnect (permissive modifies make repeating them harmless). */
        for (size_t i = 0; i < n; i++) {
            if (jobs[i].applied)
                jobs[i].conn_lost = true;
        }
        return -1;
    }
    return 0;
}
