/*
 * sisopi-admin import-group: the import groups sisopi-api reads at every login (who may import
 * which schools and roles), made and changed without hand-written LDIF. A group lives in the
 * OU of its first school: cn=NAME,ou=SCHOOL,BASE; members are persons' DNs, given by uid.
 */
#include "import_group.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin_ldap.h"
#include "cli.h"
#include "import_group_entry.h"
#include "json_out.h"
#include "log.h"
#include "records.h"
#include "strutil.h"

#define PROG "sisopi-admin import-group"

/* ---- the groups as the directory has them ---- */

struct strv {
    char **v;
    size_t n;
};

static void strv_add(struct strv *s, const char *x)
{
    s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = xstrdup(x);
}

/* Adds x unless an equal value (ignoring case, as the attributes' matching does) is there. */
static void strv_add_unique(struct strv *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->v[i], x) == 0)
            return;
    strv_add(s, x);
}

static void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static void strv_print(const struct strv *s, FILE *f)
{
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "%s%s", i ? "," : "", s->v[i]);
    if (!s->n)
        fputc('-', f);
}

struct igroup {
    char *dn, *name;
    struct strv schools, roles, members; /* members: DNs as stored */
};

struct igroups {
    struct igroup *v;
    size_t n;
};

static void copy_values(const struct dir_entry *e, const char *attr, struct strv *out)
{
    const struct dir_attr *a = dir_entry_attr(e, attr);
    for (size_t i = 0; a && i < a->n; i++)
        strv_add(out, a->values[i]);
}

static void on_group(const struct dir_entry *e, void *opaque)
{
    struct igroups *g = opaque;
    const char *cn = dir_entry_value(e, "cn");
    g->v = xrealloc(g->v, (g->n + 1) * sizeof(*g->v));
    struct igroup *w = &g->v[g->n++];
    memset(w, 0, sizeof(*w));
    w->dn = xstrdup(e->dn);
    w->name = xstrdup(cn ? cn : "");
    copy_values(e, "ucsschoolImportSchool", &w->schools);
    copy_values(e, "ucsschoolImportRole", &w->roles);
    copy_values(e, "member", &w->members);
}

static void groups_free(struct igroups *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->v[i].dn);
        free(g->v[i].name);
        strv_free(&g->v[i].schools);
        strv_free(&g->v[i].roles);
        strv_free(&g->v[i].members);
    }
    free(g->v);
    memset(g, 0, sizeof(*g));
}

static int cmp_groups(const void *a, const void *b)
{
    const struct igroup *x = a, *y = b;
    return strcasecmp(x->name, y->name);
}

/* The import groups below the base, all or those named name and/or granting school. 0, or -1
 * after printing the directory's error. */
static int read_groups(struct dir_conn *c, const struct config *cfg, const char *name,
                       const char *school, struct igroups *out)
{
    static const char *const attrs[] = {"cn", "member", "ucsschoolImportSchool",
                                        "ucsschoolImportRole", NULL};
    char *vn = name ? dir_escape_filter_value(name) : NULL;
    char *vs = school ? dir_escape_filter_value(school) : NULL;
    char *fn = vn ? xasprintf("(cn=%s)", vn) : xstrdup("");
    char *fs = vs ? xasprintf("(ucsschoolImportSchool=%s)", vs) : xstrdup("");
    char *filter = xasprintf("(&(objectClass=ucsschoolImportGroup)%s%s)", fn, fs);
    struct admin_op o;
    int rc =
        admin_ldap_search(c, cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, on_group, out, &o);
    free(filter);
    free(fs);
    free(fn);
    free(vs);
    free(vn);
    if (rc != LDAP_SUCCESS) {
        char e[400];
        admin_op_error(&o, e, sizeof(e));
        fprintf(stderr, PROG ": reading the import groups below %s: %s\n", cfg->ldap.base, e);
        return -1;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), cmp_groups);
    return 0;
}

