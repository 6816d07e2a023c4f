/*
 * test_audit_expect: the state the history implies for a person, through every event type,
 * and each kind of drift the directory can show against it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit_expect.h"

#define DN_A  "uid=p.one,cn=schueler,cn=users,ou=SchA,dc=x"
#define DN_B  "uid=p.one,cn=schueler,cn=users,ou=SchB,dc=x"
#define DN_C  "uid=p.one,cn=schueler,cn=users,ou=SchC,dc=x"
#define DN_LI "uid=p.one,cn=schueler,cn=users,ou=limbo,dc=x"

static void ev(struct audit_expect *x, enum event_type t, const char *rid, const char *imp,
               const char *school, const char *dn, int64_t offset, int64_t purge_ms)
{
    struct event e = {.type = t,
                      .record_uid = (char *)rid,
                      .import_id = (char *)imp,
                      .school = (char *)school,
                      .has_role = true,
                      .role = ROLE_STUDENT,
                      .input_partition = 3,
                      .input_offset = offset,
                      .dn_after = (char *)dn,
                      .purge_at_ms = purge_ms};
    audit_expect_event(x, &e);
}

static void rec(struct audit_expect *x, const char *rid, const char *imp, const char *school,
                const char *klass, int64_t offset)
{
    char *classes[] = {(char *)klass};
    struct user_record r = {.import_id = (char *)imp,
                            .school = (char *)school,
                            .role = ROLE_STUDENT,
                            .record_uid = (char *)rid,
                            .classes_given = true,
                            .classes = klass ? classes : NULL,
                            .n_classes = klass ? 1 : 0};
    audit_expect_record(x, &r, 3, offset);
}

struct collect {
    FILE *f;
    char *buf;
    size_t len;
};

static void collect_cb(const struct audit_diff *d, void *opaque)
{
    struct collect *c = opaque;
    fprintf(c->f, "%s %s: expected %s, directory has %s\n", d->record_uid, d->field, d->expected,
            d->actual);
}

/* The differences of one person (or of the missing ones, p == NULL), as verify prints them. */
static char *diffs(struct audit_expect *x, const struct person *p)
{
    struct collect c = {0};
    c.f = open_memstream(&c.buf, &c.len);
    if (p)
        audit_expect_compare(x, p, collect_cb, &c);
    else
        audit_expect_missing(x, collect_cb, &c);
    fclose(c.f);
    return c.buf;
}

static void expect_diffs(struct audit_expect *x, const struct person *p, const char *want)
{
    char *got = diffs(x, p);
    assert_string_equal(got, want);
    free(got);
}

/* A person P in the directory: dn, schools, classes per school (NULL-terminated lists). */
static struct person person(const char *rid, const char *dn, char **schools, size_t n,
                            struct school_classes *cls, size_t n_cls)
{
    return (struct person){.record_uid = (char *)rid,
                           .source_uid = "sis",
                           .role = ROLE_STUDENT,
                           .dn = (char *)dn,
                           .schools = schools,
                           .n_schools = n,
                           .classes = cls,
                           .n_classes = n_cls};
}

/* A, then A+B, then B: the directory as the reconciler left it matches. */
static void test_consistent(void **state)
{
    (void)state;
    struct audit_expect *x = audit_expect_new();
    ev(x, EVENT_CREATED, "P1", "i1", "SchA", DN_A, 10, 0);
    ev(x, EVENT_SCHOOL_ADDED, "P1", "i2", "SchB", DN_A, 20, 0);
    ev(x, EVENT_SCHOOL_REMOVED, "P1", "i3", "SchA", DN_B, 31, 0);
    ev(x, EVENT_MODIFIED, "P1", "i4", "SchB", DN_B, 40, 0);
    rec(x, "P1", "i1", "SchA", "SchA-5a", 10);
    rec(x, "p1", "i2", "SchB", "SchB-7c", 20); /* record_uid in another case: same person */
    rec(x, "P1", "i4", "schb", "SchB-8a", 40);
    char *schools[] = {"SchB"};
    char *b[] = {"schb-8A"}; /* the directory's case does not matter */
    struct school_classes cls[] = {{"SchB", b, 1}};
    struct person p =
        person("P1", "UID=p.one,cn=schueler,cn=users,ou=SchB,dc=x", schools, 1, cls, 1);
    expect_diffs(x, &p, "");
    expect_diffs(x, NULL, "");
    assert_int_equal(audit_expect_checked(x), 1);
    audit_expect_free(x);
}

