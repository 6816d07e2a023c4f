/*
 * test_plan: a record that leaves a person as it is plans nothing (the planner's shortcut for
 * nightly imports), and every single difference the shortcut looks at makes a real plan, the
 * same one the long way makes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "plan.h"
#include "strutil.h"

static struct config cfg;

static char *classes_a[] = {"Gym1-5a", "Gym1-5b"};
static char *values_tel[] = {"+49 1"};

/* A student of Gym1 in classes 5a and 5b, with an e-mail address and a telephone number. */
static struct user_record record(void)
{
    static struct attr_values extra[] = {{"telephoneNumber", values_tel, 1}};
    return (struct user_record){.import_id = "i1",
                                .source_uid = "db1",
                                .school = "Gym1",
                                .role = ROLE_STUDENT,
                                .record_uid = "R1",
                                .firstname = "Anna",
                                .lastname = "Öztürk",
                                .email = "anna@example.org",
                                .birthday = "2012-03-04",
                                .classes_given = true,
                                .classes = classes_a,
                                .n_classes = 2,
                                .extra = extra,
                                .n_extra = 1};
}

/* The person the directory holds after record() created it as anna.oeztuerk. */
static void created(struct person *out)
{
    struct user_record r = record();
    struct person_plan p;
    assert_int_equal(plan_user_record(&cfg, NULL, &r, &p), PLAN_CREATE);
    plan_finish_create(&cfg, &p, "anna.oeztuerk");
    person_copy(out, &p.after);
    person_plan_free(&p);
}

static int setup(void **state)
{
    (void)state;
    config_defaults(&cfg);
    free(cfg.ldap.base);
    cfg.ldap.base = xstrdup("dc=example,dc=org");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    config_free(&cfg);
    return 0;
}

static enum plan_action plan(const struct person *before, const struct user_record *r,
                             size_t *n_mods, size_t *n_groups)
{
    struct person_plan p;
    enum plan_action a = plan_user_record(&cfg, before, r, &p);
    *n_mods = p.n_mods;
    *n_groups = p.n_groups;
    person_plan_free(&p);
    return a;
}

static void test_same_record_plans_nothing(void **state)
{
    (void)state;
    struct person before;
    created(&before);
    struct user_record r = record();
    size_t m, g;
    assert_int_equal(plan(&before, &r, &m, &g), PLAN_NONE);
    /* "Not given" keeps what is there. */
    r.email = NULL;
    r.birthday = NULL;
    r.classes_given = false;
    assert_int_equal(plan(&before, &r, &m, &g), PLAN_NONE);
    /* Case of the source_uid does not matter (caseIgnore in the directory). */
    r.source_uid = "DB1";
    assert_int_equal(plan(&before, &r, &m, &g), PLAN_NONE);
    person_free(&before);
}

/* One difference at a time, each of which the shortcut must see. */
static void test_each_difference_plans_a_change(void **state)
{
    (void)state;
    struct person before;
    created(&before);
    static char *one_class[] = {"Gym1-5a"};
    static char *swapped[] = {"Gym1-5b", "Gym1-5a"};
    static char *tel2[] = {"+49 2"};
    static struct attr_values other_tel[] = {{"telephoneNumber", tel2, 1}};
    static struct attr_values no_tel[] = {{"telephoneNumber", NULL, 0}};
    static struct attr_values room[] = {{"roomNumber", tel2, 1}};
    struct {
        const char *what;
        struct user_record r;
        size_t mods, groups;
    } cases[] = {
        {"first name", record(), 3, 0}, /* givenName, cn, displayName */
        {"last name", record(), 3, 0},  /* sn, cn, displayName */
        {"e-mail removed", record(), 1, 0},    {"e-mail changed", record(), 1, 0},
        {"birthday", record(), 1, 0},          {"a class less", record(), 0, 1},
        {"no classes", record(), 0, 2},        {"telephone changed", record(), 1, 0},
        {"telephone removed", record(), 1, 0}, {"another attribute", record(), 1, 0},
        {"another school", record(), 2, 4}, /* ucsschoolSchool, ucsschoolRole; its groups */
    };
    cases[0].r.firstname = "Ana";
    cases[1].r.lastname = "Oeztuerk";
    cases[2].r.email = "";
    cases[3].r.email = "anna@example.com";
    cases[4].r.birthday = "2012-03-05";
    cases[5].r.classes = one_class;
    cases[5].r.n_classes = 1;
    cases[6].r.n_classes = 0;
    cases[7].r.extra = other_tel;
    cases[8].r.extra = no_tel;
    cases[9].r.extra = room;
    cases[10].r.school = "Gym2";
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        size_t m, g;
        enum plan_action a = plan(&before, &cases[i].r, &m, &g);
        if (a != PLAN_MODIFY || m < cases[i].mods || g != cases[i].groups)
            fail_msg("%s: action %d, %zu mods, %zu group changes (want a modification with at "
                     "least %zu mods and %zu group changes)",
                     cases[i].what, a, m, g, cases[i].mods, cases[i].groups);
    }
    /* The same classes in another order: a different list for the state, no LDAP change. */
    struct user_record r = record();
    r.classes = swapped;
    size_t m, g;
    enum plan_action a = plan(&before, &r, &m, &g);
    assert_true(a == PLAN_NONE || (m == 0 && g == 0));
    person_free(&before);
}

