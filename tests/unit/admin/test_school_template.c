/*
 * test_school_template: the school name rules of `sisopi-admin school create`, and the entries
 * it makes from deploy/ldap/school.ldif.in: exactly the DNs the reconciler writes into (its
 * dir_layout), values escaped where they become DNs, broken templates refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "dir_escape.h"
#include "dir_layout.h"
#include "school_template.h"
#include "strutil.h"

static struct config cfg;

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

static int check(const char *name)
{
    char err[256];
    return school_name_check(name, "Abgang", err, sizeof(err));
}

static void test_good_names(void **state)
{
    (void)state;
    const char *good[] = {"Gym1", "a", "7", "Schule_2", "Real-Schule-3", "A_b-C9",
                          /* 64 characters */
                          "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        if (check(good[i]) != 0)
            fail_msg("\"%s\" refused", good[i]);
    }
}

static void test_bad_names(void **state)
{
    (void)state;
    /* Edges, LDAP DN and filter specials, spaces, non-ASCII, the limbo OU in any case. */
    const char *bad[] = {"", "-a", "a-", "_a", "a_", "a,b", "a=b", "a+b", "a\\b", "a b", " a",
                         "a;b", "a*b", "a(b)", "a\"b", "a<b>", "a#b", "Gymnäsium", "a/b", "a.b",
                         "Abgang", "abgang", "ABGANG",
                         /* 65 characters */
                         "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij12345"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        if (check(bad[i]) == 0)
            fail_msg("\"%s\" accepted", bad[i]);
    }
    char err[256];
    assert_int_equal(school_name_check("LIMBO", "limbo", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "limbo OU"));
    assert_int_equal(school_name_check("a,b", "limbo", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a valid school name"));
    /* Without a limbo OU (show): only the form counts. */
    assert_int_equal(school_name_check("limbo", NULL, err, sizeof(err)), 0);
}

static void test_display_names(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(school_display_name_check("Gymnasium Am Müllerweg, Zweig B", err, 256), 0);
    assert_int_equal(school_display_name_check("", err, sizeof(err)), -1);
    assert_int_equal(school_display_name_check(" lead", err, sizeof(err)), -1);
    assert_int_equal(school_display_name_check("trail ", err, sizeof(err)), -1);
    assert_int_equal(school_display_name_check("two\nlines", err, sizeof(err)), -1);
    assert_int_equal(school_display_name_check("bad \xff utf8", err, sizeof(err)), -1);
}

static struct school_params params(const char *name, const char *display)
{
    struct school_params p = {.name = name, .display_name = display, .base = cfg.ldap.base};
    for (int r = 0; r < 4; r++)
        p.containers[r] = cfg.ldap.users_container[r];
    return p;
}

static const struct school_entry *find(const struct school_entries *es, const char *dn)
{
    for (size_t i = 0; i < es->n; i++) {
        if (dir_dn_equal(es->v[i].dn, dn))
            return &es->v[i];
    }
    fail_msg("the template makes no %s", dn);
    return NULL;
}

static const char *value(const struct school_entry *e, const char *attr)
{
    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(e->attrs[i], attr) == 0)
            return e->values[i];
    }
    return NULL;
}

