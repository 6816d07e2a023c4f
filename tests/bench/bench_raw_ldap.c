/*
 * bench_raw_ldap: the directory's own limit for the reconciler benchmarks: N entries shaped
 * like sisopi's students (same object classes, about as many attributes), added with a window
 * of outstanding asynchronous operations into PARENT, as fast as slapd takes them; or N
 * modifications of those entries (a last-name change: sn, cn and displayName replaced), the
 * same way; or N moves of those entries to another parent and back (the reconciler's limbo
 * move: a modrdn with newSuperior); or 2N group modifies that add, then delete, one member each
 * (uniqueMember DN and memberUid, as the reconciler writes a group); or the same entries as
 * LDIF, for slapadd.
 *
 *   bench_raw_ldap -c CFG PARENT N [WINDOW]            prints "adds N seconds S adds_per_s R ..."
 *   bench_raw_ldap -c CFG --modify PARENT N [WINDOW]   prints "modifies N seconds S
 *                                                      modifies_per_s R ..." (run the adds first)
 *   bench_raw_ldap -c CFG --rename NEWPARENT PARENT N [WINDOW]
 *                                                      moves each entry to NEWPARENT, then back:
 *                                                      prints "renames 2N seconds S
 *                                                      renames_per_s R ..."
 *   bench_raw_ldap -c CFG --group-modify GROUPDN [--groups G] PARENT N [WINDOW]
 *                                                      adds each entry to the group, one modify
 *                                                      each, then deletes each: prints
 *                                                      "group_modifies 2N seconds S
 *                                                      group_modifies_per_s R ..."; with
 *                                                      --groups, GROUPDN is a class-group
 *                                                      container (cn=klassen,...,ou=SCHOOL):
 *                                                      G class groups bench-gNNN are made in it
 *                                                      first (untimed) and entry i goes to
 *                                                      group i % G, so each grows to N/G
 *   bench_raw_ldap --ldif PARENT N > entries.ldif      the entries the adds write, no server
 *
 * WINDOW defaults to reconciler.window of CFG, so the limit is measured as the reconciler
 * works. The exit status is 1 if any operation failed (the first five are shown).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "dir_conn.h"
#include "strutil.h"

static long failed;

static void done(const struct dir_result *r, void *opaque)
{
    (void)opaque;
    if (r->rc != LDAP_SUCCESS && failed++ < 5)
        fprintf(stderr, "bench_raw_ldap: %s: %s %s\n", r->dn, ldap_err2string(r->rc), r->message);
}

/* One student as attribute/value pairs: the adds, the LDIF and the modifies agree on it. */
struct attr {
    const char *name, *value;
};

#define N_ATTRS 16
static int student(long i, char uid[64], char rid[64], struct attr a[N_ATTRS])
{
    snprintf(uid, 64, "raw.user%ld", i);
    snprintf(rid, 64, "RAW-%07ld", i);
    const struct attr v[] = {
        {"objectClass", "inetOrgPerson"},
        {"objectClass", "shadowAccount"},
        {"objectClass", "sisopiPerson"},
        {"objectClass", "ucsschoolStudent"},
        {"uid", uid},
        {"cn", "Raw User"},
        {"sn", "User"},
        {"givenName", "Raw"},
        {"displayName", "Raw User"},
        {"ucsschoolSourceUID", "bench"},
        {"ucsschoolRecordUID", rid},
        {"ucsschoolSchool", "Bench"},
        {"ucsschoolRole", "student:school:Bench"},
        {"departmentNumber", "Bench"},
        {"sisopiBirthday", "2012-01-01"},
        {"userPassword", "{CRYPT}$6$x$y"},
    };
    memcpy(a, v, sizeof(v));
    return (int)(sizeof(v) / sizeof(v[0]));
}

static void add_one(struct dir_conn *c, const char *parent, long i)
{
    char uid[64], rid[64];
    struct attr a[N_ATTRS];
    int n = student(i, uid, rid, a);
    char *dn = xasprintf("uid=%s,%s", uid, parent);
    struct dir_mods *m = dir_mods_new();
    const char *oc[4];
    int n_oc = 0;
    for (int k = 0; k < n; k++)
        if (strcmp(a[k].name, "objectClass") == 0)
            oc[n_oc++] = a[k].value;
    dir_mods_add(m, LDAP_MOD_ADD, "objectClass", oc, (size_t)n_oc);
    for (int k = 0; k < n; k++)
        if (strcmp(a[k].name, "objectClass") != 0)
            dir_mods_add1(m, LDAP_MOD_ADD, a[k].name, a[k].value);
    dir_conn_add(c, dn, m, done, NULL);
    dir_mods_destroy(m);
    free(dn);
}

