/*
 * sisopi-admin school create|list|show|delete: the school OUs of the directory, made from the
 * one template (school_template.h) and counted from the accounts that list them.
 */
#include "school.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin_ldap.h"
#include "cli.h"
#include "dir_conn.h"
#include "dir_layout.h"
#include "json_out.h"
#include "log.h"
#include "school_template.h"
#include "strutil.h"

#define PROG "sisopi-admin"

static int add_entry(struct dir_conn *c, const struct school_entry *e, struct admin_op *o)
{
    struct dir_mods *m = dir_mods_new();
    for (size_t i = 0; i < e->n; i++)
        dir_mods_add1(m, LDAP_MOD_ADD, e->attrs[i], e->values[i]);
    int rc = admin_ldap_add(c, e->dn, m, o);
    dir_mods_destroy(m);
    return rc;
}

static int build_entries(const struct config *cfg, const char *name, const char *display,
                         struct school_entries *out)
{
    char err[256];
    struct school_params p = {.name = name, .display_name = display, .base = cfg->ldap.base};
    for (int r = 0; r < 4; r++)
        p.containers[r] = cfg->ldap.users_container[r];
    if (school_entries_build(school_ldif_template, &p, out, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return -1;
    }
    return 0;
}

/* ---- the school OU as the directory has it ---- */

struct ou_info {
    bool found;
    bool is_school; /* objectClass ucsschoolOrganizationalUnit (ou=policies is no school) */
    char *dn, *ou, *display_name;
};

static void on_ou(const struct dir_entry *e, void *opaque)
{
    struct ou_info *i = opaque;
    if (i->found)
        return;
    const char *ou = dir_entry_value(e, "ou");
    const char *dn = dir_entry_value(e, "displayName");
    const struct dir_attr *oc = dir_entry_attr(e, "objectClass");
    for (size_t k = 0; oc && k < oc->n; k++)
        i->is_school |= strcasecmp(oc->values[k], "ucsschoolOrganizationalUnit") == 0;
    i->found = true;
    i->dn = xstrdup(e->dn);
    i->ou = xstrdup(ou ? ou : "");
    i->display_name = dn ? xstrdup(dn) : NULL;
}

static void ou_info_free(struct ou_info *i)
{
    free(i->dn);
    free(i->ou);
    free(i->display_name);
}

/* The OU named name in any case (ou matching ignores case) right below the base: 0 (i->found
 * says whether there is one), or -1 after printing the directory's error. */
static int find_ou(struct dir_conn *c, const struct config *cfg, const char *name,
                   struct ou_info *i)
{
    static const char *const attrs[] = {"ou", "displayName", "objectClass", NULL};
    memset(i, 0, sizeof(*i));
    char *v = dir_escape_filter_value(name);
    char *filter = xasprintf("(&(objectClass=organizationalUnit)(ou=%s))", v);
    struct admin_op o;
    int rc = admin_ldap_search(c, cfg->ldap.base, LDAP_SCOPE_ONELEVEL, filter, attrs, on_ou, i, &o);
    free(filter);
    free(v);
    if (rc != LDAP_SUCCESS) {
        char e[400];
        admin_op_error(&o, e, sizeof(e));
        fprintf(stderr, PROG ": searching the school OU %s below %s: %s\n", name, cfg->ldap.base,
                e);
        ou_info_free(i);
        return -1;
    }
    return 0;
}

/* ---- accounts by role and school ---- */

enum { N_ROLES = 4 };

/* The role of an account from its object classes (docs/reference.md §1), -1 for none or an
 * exam user. */
static int account_role(const struct dir_entry *e)
{
    const struct dir_attr *oc = dir_entry_attr(e, "objectClass");
    bool st = false, t = false, s = false, ex = false;
    for (size_t i = 0; oc && i < oc->n; i++) {
        st |= strcasecmp(oc->values[i], "ucsschoolStudent") == 0;
        t |= strcasecmp(oc->values[i], "ucsschoolTeacher") == 0;
        s |= strcasecmp(oc->values[i], "ucsschoolStaff") == 0;
        ex |= strcasecmp(oc->values[i], "ucsschoolExam") == 0;
    }
    if (ex)
        return -1;
    if (st)
        return ROLE_STUDENT;
    if (t && s)
        return ROLE_TEACHER_AND_STAFF;
    return t ? ROLE_TEACHER : s ? ROLE_STAFF : -1;
}

struct school_row {
    char *name, *display_name, *dn;
    bool limbo;
    long accounts[N_ROLES];
};

struct school_rows {
    struct school_row *v;
    size_t n;
    const char *limbo;
};

static void on_school_ou(const struct dir_entry *e, void *opaque)
{
    struct school_rows *r = opaque;
    const char *ou = dir_entry_value(e, "ou");
    if (!ou)
        return;
    const char *dn = dir_entry_value(e, "displayName");
    r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
    struct school_row *w = &r->v[r->n++];
    memset(w, 0, sizeof(*w));
    w->name = xstrdup(ou);
    w->display_name = xstrdup(dn ? dn : "");
    w->dn = xstrdup(e->dn);
    w->limbo = strcasecmp(ou, r->limbo) == 0;
}

static void on_account(const struct dir_entry *e, void *opaque)
{
    struct school_rows *r = opaque;
    int role = account_role(e);
    const struct dir_attr *sch = dir_entry_attr(e, "ucsschoolSchool");
    for (size_t k = 0; role >= 0 && sch && k < sch->n; k++) {
        for (size_t i = 0; i < r->n; i++) {
            if (strcasecmp(r->v[i].name, sch->values[k]) == 0)
                r->v[i].accounts[role]++;
        }
    }
}

static int cmp_rows(const void *a, const void *b)
{
    const struct school_row *x = a, *y = b;
    if (x->limbo != y->limbo)
        return x->limbo ? 1 : -1; /* the limbo OU last */
    return strcasecmp(x->name, y->name);
}

static void rows_free(struct school_rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].name);
        free(r->v[i].display_name);
        free(r->v[i].dn);
    }
    free(r->v);
}