static void test_limbo_role_source_are_never_shortcut(void **state)
{
    (void)state;
    struct person before;
    created(&before);
    struct user_record r = record();
    size_t m, g;
    before.limbo = true; /* listed again: reactivated, even with nothing else changed */
    assert_int_equal(plan(&before, &r, &m, &g), PLAN_MODIFY);
    before.limbo = false;
    r.role = ROLE_TEACHER;
    assert_int_equal(plan(&before, &r, &m, &g), PLAN_REJECT);
    r = record();
    r.source_uid = "db2";
    assert_int_equal(plan(&before, &r, &m, &g), PLAN_REJECT);
    /* A DN that the configuration would now make differently: a move, not nothing. */
    r = record();
    free(before.dn);
    before.dn = xstrdup("uid=anna.oeztuerk,cn=schueler,cn=users,ou=Old,dc=example,dc=org");
    assert_int_equal(plan(&before, &r, &m, &g), PLAN_MODIFY);
    person_free(&before);
}

/* A change planned from the person's state, carried out against its entry as a crash left it:
 * the attributes still to write are the entry's against the target's, the move starts from the
 * entry's DN, a creation whose entry exists keeps that entry's name. */
static void test_rebase_writes_what_the_entry_lacks(void **state)
{
    (void)state;
    struct person before;
    created(&before);
    struct user_record r = record();
    r.lastname = "Neu"; /* the change: a new last name */
    struct person_plan p;
    assert_int_equal(plan_user_record(&cfg, &before, &r, &p), PLAN_MODIFY);
    assert_false(p.move);
    /* The entry has the new sn already (the modify got through), cn not yet. */
    struct attr_list entry = {0};
    plan_entry_attrs(&cfg, &before, &entry);
    attr_list_set1(&entry, "sn", "Neu");
    plan_rebase(&cfg, &p, before.dn, before.username, &entry);
    assert_int_equal(p.action, PLAN_MODIFY);
    assert_false(p.move);
    size_t n_cn = 0, n_sn = 0;
    for (size_t i = 0; i < p.n_mods; i++) {
        n_cn += strcmp(p.mods[i].name, "cn") == 0 || strcmp(p.mods[i].name, "displayName") == 0;
        n_sn += strcmp(p.mods[i].name, "sn") == 0;
    }
    assert_int_equal(n_cn, 2);
    assert_int_equal(n_sn, 0);
    assert_int_equal(p.n_mods, 2);
    person_plan_free(&p);

    /* The entry is somewhere else already (a move done, its modify not): no move again. */
    struct person_plan q;
    struct user_record same = record();
    assert_int_equal(plan_remove_school(&cfg, &before, "Gym1", 1700000000000LL, &q), PLAN_MODIFY);
    assert_true(q.move);
    struct attr_list old = {0};
    plan_entry_attrs(&cfg, &before, &old);
    plan_rebase(&cfg, &q, q.after.dn, before.username, &old);
    assert_false(q.move);
    assert_true(q.n_mods > 0); /* the limbo attributes are still to come */
    person_plan_free(&q);

    /* A creation whose entry was added before the crash keeps that entry's username. */
    struct person_plan c;
    assert_int_equal(plan_user_record(&cfg, NULL, &same, &c), PLAN_CREATE);
    plan_rebase(&cfg, &c, before.dn, "anna.oeztuerk", &old);
    assert_int_equal(c.action, PLAN_MODIFY);
    assert_int_equal(c.event, EVENT_CREATED);
    assert_string_equal(c.after.username, "anna.oeztuerk");
    assert_false(c.move);
    assert_int_equal(c.n_mods, 0);
    assert_true(c.n_groups > 0); /* the groups are the applier's to check against the groups */
    person_plan_free(&c);
    attr_list_free(&entry);
    attr_list_free(&old);
    person_free(&before);
}

/* plan_keep never says "nothing": the target is the state itself. */
static void test_keep_is_a_plan_of_the_state_itself(void **state)
{
    (void)state;
    struct person before;
    created(&before);
    struct person_plan k;
    plan_keep(&cfg, &before, &k);
    assert_int_equal(k.action, PLAN_MODIFY);
    assert_false(k.move);
    assert_int_equal(k.n_mods, 0);
    assert_int_equal(k.n_groups, 0);
    assert_true(person_equal(&before, &k.after));
    person_plan_free(&k);
    person_free(&before);
}

static void test_purge_date_rounds_up_to_a_second(void **state)
{
    (void)state;
    cfg.import.deletion_grace_seconds = 30;
    assert_int_equal(plan_purge_date(&cfg, 1700000000000), 1700000030000);
    assert_int_equal(plan_purge_date(&cfg, 1700000000001), 1700000031000);
    assert_int_equal(plan_purge_date(&cfg, 1700000000999), 1700000031000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_record_plans_nothing),
        cmocka_unit_test(test_each_difference_plans_a_change),
        cmocka_unit_test(test_limbo_role_source_are_never_shortcut),
        cmocka_unit_test(test_rebase_writes_what_the_entry_lacks),
        cmocka_unit_test(test_keep_is_a_plan_of_the_state_itself),
        cmocka_unit_test(test_purge_date_rounds_up_to_a_second),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
