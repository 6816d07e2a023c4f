/*
 * bench_raw_ldap: the directory's own limit for the reconciler benchmark: N entries shaped
 * like sisopi's students (same object classes, about as many attributes), added with a window
 * of outstanding asynchronous operations into PARENT, as fast as slapd takes them.
 *
 *   bench_raw_ldap -c CFG PARENT N [WINDOW]     prints "adds N seconds S adds_per_s R"
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "ldap_conn.h"
#include "strutil.h"

static long failed;

static void done(const struct ldap_result_info *r, void *opaque)
{
    (void)opaque;
    if (r->rc != LDAP_SUCCESS && failed++ < 5)
        fprintf(stderr, "bench_raw_ldap: %s: %s %s\n", r->dn, ldap_err2string(r->rc), r->message);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_raw_ldap -c CFG PARENT N [WINDOW]\n");
        return 64;
    }
    struct config cfg;
    char err[512];
    if (cli_load(&cfg, "bench", argv[2], NULL) < 0)
        return 1;
    long n = atol(argv[4]);
    int window = argc > 5 ? atoi(argv[5]) : cfg.reconciler.window;
    struct ldap_conn *c;
    if (ldap_conn_open(&cfg, &c, err, sizeof(err)) != LDAP_SUCCESS) {
        fprintf(stderr, "bench_raw_ldap: %s\n", err);
        return 1;
    }
    ldap_conn_set_window(c, window);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *oc[] = {"inetOrgPerson", "shadowAccount", "sisopiPerson", "ucsschoolStudent"};
    for (long i = 0; i < n; i++) {
        char uid[64], rid[64];
        snprintf(uid, sizeof(uid), "raw.user%ld", i);
        snprintf(rid, sizeof(rid), "RAW-%07ld", i);
        char *dn = xasprintf("uid=%s,%s", uid, argv[3]);
        struct ldap_mods *m = ldap_mods_new();
        ldap_mods_add(m, LDAP_MOD_ADD, "objectClass", oc, 4);
        ldap_mods_add1(m, LDAP_MOD_ADD, "uid", uid);
        ldap_mods_add1(m, LDAP_MOD_ADD, "cn", "Raw User");
        ldap_mods_add1(m, LDAP_MOD_ADD, "sn", "User");
        ldap_mods_add1(m, LDAP_MOD_ADD, "givenName", "Raw");
        ldap_mods_add1(m, LDAP_MOD_ADD, "displayName", "Raw User");
        ldap_mods_add1(m, LDAP_MOD_ADD, "ucsschoolSourceUID", "bench");
        ldap_mods_add1(m, LDAP_MOD_ADD, "ucsschoolRecordUID", rid);
        ldap_mods_add1(m, LDAP_MOD_ADD, "ucsschoolSchool", "Bench");
        ldap_mods_add1(m, LDAP_MOD_ADD, "ucsschoolRole", "student:school:Bench");
        ldap_mods_add1(m, LDAP_MOD_ADD, "departmentNumber", "Bench");
        ldap_mods_add1(m, LDAP_MOD_ADD, "sisopiBirthday", "2012-01-01");
        ldap_mods_add1(m, LDAP_MOD_ADD, "userPassword", "{CRYPT}$6$x$y");
        ldap_conn_add(c, dn, m, done, NULL);
        ldap_mods_destroy(m);
        free(dn);
    }
    ldap_conn_drain(c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("adds %ld seconds %.3f adds_per_s %.0f failed %ld window %d\n", n, s, (double)n / s,
           failed, window);
    ldap_conn_close(c);
    config_free(&cfg);
    return failed ? 1 : 0;
}