#define ACCOUNT_FILTER                                                                             \
    "(|(objectClass=ucsschoolStudent)(objectClass=ucsschoolTeacher)(objectClass=ucsschoolStaff))"

/* Every school OU below the base (the limbo OU included) with its accounts per role. */
static int read_rows(struct dir_conn *c, const struct config *cfg, const char *only,
                     struct school_rows *r)
{
    static const char *const ou_attrs[] = {"ou", "displayName", NULL};
    static const char *const acc_attrs[] = {"objectClass", "ucsschoolSchool", NULL};
    struct admin_op o;
    char e[400];
    r->limbo = cfg->import.limbo_ou;
    char *v = only ? dir_escape_filter_value(only) : NULL;
    char *f = only ? xasprintf("(&(objectClass=ucsschoolOrganizationalUnit)(ou=%s))", v)
                   : xstrdup("(objectClass=ucsschoolOrganizationalUnit)");
    int rc =
        admin_ldap_search(c, cfg->ldap.base, LDAP_SCOPE_ONELEVEL, f, ou_attrs, on_school_ou, r, &o);
    free(f);
    if (rc == LDAP_SUCCESS) {
        f = only ? xasprintf("(&%s(ucsschoolSchool=%s))", ACCOUNT_FILTER, v)
                 : xstrdup("(&" ACCOUNT_FILTER "(ucsschoolSchool=*))");
        rc = admin_ldap_search(c, cfg->ldap.base, LDAP_SCOPE_SUBTREE, f, acc_attrs, on_account, r,
                               &o);
        free(f);
    }
    free(v);
    if (rc != LDAP_SUCCESS) {
        admin_op_error(&o, e, sizeof(e));
        fprintf(stderr, PROG ": reading the schools below %s: %s\n", cfg->ldap.base, e);
        return -1;
    }
    if (r->n > 1)
        qsort(r->v, r->n, sizeof(*r->v), cmp_rows);
    return 0;
}

static long row_total(const struct school_row *w)
{
    long t = 0;
    for (int k = 0; k < N_ROLES; k++)
        t += w->accounts[k];
    return t;
}

static void print_row_json(const struct school_row *w)
{
    struct json_out j;
    json_out_init(&j, stdout);
    json_out_begin_object(&j);
    json_out_key(&j, "name");
    json_out_string(&j, w->name);
    json_out_key(&j, "display_name");
    json_out_string(&j, w->display_name);
    json_out_key(&j, "dn");
    json_out_string(&j, w->dn);
    json_out_key(&j, "limbo");
    json_out_bool(&j, w->limbo);
    json_out_key(&j, "accounts");
    json_out_begin_object(&j);
    for (int k = 0; k < N_ROLES; k++) {
        json_out_key(&j, role_name((enum role)k));
        json_out_int(&j, w->accounts[k]);
    }
    json_out_key(&j, "total");
    json_out_int(&j, row_total(w));
    json_out_end_object(&j);
    json_out_end_object(&j);
    fputc('\n', stdout);
}