/* Every container and group the reconciler writes into is made, parents first. */
static void test_template_matches_layout(void **state)
{
    (void)state;
    char err[256];
    struct school_entries es;
    struct school_params p = params("Gym1", NULL);
    assert_int_equal(school_entries_build(school_ldif_template, &p, &es, err, sizeof(err)), 0);
    assert_int_equal(es.n, 13);
    char *want[16];
    size_t n = 0;
    want[n++] = layout_school_dn(&cfg, "Gym1");
    for (int r = 0; r < ROLE_COUNT; r++)
        want[n++] = layout_users_container_dn(&cfg, "Gym1", (enum role)r);
    want[n++] = layout_domain_users_dn(&cfg, "Gym1");
    for (int r = 0; r < ROLE_COUNT - 1; r++) /* t&s: the teacher and staff groups again */
        n += layout_role_group_dns(&cfg, "Gym1", (enum role)r, &want[n]);
    char *klass = layout_class_dn(&cfg, "Gym1", "Gym1-5a");
    want[n++] = xstrdup(strchr(klass, ',') + 1); /* the class container */
    free(klass);
    for (size_t i = 0; i < n; i++) {
        find(&es, want[i]);
        free(want[i]);
    }
    /* Parents first: each entry's parent is the base or an earlier entry. */
    for (size_t i = 0; i < es.n; i++) {
        const char *parent = strchr(es.v[i].dn, ',') + 1;
        bool ok = dir_dn_equal(parent, cfg.ldap.base);
        for (size_t k = 0; k < i && !ok; k++)
            ok = dir_dn_equal(parent, es.v[k].dn);
        if (!ok)
            fail_msg("%s comes before its parent", es.v[i].dn);
    }
    const struct school_entry *ou = &es.v[0];
    assert_string_equal(ou->dn, "ou=Gym1,dc=example,dc=org");
    assert_string_equal(value(ou, "ou"), "Gym1");
    assert_string_equal(value(ou, "displayName"), "Gym1");
    assert_string_equal(value(ou, "ucsschoolRole"), "school:school:Gym1");
    const struct school_entry *du =
        find(&es, "cn=Domain Users Gym1,cn=groups,ou=Gym1,dc=example,dc=org");
    assert_string_equal(value(du, "cn"), "Domain Users Gym1");
    assert_string_equal(value(du, "ucsschoolRole"), "school_domain_group:school:Gym1");
    find(&es, "cn=schueler-gym1,cn=groups,ou=Gym1,dc=example,dc=org");
    school_entries_free(&es);
}

/* Configured containers and a display name: escaped in DNs, kept as they are in values. */
static void test_values_and_escaping(void **state)
{
    (void)state;
    char err[256];
    struct school_entries es;
    struct school_params p = params("Gym1", "Gymnasium, Zweig #1");
    p.containers[ROLE_STUDENT] = "pupils, all";
    assert_int_equal(school_entries_build(school_ldif_template, &p, &es, err, sizeof(err)), 0);
    assert_string_equal(value(&es.v[0], "displayName"), "Gymnasium, Zweig #1");
    const struct school_entry *c = find(&es, "cn=pupils\\, all,cn=users,ou=Gym1,dc=example,dc=org");
    assert_string_equal(value(c, "cn"), "pupils, all");
    school_entries_free(&es);
}

static void test_broken_templates(void **state)
{
    (void)state;
    char err[256];
    struct school_entries es;
    struct school_params p = params("Gym1", NULL);
    assert_int_equal(
        school_entries_build("dn: ou=@SCHOOL@,@BASE@\nx: @NOPE@\n", &p, &es, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "@NOPE@"));
    assert_null(es.v);
    assert_int_equal(school_entries_build("# c\ncn: x\n", &p, &es, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 2"));
    assert_int_equal(
        school_entries_build("dn: ou=@SCHOOL@,@BASE@\nno colon\n", &p, &es, err, sizeof(err)), -1);
    assert_int_equal(school_entries_build("# only a comment\n\n", &p, &es, err, sizeof(err)), -1);
    /* Two entries, separated by a blank line; a comment inside is skipped. */
    assert_int_equal(school_entries_build("dn: ou=@SCHOOL@,@BASE@\nou: @SCHOOL@\n\n# c\ndn: "
                                          "cn=x,ou=@SCHOOL@,@BASE@\ncn: x",
                                          &p, &es, err, sizeof(err)),
                     0);
    assert_int_equal(es.n, 2);
    assert_string_equal(es.v[1].dn, "cn=x,ou=Gym1,dc=example,dc=org");
    assert_int_equal(es.v[1].n, 1);
    school_entries_free(&es);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_names),          cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_display_names),       cmocka_unit_test(test_template_matches_layout),
        cmocka_unit_test(test_values_and_escaping), cmocka_unit_test(test_broken_templates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