/* The one group named name: EXIT_OK with g->n == 1, else an exit code (printed). */
static int find_group(struct dir_conn *c, const struct config *cfg, const char *verb,
                      const char *name, struct igroups *g)
{
    memset(g, 0, sizeof(*g));
    if (read_groups(c, cfg, name, NULL, g) < 0)
        return EXIT_FAILED;
    if (g->n == 1)
        return EXIT_OK;
    if (g->n == 0)
        fprintf(stderr,
                PROG " %s: refused: import group \"%s\" does not exist (no entry with "
                     "objectClass ucsschoolImportGroup and cn=%s below %s)\n",
                verb, name, name, cfg->ldap.base);
    else
        fprintf(stderr,
                PROG " %s: refused: \"%s\" names %zu import groups (%s, %s%s): change them "
                     "with LDIF, or give them different names\n",
                verb, name, g->n, g->v[0].dn, g->v[1].dn, g->n > 2 ? ", ..." : "");
    groups_free(g);
    return EXIT_FAILED;
}

/* ---- schools and persons ---- */

struct found {
    size_t n;
    char *dn, *second, *value; /* value: of the attribute asked for, in the first entry */
    const char *attr;
};

static void on_found(const struct dir_entry *e, void *opaque)
{
    struct found *f = opaque;
    if (f->n++ == 0) {
        f->dn = xstrdup(e->dn);
        const char *v = f->attr ? dir_entry_value(e, f->attr) : NULL;
        f->value = v ? xstrdup(v) : NULL;
    } else if (f->n == 2) {
        f->second = xstrdup(e->dn);
    }
}

static void found_free(struct found *f)
{
    free(f->dn);
    free(f->second);
    free(f->value);
}

/* The school OU named school: EXIT_OK with *ou_dn and *ou (its name as the directory spells
 * it) malloc'd, else an exit code (printed). */
static int find_school(struct dir_conn *c, const struct config *cfg, const char *school,
                       char **ou_dn, char **ou)
{
    static const char *const attrs[] = {"ou", NULL};
    char *v = dir_escape_filter_value(school);
    char *filter = xasprintf("(&(objectClass=ucsschoolOrganizationalUnit)(ou=%s))", v);
    struct found f = {.attr = "ou"};
    struct admin_op o;
    int rc =
        admin_ldap_search(c, cfg->ldap.base, LDAP_SCOPE_ONELEVEL, filter, attrs, on_found, &f, &o);
    free(filter);
    free(v);
    if (rc != LDAP_SUCCESS) {
        char e[400];
        admin_op_error(&o, e, sizeof(e));
        fprintf(stderr, PROG ": searching the school OU %s below %s: %s\n", school, cfg->ldap.base,
                e);
        found_free(&f);
        return EXIT_FAILED;
    }
    if (f.n != 1) {
        fprintf(stderr,
                PROG " create: refused: school %s does not exist (no school OU ou=%s below %s; "
                     "sisopi-admin school create %s makes it)\n",
                school, school, cfg->ldap.base, school);
        found_free(&f);
        return EXIT_FAILED;
    }
    *ou_dn = f.dn;
    *ou = f.value ? f.value : xstrdup(school);
    free(f.second);
    return EXIT_OK;
}

/* The DN of the one person (inetOrgPerson) with uid: EXIT_OK with *dn malloc'd, else an exit
 * code (printed: unknown, or ambiguous with two of the DNs). */
static int find_person(struct dir_conn *c, const struct config *cfg, const char *verb,
                       const char *uid, char **dn)
{
    static const char *const attrs[] = {"1.1", NULL};
    char *v = dir_escape_filter_value(uid);
    char *filter = xasprintf("(&(objectClass=inetOrgPerson)(uid=%s))", v);
    struct found f = {0};
    struct admin_op o;
    int rc =
        admin_ldap_search(c, cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, on_found, &f, &o);
    free(filter);
    free(v);
    int out = EXIT_FAILED;
    if (rc != LDAP_SUCCESS) {
        char e[400];
        admin_op_error(&o, e, sizeof(e));
        fprintf(stderr, PROG ": searching the person %s below %s: %s\n", uid, cfg->ldap.base, e);
    } else if (f.n == 0) {
        fprintf(stderr,
                PROG " %s: refused: uid %s is unknown (no inetOrgPerson with that uid below "
                     "%s); nothing was changed\n",
                verb, uid, cfg->ldap.base);
    } else if (f.n > 1) {
        fprintf(stderr,
                PROG " %s: refused: uid %s is ambiguous: %zu persons have it (%s, %s%s); "
                     "nothing was changed\n",
                verb, uid, f.n, f.dn, f.second, f.n > 2 ? ", ..." : "");
    } else {
        *dn = f.dn;
        f.dn = NULL;
        out = EXIT_OK;
    }
    found_free(&f);
    return out;
}