/* ---- create ---- */

/* Adds every missing entry of one school, parents first; existing ones are left alone. */
static int create_one(struct dir_conn *c, const struct config *cfg, const char *name,
                      const char *display)
{
    struct ou_info ou;
    if (find_ou(c, cfg, name, &ou) < 0)
        return EXIT_FAILED;
    if (ou.found && strcmp(ou.ou, name) != 0) {
        fprintf(stderr,
                PROG ": school create: \"%s\" differs only in case from the existing \"%s\" "
                     "(%s): school names must differ in more than case\n",
                name, ou.ou, ou.dn);
        ou_info_free(&ou);
        return EXIT_USAGE;
    }
    if (ou.found && !ou.is_school) {
        fprintf(stderr,
                PROG ": school create: %s exists and is not a school OU (no objectClass "
                     "ucsschoolOrganizationalUnit): choose another name\n",
                ou.dn);
        ou_info_free(&ou);
        return EXIT_USAGE;
    }
    struct school_entries es;
    if (build_entries(cfg, name, display, &es) < 0) {
        ou_info_free(&ou);
        return EXIT_FAILED;
    }
    int rc = EXIT_OK;
    size_t added = 0, there = 0;
    for (size_t i = 0; i < es.n; i++) {
        struct admin_op o;
        int r = add_entry(c, &es.v[i], &o);
        if (r == LDAP_SUCCESS) {
            added++;
        } else if (r == LDAP_ALREADY_EXISTS) {
            there++;
        } else {
            char e[400];
            admin_op_error(&o, e, sizeof(e));
            fprintf(stderr,
                    PROG ": school create %s: adding %s: %s\n" PROG ": %zu of %zu entries "
                         "are there now; the same command adds the rest once that is fixed\n",
                    name, es.v[i].dn, e, added + there, es.n);
            rc = EXIT_FAILED;
            break;
        }
    }
    if (rc == EXIT_OK) {
        char sa[24], st[24];
        snprintf(sa, sizeof(sa), "%zu", added);
        snprintf(st, sizeof(st), "%zu", there);
        log_kv(LEVEL_INFO, "school_create", "school", name, "added", sa, "existing", st, NULL);
        if (added == 0)
            printf("school %s exists already with all its %zu entries: nothing changed (%s)\n",
                   name, es.n, es.v[0].dn);
        else if (there == 0)
            printf("school %s created: %zu entries below %s\n", name, es.n, es.v[0].dn);
        else
            printf("school %s completed: %zu missing entries added, %zu were there (%s)\n", name,
                   added, there, es.v[0].dn);
        if (ou.found && display && (!ou.display_name || strcmp(ou.display_name, display) != 0))
            printf("school %s: its display name stays \"%s\" (create does not change an "
                   "existing OU)\n",
                   name, ou.display_name ? ou.display_name : "");
    }
    school_entries_free(&es);
    ou_info_free(&ou);
    return rc;
}

static int cmd_create(const struct config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"display-name", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    const char *display = NULL;
    char err[256];
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'd')
            return EXIT_USAGE;
        display = optarg;
    }
    int n = argc - optind;
    if (n < 1) {
        fprintf(stderr, PROG ": school create NAME... [--display-name TEXT]: no NAME given\n");
        return EXIT_USAGE;
    }
    if (display && n != 1) {
        fprintf(stderr, PROG ": school create: --display-name goes with exactly one NAME\n");
        return EXIT_USAGE;
    }
    if (display && school_display_name_check(display, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG ": school create: %s\n", err);
        return EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        if (school_name_check(argv[i], cfg->import.limbo_ou, err, sizeof(err)) < 0) {
            fprintf(stderr, PROG ": school create: %s\n", err);
            return EXIT_USAGE;
        }
        for (int k = optind; k < i; k++) {
            if (strcasecmp(argv[k], argv[i]) == 0) {
                fprintf(stderr, PROG ": school create: \"%s\" and \"%s\" differ only in case\n",
                        argv[k], argv[i]);
                return EXIT_USAGE;
            }
        }
    }
    struct dir_conn *lc;
    if (admin_ldap_open(cfg, &lc) < 0)
        return EXIT_FAILED;
    int rc = EXIT_OK;
    for (int i = optind; i < argc && rc == EXIT_OK; i++)
        rc = create_one(lc, cfg, argv[i], display);
    dir_conn_close(lc);
    return rc;
}