/* The reconciler's commonest change of an existing person: a new last name. */
static void modify_one(struct dir_conn *c, const char *parent, long i)
{
    char *dn = xasprintf("uid=raw.user%ld,%s", i, parent);
    struct dir_mods *m = dir_mods_new();
    dir_mods_add1(m, LDAP_MOD_REPLACE, "sn", "Changed");
    dir_mods_add1(m, LDAP_MOD_REPLACE, "cn", "Raw Changed");
    dir_mods_add1(m, LDAP_MOD_REPLACE, "displayName", "Raw Changed");
    dir_conn_modify(c, dn, m, 0, NULL, done, NULL);
    dir_mods_destroy(m);
    free(dn);
}

/* The reconciler's limbo move: the same RDN under another parent (modrdn with newSuperior). */
static void rename_one(struct dir_conn *c, const char *from, const char *to, long i)
{
    char *dn = xasprintf("uid=raw.user%ld,%s", i, from);
    char *rdn = xasprintf("uid=raw.user%ld", i);
    dir_conn_rename(c, dn, rdn, to, 1, done, NULL);
    free(rdn);
    free(dn);
}

/* One membership as the reconciler writes it (submit_group_modify in apply.c): the member's
 * DN in uniqueMember and its uid in memberUid, one modify of the group. */
static void group_one(struct dir_conn *c, const char *group, const char *parent, long i, int op)
{
    char *uid = xasprintf("raw.user%ld", i);
    char *dn = xasprintf("uid=%s,%s", uid, parent);
    struct dir_mods *m = dir_mods_new();
    dir_mods_add1(m, op, "uniqueMember", dn);
    dir_mods_add1(m, op, "memberUid", uid);
    dir_conn_modify(c, group, m, 0, NULL, done, NULL);
    dir_mods_destroy(m);
    free(dn);
    free(uid);
}

static void group_created(const struct dir_result *r, void *opaque)
{
    (void)opaque;
    if (r->rc != LDAP_SUCCESS && r->rc != LDAP_ALREADY_EXISTS && failed++ < 5)
        fprintf(stderr, "bench_raw_ldap: %s: %s %s\n", r->dn, ldap_err2string(r->rc), r->message);
}

/* G class groups shaped as the reconciler creates them (ensure_class_group in apply.c). */
static char **make_groups(struct dir_conn *c, const char *container, long g)
{
    const char *ou = strstr(container, "ou=");
    char school[128] = "";
    if (ou)
        snprintf(school, sizeof(school), "%.*s", (int)strcspn(ou + 3, ","), ou + 3);
    char *role = xasprintf("school_class:school:%s", school);
    char **dns = xcalloc((size_t)g, sizeof(char *));
    for (long k = 0; k < g; k++) {
        char cn[32];
        snprintf(cn, sizeof(cn), "bench-g%03ld", k);
        dns[k] = xasprintf("cn=%s,%s", cn, container);
        struct dir_mods *m = dir_mods_new();
        const char *oc[] = {"sisopiGroup", "ucsschoolGroup"};
        dir_mods_add(m, LDAP_MOD_ADD, "objectClass", oc, 2);
        dir_mods_add1(m, LDAP_MOD_ADD, "cn", cn);
        dir_mods_add1(m, LDAP_MOD_ADD, "ucsschoolRole", role);
        dir_conn_add(c, dns[k], m, group_created, NULL);
        dir_mods_destroy(m);
    }
    dir_conn_drain(c);
    free(role);
    return dns;
}

static int write_ldif(const char *parent, long n)
{
    for (long i = 0; i < n; i++) {
        char uid[64], rid[64];
        struct attr a[N_ATTRS];
        int k = student(i, uid, rid, a);
        printf("dn: uid=%s,%s\n", uid, parent);
        for (int j = 0; j < k; j++)
            printf("%s: %s\n", a[j].name, a[j].value);
        printf("\n");
    }
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_raw_ldap -c CFG [--modify] PARENT N [WINDOW]\n"
            "       bench_raw_ldap -c CFG --rename NEWPARENT PARENT N [WINDOW]\n"
            "       bench_raw_ldap -c CFG --group-modify GROUPDN [--groups G] PARENT N [WINDOW]\n"
            "       bench_raw_ldap --ldif PARENT N > entries.ldif\n");
}