/* The uid of the person a member DN names, malloc'd; NULL when it names no person (deleted
 * since, or another kind of entry). */
static char *member_uid(struct dir_conn *c, const char *dn)
{
    static const char *const attrs[] = {"uid", NULL};
    struct found f = {.attr = "uid"};
    struct admin_op o;
    char *uid = NULL;
    if (admin_ldap_search(c, dn, LDAP_SCOPE_BASE, "(objectClass=inetOrgPerson)", attrs, on_found,
                          &f, &o) == LDAP_SUCCESS &&
        f.value) {
        uid = f.value;
        f.value = NULL;
    }
    found_free(&f);
    return uid;
}

/* ---- checks of the command line ---- */

static int name_check(const char *name)
{
    char err[256];
    if (import_group_name_check(name, err, sizeof(err)) == 0)
        return 0;
    fprintf(stderr, PROG ": %s\n", err);
    return -1;
}

/* The NAME argument and at least one more when more is true: optind at the first after NAME.
 * NULL after printing why. */
static const char *name_arg(int argc, char **argv, const char *verb, bool more)
{
    static const struct option none[] = {{NULL, 0, NULL, 0}};
    if (getopt_long(argc, argv, "", none, NULL) != -1)
        return NULL;
    if (optind >= argc || (more && optind + 1 >= argc) || (!more && optind + 1 != argc)) {
        fprintf(stderr, PROG " %s: takes NAME%s (see --help)\n", verb, more ? " UID..." : "");
        return NULL;
    }
    const char *name = argv[optind++];
    return name_check(name) == 0 ? name : NULL;
}

/* ---- create ---- */

struct create_args {
    const char *name;
    struct strv schools, roles, uids;
};

static int parse_create(const struct config *cfg, int argc, char **argv, struct create_args *a)
{
    static const struct option opts[] = {{"school", required_argument, NULL, 's'},
                                         {"role", required_argument, NULL, 'r'},
                                         {"member", required_argument, NULL, 'm'},
                                         {NULL, 0, NULL, 0}};
    int c;
    enum role role;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's' && str_is_school_name(optarg)) {
            strv_add_unique(&a->schools, optarg);
        } else if (c == 's') {
            fprintf(stderr, PROG " create: --school %s: not a school name\n", optarg);
            return EXIT_USAGE;
        } else if (c == 'r' && role_parse(optarg, &role) == 0) {
            strv_add_unique(&a->roles, optarg);
        } else if (c == 'r') {
            fprintf(stderr,
                    PROG " create: --role %s: not a role (student, teacher, staff, "
                         "teacher_and_staff)\n",
                    optarg);
            return EXIT_USAGE;
        } else if (c == 'm') {
            strv_add_unique(&a->uids, optarg);
        } else {
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !a->schools.n || !a->roles.n || !a->uids.n) {
        fprintf(stderr, PROG " create: takes NAME --school S... --role R... --member UID... "
                             "(at least one of each: a groupOfNames has a member)\n");
        return EXIT_USAGE;
    }
    a->name = argv[optind];
    if (name_check(a->name) < 0)
        return EXIT_USAGE;
    for (size_t i = 0; i < a->schools.n; i++) {
        if (strcasecmp(a->schools.v[i], cfg->import.limbo_ou) == 0) {
            fprintf(stderr,
                    PROG " create: refused: %s is the limbo OU, never grantable (its accounts "
                         "are deactivated, waiting for their purge)\n",
                    a->schools.v[i]);
            return EXIT_FAILED;
        }
    }
    return EXIT_OK;
}