/* ---- list ---- */

static int cmd_list(const struct config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'j')
            return EXIT_USAGE;
        json = true;
    }
    if (optind != argc) {
        fprintf(stderr, PROG ": school list takes no arguments besides --json\n");
        return EXIT_USAGE;
    }
    struct dir_conn *lc;
    if (admin_ldap_open(cfg, &lc) < 0)
        return EXIT_FAILED;
    struct school_rows r = {0};
    int rc = read_rows(lc, cfg, NULL, &r);
    dir_conn_close(lc);
    if (rc < 0) {
        rows_free(&r);
        return EXIT_FAILED;
    }
    if (!json)
        printf("%-20s %-28s %8s %8s %8s %14s %8s\n", "SCHOOL", "DISPLAY NAME", "STUDENTS",
               "TEACHERS", "STAFF", "TEACHERS+STAFF", "TOTAL");
    size_t schools = 0;
    long total = 0;
    for (size_t i = 0; i < r.n; i++) {
        const struct school_row *w = &r.v[i];
        if (json) {
            print_row_json(w);
        } else {
            printf("%-20s %-28s %8ld %8ld %8ld %14ld %8ld%s\n", w->name, w->display_name,
                   w->accounts[ROLE_STUDENT], w->accounts[ROLE_TEACHER], w->accounts[ROLE_STAFF],
                   w->accounts[ROLE_TEACHER_AND_STAFF], row_total(w),
                   w->limbo ? "  # the limbo OU: deactivated, waiting for their purge" : "");
        }
        schools += !w->limbo;
        total += w->limbo ? 0 : row_total(w);
    }
    if (!json)
        printf("%zu schools; accounts counted once per school that lists them "
               "(ucsschoolSchool), %ld in all\n",
               schools, total);
    rows_free(&r);
    return EXIT_OK;
}

/* ---- show and delete: what the OU holds ---- */

struct contents {
    const struct school_entries *es;
    bool *present; /* es->n: the template's entries found */
    long accounts, classes, others;
    char *first_other;
};

static void on_content(const struct dir_entry *e, void *opaque)
{
    struct contents *ct = opaque;
    for (size_t i = 0; i < ct->es->n; i++) {
        if (dir_dn_equal(e->dn, ct->es->v[i].dn)) {
            ct->present[i] = true;
            return;
        }
    }
    if (account_role(e) >= 0 || dir_entry_value(e, "uid"))
        ct->accounts++;
    else if (strcasestr(e->dn, ",cn=klassen,cn=schueler,cn=groups,ou="))
        ct->classes++;
    else if (ct->others++ == 0)
        ct->first_other = xstrdup(e->dn);
}

/* Everything below the school's OU, sorted into the template's entries, accounts, classes and
 * anything else. */
static int read_contents(struct dir_conn *c, const char *ou_dn, struct contents *ct)
{
    static const char *const attrs[] = {"objectClass", "uid", NULL};
    ct->present = xcalloc(ct->es->n ? ct->es->n : 1, sizeof(bool));
    struct admin_op o;
    if (admin_ldap_search(c, ou_dn, LDAP_SCOPE_SUBTREE, "(objectClass=*)", attrs, on_content, ct,
                          &o) != LDAP_SUCCESS) {
        char e[400];
        admin_op_error(&o, e, sizeof(e));
        fprintf(stderr, PROG ": reading %s: %s\n", ou_dn, e);
        return -1;
    }
    return 0;
}

static void contents_free(struct contents *ct)
{
    free(ct->present);
    free(ct->first_other);
}

struct elsewhere {
    const char *ou_dn;
    long n;
};

/* Accounts that list the school (ucsschoolSchool) but live in another school's OU. */
static void on_elsewhere(const struct dir_entry *e, void *opaque)
{
    struct elsewhere *w = opaque;
    size_t ld = strlen(e->dn), lo = strlen(w->ou_dn);
    if (ld > lo && e->dn[ld - lo - 1] == ',' && strcasecmp(e->dn + ld - lo, w->ou_dn) == 0)
        return; /* below the OU: counted by read_contents */
    w->n++;
}