/* Each field the directory can get wrong behind sisopi's back. */
static void test_drift(void **state)
{
    (void)state;
    struct audit_expect *x = audit_expect_new();
    ev(x, EVENT_CREATED, "P1", "i1", "SchA", DN_A, 10, 0);
    ev(x, EVENT_SCHOOL_ADDED, "P1", "i2", "SchB", DN_A, 20, 0);
    rec(x, "P1", "i1", "SchA", "SchA-5a", 10);
    rec(x, "P1", "i2", "SchB", "SchB-7c", 20);
    char *schools[] = {"SchA"};
    char *b[] = {"SchB-7c"};
    struct school_classes cls[] = {{"SchB", b, 1}};
    struct person p = person("P1", DN_B, schools, 1, cls, 1);
    p.role = ROLE_TEACHER;
    p.purge_at_ms = 1700000000000;
    expect_diffs(x, &p,
                 "P1 dn: expected " DN_A ", directory has " DN_B "\n"
                 "P1 role: expected student, directory has teacher\n"
                 "P1 schools: expected SchA SchB, directory has SchA\n"
                 "P1 purge_at: expected (none), directory has 2023-11-14T22:13:20Z\n"
                 "P1 classes[SchA]: expected SchA-5a, directory has (none)\n");
    /* The same record_uid a second time: one account too many. */
    expect_diffs(x, &p, "P1 account: expected one account, directory has " DN_B "\n");
    audit_expect_free(x);
}

/* Limbo: no schools, no classes, the purge date at whole seconds. */
static void test_limbo_purge(void **state)
{
    (void)state;
    struct audit_expect *x = audit_expect_new();
    const int64_t purge = 1700000000400; /* the event has ms; LDAP seconds */
    ev(x, EVENT_CREATED, "L1", "i1", "SchA", DN_A, 10, 0);
    ev(x, EVENT_MOVED_TO_LIMBO, "L1", "i2", "SchA", DN_LI, 20, purge);
    rec(x, "L1", "i1", "SchA", "SchA-5a", 10);
    struct person p = person("L1", DN_LI, NULL, 0, NULL, 0);
    p.limbo = true;
    p.purge_at_ms = 1700000000000; /* cut to the second */
    expect_diffs(x, &p, "");
    ev(x, EVENT_CREATED, "L2", "i1", "SchA", DN_A, 11, 0);
    ev(x, EVENT_MOVED_TO_LIMBO, "L2", "i2", "SchA", DN_LI, 21, purge);
    p.record_uid = "L2";
    p.purge_at_ms = 1700000001000; /* rounded up */
    expect_diffs(x, &p, "");
    ev(x, EVENT_CREATED, "L3", "i1", "SchA", DN_A, 12, 0);
    ev(x, EVENT_MOVED_TO_LIMBO, "L3", "i2", "SchA", DN_LI, 22, purge);
    p.record_uid = "L3";
    p.purge_at_ms = 1700000002000;
    p.limbo = false;
    expect_diffs(x, &p,
                 "L3 state: expected limbo, directory has active\n"
                 "L3 purge_at: expected 2023-11-14T22:13:20.400Z, directory has "
                 "2023-11-14T22:13:22Z\n");
    audit_expect_free(x);
}

/* Deleted, unknown and missing accounts; Rejected and dry runs change nothing. */
static void test_accounts(void **state)
{
    (void)state;
    struct audit_expect *x = audit_expect_new();
    ev(x, EVENT_CREATED, "D1", "i1", "SchA", DN_A, 10, 0);
    ev(x, EVENT_MOVED_TO_LIMBO, "D1", "i2", "SchA", DN_LI, 20, 5000);
    ev(x, EVENT_DELETED, "D1", NULL, NULL, NULL, 30, 5000);
    ev(x, EVENT_CREATED, "M1", "i1", "SchA", "uid=m,ou=SchA,dc=x", 11, 0);
    ev(x, EVENT_CREATED, "M2", "i1", "SchA", "uid=m2,ou=SchA,dc=x", 12, 0);
    ev(x, EVENT_MOVED_TO_LIMBO, "M2", "i2", "SchA", "uid=m2,ou=limbo,dc=x", 22, 5000);
    ev(x, EVENT_REJECTED, "R1", "i1", "SchA", NULL, 13, 0);
    struct event dry = {.type = EVENT_CREATED,
                        .record_uid = "Y1",
                        .school = "SchA",
                        .dn_after = "uid=y,dc=x",
                        .dry_run = true};
    audit_expect_event(x, &dry);
    struct person p = person("D1", DN_A, NULL, 0, NULL, 0);
    expect_diffs(x, &p, "D1 account: expected none (deleted), directory has " DN_A "\n");
    p.record_uid = "X1";
    expect_diffs(x, &p,
                 "X1 account: expected none (not in the topic history), directory has " DN_A "\n");
    p.record_uid = "R1";
    expect_diffs(x, &p,
                 "R1 account: expected none (not in the topic history), directory has " DN_A "\n");
    expect_diffs(x, NULL,
                 "M1 account: expected uid=m,ou=SchA,dc=x, directory has none\n"
                 "M2 account: expected uid=m2,ou=limbo,dc=x, directory has none\n");
    assert_int_equal(audit_expect_checked(x), 5);
    audit_expect_free(x);
}