static int cmd_create(const struct config *cfg, int argc, char **argv)
{
    struct create_args a = {0};
    struct dir_conn *lc = NULL;
    struct igroups g = {0};
    struct strv ou_dns = {0}, ous = {0}, member_dns = {0};
    char *dn = NULL;
    int rc = parse_create(cfg, argc, argv, &a);
    if (rc != EXIT_OK)
        goto out;
    rc = EXIT_FAILED;
    if (admin_ldap_open(cfg, &lc) < 0 || read_groups(lc, cfg, a.name, NULL, &g) < 0)
        goto out;
    if (g.n) {
        fprintf(stderr, PROG " create: refused: import group \"%s\" exists already (%s)\n", a.name,
                g.v[0].dn);
        goto out;
    }
    for (size_t i = 0; i < a.schools.n; i++) {
        char *ou_dn, *ou;
        if (find_school(lc, cfg, a.schools.v[i], &ou_dn, &ou) != EXIT_OK)
            goto out;
        strv_add(&ou_dns, ou_dn);
        strv_add(&ous, ou);
        free(ou_dn);
        free(ou);
    }
    for (size_t i = 0; i < a.uids.n; i++) {
        char *pdn;
        if (find_person(lc, cfg, "create", a.uids.v[i], &pdn) != EXIT_OK)
            goto out;
        strv_add(&member_dns, pdn);
        free(pdn);
    }
    dn = import_group_dn(a.name, ou_dns.v[0]);
    struct dir_mods *m = dir_mods_new();
    static const char *const classes[] = {"groupOfNames", "ucsschoolImportGroup"};
    dir_mods_add(m, LDAP_MOD_ADD, "objectClass", classes, 2);
    dir_mods_add1(m, LDAP_MOD_ADD, "cn", a.name);
    dir_mods_add(m, LDAP_MOD_ADD, "member", (const char *const *)member_dns.v, member_dns.n);
    dir_mods_add(m, LDAP_MOD_ADD, "ucsschoolImportSchool", (const char *const *)ous.v, ous.n);
    dir_mods_add(m, LDAP_MOD_ADD, "ucsschoolImportRole", (const char *const *)a.roles.v, a.roles.n);
    struct admin_op o;
    int lrc = admin_ldap_add(lc, dn, m, &o);
    dir_mods_destroy(m);
    if (lrc != LDAP_SUCCESS) {
        char e[400];
        admin_op_error(&o, e, sizeof(e));
        fprintf(stderr, PROG " create %s: adding %s: %s\n", a.name, dn, e);
        goto out;
    }
    log_kv(LEVEL_INFO, "import_group_create", "group", a.name, "dn", dn, NULL);
    printf("import group %s created (%s): schools ", a.name, dn);
    strv_print(&ous, stdout);
    printf("; roles ");
    strv_print(&a.roles, stdout);
    printf("; %zu members\n", member_dns.n);
    rc = EXIT_OK;
out:
    free(dn);
    strv_free(&member_dns);
    strv_free(&ous);
    strv_free(&ou_dns);
    groups_free(&g);
    dir_conn_close(lc);
    strv_free(&a.schools);
    strv_free(&a.roles);
    strv_free(&a.uids);
    return rc;
}

/* ---- add-member, remove-member ---- */

/* The member value of g that names dn, or NULL. */
static const char *member_of(const struct igroup *g, const char *dn)
{
    for (size_t i = 0; i < g->members.n; i++)
        if (dir_dn_equal(g->members.v[i], dn))
            return g->members.v[i];
    return NULL;
}

/* The stored member value of g a uid names for remove-member: the one member whose first RDN
 * is uid=UID (so that a person deleted since can be removed too), else the DN of the person
 * with that uid. NULL after printing why. */
static const char *member_by_uid(struct dir_conn *c, const struct config *cfg,
                                 const struct igroup *g, const char *uid)
{
    char *v = dir_escape_dn_value(uid);
    char *probe = xasprintf("uid=%s,dc=x", v);
    free(v);
    const char *hit = NULL;
    size_t hits = 0;
    for (size_t i = 0; i < g->members.n; i++)
        if (dir_dn_rdn_equal(g->members.v[i], probe) && hits++ == 0)
            hit = g->members.v[i];
    free(probe);
    if (hits == 1)
        return hit;
    char *dn = NULL;
    if (find_person(c, cfg, "remove-member", uid, &dn) != EXIT_OK)
        return NULL;
    hit = member_of(g, dn);
    if (!hit)
        fprintf(stderr,
                PROG " remove-member: refused: %s (%s) is not a member of %s; nothing was "
                     "changed\n",
                uid, dn, g->name);
    free(dn);
    return hit;
}