int main(int argc, char **argv)
{
    enum { MODE_ADD, MODE_MODIFY, MODE_RENAME, MODE_GROUP, MODE_LDIF } mode = MODE_ADD;
    const char *target = NULL; /* --rename's new parent, --group-modify's group */
    long n_groups = 0;         /* --groups: target is a container of that many class groups */
    static const struct option opts[] = {{"modify", no_argument, NULL, 'm'},
                                         {"rename", required_argument, NULL, 'r'},
                                         {"group-modify", required_argument, NULL, 'g'},
                                         {"groups", required_argument, NULL, 'G'},
                                         {"ldif", no_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *cfg_path = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            cfg_path = optarg;
            break;
        case 'm':
            mode = MODE_MODIFY;
            break;
        case 'l':
            mode = MODE_LDIF;
            break;
        case 'r':
            mode = MODE_RENAME;
            target = optarg;
            break;
        case 'g':
            mode = MODE_GROUP;
            target = optarg;
            break;
        case 'G':
            n_groups = atol(optarg);
            if (n_groups < 1 || n_groups > 999) {
                fprintf(stderr, "bench_raw_ldap: --groups must be 1..999\n");
                return 64;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    int npos = argc - optind;
    if (npos < 2 || npos > 3 || (mode != MODE_LDIF && !cfg_path) || atol(argv[optind + 1]) < 0) {
        usage(stderr);
        return 64;
    }
    const char *parent = argv[optind];
    long n = atol(argv[optind + 1]);
    if (mode == MODE_LDIF)
        return write_ldif(parent, n);

    struct config cfg;
    char err[512];
    if (cli_load(&cfg, "bench", cfg_path, NULL) < 0)
        return 1;
    int window = npos > 2 ? atoi(argv[optind + 2]) : cfg.reconciler.window;
    struct dir_conn *c;
    if (dir_conn_open(&cfg, &c, err, sizeof(err)) != LDAP_SUCCESS) {
        fprintf(stderr, "bench_raw_ldap: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    dir_conn_set_window(c, window);
    char **groups = NULL;
    if (mode == MODE_GROUP && n_groups > 0) {
        groups = make_groups(c, target, n_groups);
        if (failed) {
            dir_conn_close(c);
            config_free(&cfg);
            return 1;
        }
    }
    double t0 = clock_mono_s();
    long ops = n;
    if (mode == MODE_RENAME) {
        /* There and back: the second pass starts once the first is done (one entry's two
         * moves must not overlap). */
        for (long i = 0; i < n; i++)
            rename_one(c, parent, target, i);
        dir_conn_drain(c);
        for (long i = 0; i < n; i++)
            rename_one(c, target, parent, i);
        ops = 2 * n;
    } else if (mode == MODE_GROUP) {
        for (long i = 0; i < n; i++)
            group_one(c, groups ? groups[i % n_groups] : target, parent, i, LDAP_MOD_ADD);
        dir_conn_drain(c);
        for (long i = 0; i < n; i++)
            group_one(c, groups ? groups[i % n_groups] : target, parent, i, LDAP_MOD_DELETE);
        ops = 2 * n;
    } else {
        for (long i = 0; i < n; i++) {
            if (mode == MODE_ADD)
                add_one(c, parent, i);
            else
                modify_one(c, parent, i);
        }
    }
    dir_conn_drain(c);
    double s = clock_mono_s() - t0;
    const char *what = mode == MODE_ADD      ? "adds"
                       : mode == MODE_MODIFY ? "modifies"
                       : mode == MODE_RENAME ? "renames"
                                             : "group_modifies";
    printf("%s %ld seconds %.3f %s_per_s %.0f failed %ld window %d\n", what, ops, s, what,
           (double)ops / s, failed, window);
    for (long k = 0; groups && k < n_groups; k++)
        free(groups[k]);
    free(groups);
    dir_conn_close(c);
    config_free(&cfg);
    return failed ? 1 : 0;
}