/* The OU of a school name for show and delete: EXIT_OK with ou->found, else an exit code
 * (the error printed). */
static int school_ou(struct dir_conn *lc, const struct config *cfg, const char *what,
                     const char *name, struct ou_info *ou)
{
    if (find_ou(lc, cfg, name, ou) < 0)
        return EXIT_FAILED;
    if (!ou->found) {
        fprintf(stderr, PROG ": school %s: school %s does not exist (no ou=%s below %s)\n", what,
                name, name, cfg->ldap.base);
        ou_info_free(ou);
        return EXIT_FAILED;
    }
    if (!ou->is_school) {
        fprintf(stderr,
                PROG ": school %s: %s is not a school OU (no objectClass "
                     "ucsschoolOrganizationalUnit)\n",
                what, ou->dn);
        ou_info_free(ou);
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

/* The name argument of show and delete: one, well-formed (the limbo OU may be shown). */
static const char *one_name(int argc, char **argv, const char *what, const char *limbo)
{
    char err[256];
    optind = 0; /* 0, not 1: GNU getopt starts afresh (cli_parse_global stopped at the command) */
    if (getopt_long(argc, argv, "", (const struct option[]){{NULL, 0, NULL, 0}}, NULL) != -1)
        return NULL;
    if (optind + 1 != argc) {
        fprintf(stderr, PROG ": school %s takes exactly one NAME\n", what);
        return NULL;
    }
    if (school_name_check(argv[optind], limbo, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG ": school %s: %s\n", what, err);
        return NULL;
    }
    return argv[optind];
}

/* A new connection and the school OU a command names: EXIT_OK with *lc and *ou set, else the
 * exit code with nothing left open. */
static int open_school(const struct config *cfg, const char *verb, const char *name,
                       struct dir_conn **lc, struct ou_info *ou)
{
    if (admin_ldap_open(cfg, lc) < 0)
        return EXIT_FAILED;
    int rc = school_ou(*lc, cfg, verb, name, ou);
    if (rc != EXIT_OK) {
        dir_conn_close(*lc);
        *lc = NULL;
    }
    return rc;
}

static int cmd_show(const struct config *cfg, int argc, char **argv)
{
    const char *name = one_name(argc, argv, "show", NULL);
    if (!name)
        return EXIT_USAGE;
    struct dir_conn *lc;
    struct ou_info ou;
    int rc = open_school(cfg, "show", name, &lc, &ou);
    if (rc != EXIT_OK)
        return rc;
    struct school_entries es = {0};
    struct contents ct = {.es = &es};
    struct school_rows r = {0};
    rc = EXIT_FAILED;
    if (build_entries(cfg, ou.ou, NULL, &es) < 0 || read_contents(lc, ou.dn, &ct) < 0 ||
        read_rows(lc, cfg, ou.ou, &r) < 0)
        goto out;
    size_t present = 0;
    for (size_t i = 0; i < es.n; i++)
        present += ct.present[i];
    const long *acc = r.n ? r.v[0].accounts : (const long[N_ROLES]){0};
    printf("school %s (%s)%s\n", ou.ou, ou.dn,
           strcasecmp(ou.ou, cfg->import.limbo_ou) == 0 ? ", the limbo OU" : "");
    printf("  display name:  %s\n", ou.display_name ? ou.display_name : "(none)");
    printf("  entries:       %zu of the %zu a school has%s\n", present, es.n,
           present == es.n ? "" : " (incomplete: sisopi-admin school create adds the rest)");
    printf("  accounts:      %ld students, %ld teachers, %ld staff, %ld teachers and staff "
           "(listing the school in ucsschoolSchool); %ld of them in its OU\n",
           acc[ROLE_STUDENT], acc[ROLE_TEACHER], acc[ROLE_STAFF], acc[ROLE_TEACHER_AND_STAFF],
           ct.accounts);
    printf("  classes:       %ld\n", ct.classes);
    printf("  other entries: %ld%s%s\n", ct.others, ct.first_other ? ", e.g. " : "",
           ct.first_other ? ct.first_other : "");
    for (size_t i = 0; i < es.n; i++)
        printf("  %-8s %s\n", ct.present[i] ? "present" : "MISSING", es.v[i].dn);
    rc = EXIT_OK;
out:
    rows_free(&r);
    contents_free(&ct);
    school_entries_free(&es);
    ou_info_free(&ou);
    dir_conn_close(lc);
    return rc;
}

/* ---- delete ---- */

static int cmd_delete(const struct config *cfg, int argc, char **argv)
{
    const char *name = one_name(argc, argv, "delete", cfg->import.limbo_ou);
    if (!name)
        return EXIT_USAGE;
    struct dir_conn *lc;
    struct ou_info ou;
    int rc = open_school(cfg, "delete", name, &lc, &ou);
    if (rc != EXIT_OK)
        return rc;
    struct school_entries es = {0};
    struct contents ct = {.es = &es};
    struct elsewhere w = {.ou_dn = ou.dn};
    rc = EXIT_FAILED;
    if (build_entries(cfg, ou.ou, NULL, &es) < 0 || read_contents(lc, ou.dn, &ct) < 0)
        goto out;
    static const char *const none[] = {"1.1", NULL};
    char *v = dir_escape_filter_value(ou.ou);
    char *f = xasprintf("(&(|(objectClass=person)(objectClass=posixAccount)" ACCOUNT_FILTER
                        ")(ucsschoolSchool=%s))",
                        v);
    struct admin_op o;
    int src =
        admin_ldap_search(lc, cfg->ldap.base, LDAP_SCOPE_SUBTREE, f, none, on_elsewhere, &w, &o);
    free(f);
    free(v);
    if (src != LDAP_SUCCESS) {
        char e[400];
        admin_op_error(&o, e, sizeof(e));
        fprintf(stderr, PROG ": school delete %s: searching its accounts: %s\n", ou.ou, e);
        goto out;
    }
    long accounts = ct.accounts + w.n;
    if (accounts || ct.classes || ct.others) {
        fprintf(stderr,
                PROG ": school delete %s: refused: the school holds %ld accounts (%ld in its OU, "
                     "%ld elsewhere listing it in ucsschoolSchool), %ld classes and %ld other "
                     "entries%s%s; nothing was deleted\n",
                ou.ou, accounts, ct.accounts, w.n, ct.classes, ct.others,
                ct.first_other ? ", e.g. " : "", ct.first_other ? ct.first_other : "");
        goto out;
    }
    /* Deepest first: the template lists parents before children. */
    size_t deleted = 0;
    for (size_t i = es.n; i-- > 0;) {
        int r = admin_ldap_delete(lc, es.v[i].dn, &o);
        if (r == LDAP_NO_SUCH_OBJECT)
            continue;
        if (r != LDAP_SUCCESS) {
            char e[400];
            admin_op_error(&o, e, sizeof(e));
            fprintf(stderr,
                    PROG ": school delete %s: deleting %s: %s; %zu entries were deleted, "
                         "the same command deletes the rest\n",
                    ou.ou, es.v[i].dn, e, deleted);
            goto out;
        }
        deleted++;
    }
    char sd[24];
    snprintf(sd, sizeof(sd), "%zu", deleted);
    log_kv(LEVEL_INFO, "school_delete", "school", ou.ou, "deleted", sd, NULL);
    printf("school %s deleted: %zu entries (%s)\n", ou.ou, deleted, ou.dn);
    rc = EXIT_OK;
out:
    contents_free(&ct);
    school_entries_free(&es);
    ou_info_free(&ou);
    dir_conn_close(lc);
    return rc;
}

int admin_school(const struct config *cfg, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, PROG ": school: say create, list, show or delete (see --help)\n");
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    argc--, argv++;
    optind = 0; /* 0, not 1: GNU getopt starts afresh (cli_parse_global stopped at the command) */
    if (strcmp(sub, "create") == 0)
        return cmd_create(cfg, argc, argv);
    if (strcmp(sub, "list") == 0)
        return cmd_list(cfg, argc, argv);
    if (strcmp(sub, "show") == 0)
        return cmd_show(cfg, argc, argv);
    if (strcmp(sub, "delete") == 0)
        return cmd_delete(cfg, argc, argv);
    fprintf(stderr, PROG ": school %s: unknown (create, list, show, delete)\n", sub);
    return EXIT_USAGE;
}