static int cmd_members(const struct config *cfg, int argc, char **argv, bool add)
{
    const char *verb = add ? "add-member" : "remove-member";
    const char *name = name_arg(argc, argv, verb, true);
    if (!name)
        return EXIT_USAGE;
    struct dir_conn *lc = NULL;
    struct igroups g = {0};
    struct strv change = {0}, uids = {0};
    size_t already = 0;
    int rc = EXIT_FAILED;
    if (admin_ldap_open(cfg, &lc) < 0)
        goto out;
    rc = find_group(lc, cfg, verb, name, &g);
    if (rc != EXIT_OK)
        goto out;
    rc = EXIT_FAILED;
    const struct igroup *grp = &g.v[0];
    for (int i = optind; i < argc; i++) {
        if (add) {
            char *dn;
            if (find_person(lc, cfg, verb, argv[i], &dn) != EXIT_OK)
                goto out;
            if (member_of(grp, dn) || member_of(&(struct igroup){.members = change}, dn)) {
                already++;
            } else {
                strv_add(&change, dn);
                strv_add(&uids, argv[i]);
            }
            free(dn);
        } else {
            const char *value = member_by_uid(lc, cfg, grp, argv[i]);
            if (!value)
                goto out;
            if (member_of(&(struct igroup){.members = change}, value))
                continue;
            strv_add(&change, value);
            strv_add(&uids, argv[i]);
        }
    }
    if (!add && change.n == grp->members.n) {
        fprintf(stderr,
                PROG " remove-member: refused: that would leave %s without members (a "
                     "groupOfNames has at least one); sisopi-admin import-group delete %s "
                     "removes the group\n",
                name, name);
        goto out;
    }
    if (change.n) {
        struct dir_mods *m = dir_mods_new();
        dir_mods_add(m, add ? LDAP_MOD_ADD : LDAP_MOD_DELETE, "member",
                     (const char *const *)change.v, change.n);
        struct admin_op o;
        int lrc = admin_ldap_modify(lc, grp->dn, m, &o);
        dir_mods_destroy(m);
        if (lrc != LDAP_SUCCESS) {
            char e[400];
            admin_op_error(&o, e, sizeof(e));
            fprintf(stderr, PROG " %s %s: modifying %s: %s\n", verb, name, grp->dn, e);
            goto out;
        }
        for (size_t i = 0; i < uids.n; i++)
            log_kv(LEVEL_INFO, add ? "import_group_member_added" : "import_group_member_removed",
                   "group", grp->name, "uid", uids.v[i], NULL);
    }
    printf("import group %s: %zu members %s", grp->name, change.n, add ? "added" : "removed");
    if (uids.n) {
        printf(" (");
        strv_print(&uids, stdout);
        printf(")");
    }
    if (already)
        printf(", %zu were members already", already);
    printf("%s\n", change.n ? "" : ": nothing changed");
    rc = EXIT_OK;
out:
    strv_free(&uids);
    strv_free(&change);
    groups_free(&g);
    dir_conn_close(lc);
    return rc;
}

/* ---- list ---- */

static void print_group_json(const struct igroup *w, char *const *uids)
{
    struct json_out j;
    json_out_init(&j, stdout);
    json_out_begin_object(&j);
    json_out_key(&j, "name");
    json_out_string(&j, w->name);
    json_out_key(&j, "dn");
    json_out_string(&j, w->dn);
    json_out_string_array(&j, "schools", w->schools.v, w->schools.n);
    json_out_string_array(&j, "roles", w->roles.v, w->roles.n);
    json_out_key(&j, "members");
    json_out_begin_array(&j);
    for (size_t i = 0; i < w->members.n; i++) {
        json_out_begin_object(&j);
        json_out_key(&j, "uid");
        if (uids[i])
            json_out_string(&j, uids[i]);
        else
            json_out_null(&j);
        json_out_key(&j, "dn");
        json_out_string(&j, w->members.v[i]);
        json_out_end_object(&j);
    }
    json_out_end_array(&j);
    json_out_end_object(&j);
    fputc('\n', stdout);
}