/* Classes: only records that were applied, and only since the school was last (re)gained. */
static void test_classes_history(void **state)
{
    (void)state;
    struct audit_expect *x = audit_expect_new();
    ev(x, EVENT_CREATED, "C1", "i1", "SchA", DN_A, 10, 0);
    ev(x, EVENT_SCHOOL_ADDED, "C1", "i2", "SchB", DN_A, 20, 0);
    ev(x, EVENT_SCHOOL_REMOVED, "C1", "i3", "SchB", DN_A, 35, 0);
    ev(x, EVENT_SCHOOL_ADDED, "C1", "i4", "SchB", DN_A, 40, 0);
    ev(x, EVENT_REJECTED, "C1", "i5", "SchA", NULL, 50, 0);
    rec(x, "C1", "i1", "SchA", "SchA-5a", 10);
    rec(x, "C1", "i2", "SchB", "SchB-7c", 20); /* B was lost at 35: these are gone */
    audit_expect_dead_letter(x, 3, 45);
    rec(x, "C1", "i6", "SchA", "SchA-9z", 45); /* dead-lettered: never applied */
    rec(x, "C1", "i5", "SchA", "SchA-6b", 50); /* rejected */
    struct user_record dry = {.import_id = "i7",
                              .school = "SchA",
                              .record_uid = "C1",
                              .classes_given = true,
                              .dry_run = true};
    audit_expect_record(x, &dry, 3, 60); /* a dry run would have emptied them */
    struct user_record nocls = {.import_id = "i8", .school = "SchA", .record_uid = "C1"};
    audit_expect_record(x, &nocls, 3, 70); /* no class column: classes stay */
    char *schools[] = {"SchA", "SchB"};
    char *a[] = {"SchA-5a"};
    struct school_classes cls[] = {{"SchA", a, 1}};
    struct person p = person("C1", DN_A, schools, 2, cls, 1);
    expect_diffs(x, &p, "");

    /* Reactivated: only the new school, classes only from its own record on. */
    ev(x, EVENT_CREATED, "C2", "i1", "SchA", DN_A, 11, 0);
    ev(x, EVENT_MOVED_TO_LIMBO, "C2", "i2", "SchA", DN_LI, 21, 9000);
    ev(x, EVENT_REACTIVATED, "C2", "i3", "SchC", DN_C, 30, 0);
    rec(x, "C2", "i1", "SchA", "SchA-5a", 11);
    rec(x, "C2", "i3", "SchC", "SchC-9a", 30);
    char *c[] = {"SchC-9a"};
    char *stale[] = {"SchA-5a"};
    struct school_classes cls2[] = {{"SchA", stale, 1}, {"SchC", c, 1}};
    char *sc[] = {"SchC"};
    struct person p2 = person("C2", DN_C, sc, 1, cls2, 2);
    expect_diffs(x, &p2, "C2 classes[SchA]: expected (none), directory has SchA-5a\n");
    audit_expect_free(x);
}

/* History cut by retention: a person first seen in a SchoolAdded exists, but its schools and
 * classes are not known, so they are not compared. */
static void test_partial_history(void **state)
{
    (void)state;
    struct audit_expect *x = audit_expect_new();
    ev(x, EVENT_SCHOOL_ADDED, "H1", "i9", "SchB", DN_A, 90, 0);
    char *schools[] = {"SchA", "SchB"};
    struct person p = person("H1", DN_A, schools, 2, NULL, 0);
    expect_diffs(x, &p, "");
    audit_expect_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consistent),      cmocka_unit_test(test_drift),
        cmocka_unit_test(test_limbo_purge),     cmocka_unit_test(test_accounts),
        cmocka_unit_test(test_classes_history), cmocka_unit_test(test_partial_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