static void print_group_row(const struct igroup *w, char *const *uids)
{
    printf("%-24s ", w->name);
    strv_print(&w->schools, stdout);
    fputc(' ', stdout);
    strv_print(&w->roles, stdout);
    fputc(' ', stdout);
    for (size_t i = 0; i < w->members.n; i++) {
        if (uids[i])
            printf("%s%s", i ? "," : "", uids[i]);
        else
            printf("%s(no person: %s)", i ? "," : "", w->members.v[i]);
    }
    if (!w->members.n)
        fputc('-', stdout);
    fputc('\n', stdout);
}

static int cmd_list(const struct config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"school", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    const char *school = NULL;
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's')
            school = optarg;
        else if (c == 'j')
            json = true;
        else
            return EXIT_USAGE;
    }
    if (optind != argc) {
        fprintf(stderr, PROG " list takes no arguments besides --school S and --json\n");
        return EXIT_USAGE;
    }
    struct dir_conn *lc;
    if (admin_ldap_open(cfg, &lc) < 0)
        return EXIT_FAILED;
    struct igroups g = {0};
    if (read_groups(lc, cfg, NULL, school, &g) < 0) {
        dir_conn_close(lc);
        return EXIT_FAILED;
    }
    if (!json)
        printf("%-24s SCHOOLS ROLES MEMBERS\n", "NAME");
    for (size_t i = 0; i < g.n; i++) {
        const struct igroup *w = &g.v[i];
        char **uids = xcalloc(w->members.n ? w->members.n : 1, sizeof(*uids));
        for (size_t k = 0; k < w->members.n; k++)
            uids[k] = member_uid(lc, w->members.v[k]);
        if (json)
            print_group_json(w, uids);
        else
            print_group_row(w, uids);
        for (size_t k = 0; k < w->members.n; k++)
            free(uids[k]);
        free(uids);
    }
    if (!json)
        printf("%zu import groups%s%s\n", g.n, school ? " granting " : "", school ? school : "");
    groups_free(&g);
    dir_conn_close(lc);
    return EXIT_OK;
}

/* ---- delete ---- */

static int cmd_delete(const struct config *cfg, int argc, char **argv)
{
    const char *name = name_arg(argc, argv, "delete", false);
    if (!name)
        return EXIT_USAGE;
    struct dir_conn *lc;
    if (admin_ldap_open(cfg, &lc) < 0)
        return EXIT_FAILED;
    struct igroups g;
    int rc = find_group(lc, cfg, "delete", name, &g);
    if (rc == EXIT_OK) {
        struct admin_op o;
        if (admin_ldap_delete(lc, g.v[0].dn, &o) != LDAP_SUCCESS) {
            char e[400];
            admin_op_error(&o, e, sizeof(e));
            fprintf(stderr, PROG " delete %s: deleting %s: %s\n", name, g.v[0].dn, e);
            rc = EXIT_FAILED;
        } else {
            log_kv(LEVEL_INFO, "import_group_delete", "group", g.v[0].name, "dn", g.v[0].dn, NULL);
            printf("import group %s deleted (%s)\n", g.v[0].name, g.v[0].dn);
        }
        groups_free(&g);
    }
    dir_conn_close(lc);
    return rc;
}

int admin_import_group(const struct config *cfg, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, PROG ": say create, add-member, remove-member, list or delete (see "
                             "--help)\n");
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    argc--, argv++;
    optind = 0; /* 0, not 1: GNU getopt starts afresh (cli_parse_global stopped at the command) */
    if (strcmp(sub, "create") == 0)
        return cmd_create(cfg, argc, argv);
    if (strcmp(sub, "add-member") == 0)
        return cmd_members(cfg, argc, argv, true);
    if (strcmp(sub, "remove-member") == 0)
        return cmd_members(cfg, argc, argv, false);
    if (strcmp(sub, "list") == 0)
        return cmd_list(cfg, argc, argv);
    if (strcmp(sub, "delete") == 0)
        return cmd_delete(cfg, argc, argv);
    fprintf(stderr, PROG " %s: unknown (create, add-member, remove-member, list, delete)\n", sub);
    return EXIT_USAGE;
}
