/* Unit tests of view: an authority's view of a central person (schools, primary, classes,
 * attributes, limbo, leaving) and the diff against the entry found there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dir_escape.h"
#include "strutil.h"
#include "view.h"

static struct config cfg;
static const struct connector_authority *nord, *sued;
static struct config acfg_nord, acfg_sued;

static const char cfg_text[] =
    "ldap = { base = \"dc=central\"; };\n"
    "connector = {\n"
    "  authorities = (\n"
    "    { name = \"nord\"; uri = \"ldap://127.0.0.1:1/\"; base = \"dc=nord\"; passwords = true;\n"
    "      attributes = { student = [ \"givenName\" ]; }; },\n"
    "    { name = \"sued\"; uri = \"ldap://127.0.0.1:2/\"; base = \"dc=sued\"; leave = \"limbo\"; "
    "}\n"
    "  );\n"
    "  school_to_authority = ( [ \"Gym1\", \"nord\" ], [ \"gs2\", \"nord\" ],\n"
    "                          [ \"RS3\", \"sued\" ], [ \"both\", \"nord\", \"sued\" ] );\n"
    "};\n";

static int setup(void **state)
{
    (void)state;
    char path[] = "/tmp/sisopi-test-view-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    fputs(cfg_text, f);
    fclose(f);
    char err[CONFIG_ERRSTR_SIZE];
    int rc = config_load(&cfg, path, NULL, err, sizeof(err));
    unlink(path);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    nord = config_connector_authority(&cfg, "nord");
    sued = config_connector_authority(&cfg, "sued");
    view_authority_config(&cfg, nord, &acfg_nord);
    view_authority_config(&cfg, sued, &acfg_sued);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    config_free(&cfg);
    return 0;
}

/* ---- building inputs ---- */

struct kv {
    const char *name;
    const char *values[4];
};

static struct dir_entry *entry(const char *dn, const struct kv *kvs)
{
    struct dir_entry *e = xcalloc(1, sizeof(*e));
    e->dn = xstrdup(dn);
    size_t n = 0;
    while (kvs[n].name)
        n++;
    e->attrs = xcalloc(n + 1, sizeof(*e->attrs));
    for (size_t i = 0; i < n; i++) {
        struct dir_attr *a = &e->attrs[e->n_attrs++];
        a->name = xstrdup(kvs[i].name);
        while (a->n < 4 && kvs[i].values[a->n])
            a->n++;
        a->values = xcalloc(a->n + 1, sizeof(char *));
        a->lens = xcalloc(a->n + 1, sizeof(size_t));
        for (size_t k = 0; k < a->n; k++) {
            a->values[k] = xstrdup(kvs[i].values[k]);
            a->lens[k] = strlen(a->values[k]);
        }
    }
    return e;
}

static struct dir_entry *central_entry(void)
{
    const struct kv kvs[] = {
        {"cn", {"Anna Alt"}},
        {"sn", {"Alt"}},
        {"givenName", {"Anna"}},
        {"mail", {"anna@example.org"}},
        {"userPassword", {"{CRYPT}$6$x"}},
        {NULL, {NULL}},
    };
    return entry("uid=anna,cn=schueler,cn=users,ou=RS3,dc=central", kvs);
}

/* A central student at schools (sorted), primary, with classes "<school>-1a" each. */
static void central(struct person *p, const char *primary, const char *const *schools, size_t n)
{
    memset(p, 0, sizeof(*p));
    p->record_uid = xstrdup("r1");
    p->source_uid = xstrdup("src");
    p->role = ROLE_STUDENT;
    p->username = xstrdup("anna");
    p->primary_school = xstrdup(primary);
    p->schools = xcalloc(n + 1, sizeof(char *));
    p->classes = xcalloc(n + 1, sizeof(*p->classes));
    for (size_t i = 0; i < n; i++) {
        p->schools[p->n_schools++] = xstrdup(schools[i]);
        struct school_classes *c = &p->classes[p->n_classes++];
        c->school = xstrdup(schools[i]);
        c->classes = xcalloc(2, sizeof(char *));
        c->classes[c->n_classes++] = xasprintf("%s-1a", schools[i]);
    }
    p->dn = xasprintf("uid=anna,cn=schueler,cn=users,ou=%s,dc=central", primary);
}

static bool has_value(const struct attr_list *l, const char *name, const char *v)
{
    const struct attr_values *a = attr_list_get(l, name);
    for (size_t i = 0; a && i < a->n_values; i++) {
        if (strcmp(a->values[i], v) == 0)
            return true;
    }
    return false;
}

/* ---- the view ---- */

static void test_schools_primary_classes(void **state)
{
    (void)state;
    const char *schools[] = {"RS3", "gs2", "Gym1"};
    struct person c;
    central(&c, "RS3", schools, 3);
    struct dir_entry *ce = central_entry();
    struct view v;
    /* nord has Gym1 and gs2; the central primary RS3 is not nord's: the sorted-first is. */
    view_compute(&acfg_nord, nord, &c, ce, false, &v);
    assert_int_equal(v.kind, VIEW_ACTIVE);
    assert_int_equal(v.p.n_schools, 2);
    assert_string_equal(v.p.schools[0], "Gym1");
    assert_string_equal(v.p.schools[1], "gs2");
    assert_string_equal(v.p.primary_school, "Gym1");
    assert_true(dir_dn_equal(v.p.dn, "uid=anna,cn=schueler,cn=users,ou=Gym1,dc=nord"));
    assert_int_equal(v.p.n_classes, 2);
    assert_true(has_value(&v.entry, "ucsschoolSchool", "gs2"));
    assert_false(has_value(&v.entry, "ucsschoolSchool", "RS3"));
    assert_true(has_value(&v.entry, "ucsschoolRole", "student:school:Gym1"));
    assert_true(has_value(&v.entry, "ucsschoolRole", "sisopi_connector:authority:nord"));
    assert_true(has_value(&v.entry, "departmentNumber", "Gym1"));
    /* Mapped: givenName for students; mail is not mapped for them; the password travels. */
    assert_true(has_value(&v.entry, "givenName", "Anna"));
    assert_null(attr_list_get(&v.entry, "mail"));
    assert_true(has_value(&v.entry, "userPassword", "{CRYPT}$6$x"));
    assert_true(has_value(&v.entry, "ucsschoolRecordUID", "r1"));
    /* Groups: Domain Users, schueler-, one class per school: 3 per school. */
    assert_int_equal(v.n_groups, 6);
    bool cls = false;
    for (size_t i = 0; i < v.n_groups; i++)
        cls |=
            dir_dn_equal(v.groups[i], "cn=gs2-1a,cn=klassen,cn=schueler,cn=groups,ou=gs2,dc=nord");
    assert_true(cls);
    view_free(&v);

    /* sued has RS3, which is the central primary; sued maps the defaults (mail), no password. */
    view_compute(&acfg_sued, sued, &c, ce, false, &v);
    assert_int_equal(v.kind, VIEW_ACTIVE);
    assert_int_equal(v.p.n_schools, 1);
    assert_string_equal(v.p.primary_school, "RS3");
    assert_true(has_value(&v.entry, "mail", "anna@example.org"));
    assert_null(attr_list_get(&v.entry, "userPassword"));
    view_free(&v);
    person_free(&c);
    dir_entry_free(ce);
}

static void test_case_insensitive_mapping(void **state)
{
    (void)state;
    const char *schools[] = {"GYM1"};
    struct person c;
    central(&c, "GYM1", schools, 1);
    struct view v;
    view_compute(&acfg_nord, nord, &c, NULL, false, &v);
    assert_int_equal(v.kind, VIEW_ACTIVE);
    assert_string_equal(v.p.primary_school, "GYM1");
    view_free(&v);
    view_compute(&acfg_sued, sued, &c, NULL, false, &v);
    assert_int_equal(v.kind, VIEW_ABSENT);
    view_free(&v);
    person_free(&c);
}

static void test_limbo_and_leaving(void **state)
{
    (void)state;
    const char *schools[] = {"RS3"};
    struct person c;
    central(&c, "RS3", schools, 1);
    struct view v;
    /* Not nord's school: absent at nord (leave = delete) whether there or not. */
    view_compute(&acfg_nord, nord, &c, NULL, true, &v);
    assert_int_equal(v.kind, VIEW_ABSENT);
    view_free(&v);
    /* Central limbo: kept deactivated where it is, with the central purge date. */
    person_free(&c);
    central(&c, "limbo", NULL, 0);
    c.limbo = true;
    c.purge_at_ms = 1767225600000; /* 2026-01-01 */
    view_compute(&acfg_sued, sued, &c, NULL, true, &v);
    assert_int_equal(v.kind, VIEW_LIMBO);
    assert_true(dir_dn_equal(v.p.dn, "uid=anna,cn=schueler,cn=users,ou=limbo,dc=sued"));
    assert_true(has_value(&v.entry, "shadowExpire", "1"));
    assert_true(has_value(&v.entry, "ucsschoolPurgeTimestamp", "20260101000000Z"));
    assert_int_equal(v.n_groups, 0);
    view_free(&v);
    /* ... and not created where it is not. */
    view_compute(&acfg_sued, sued, &c, NULL, false, &v);
    assert_int_equal(v.kind, VIEW_ABSENT);
    view_free(&v);
    person_free(&c);
    /* Active elsewhere, leave = "limbo": kept deactivated, no purge date. */
    const char *gym[] = {"Gym1"};
    central(&c, "Gym1", gym, 1);
    view_compute(&acfg_sued, sued, &c, NULL, true, &v);
    assert_int_equal(v.kind, VIEW_LIMBO);
    assert_null(attr_list_get(&v.entry, "ucsschoolPurgeTimestamp"));
    view_free(&v);
    /* Purged centrally: absent. */
    view_compute(&acfg_sued, sued, NULL, NULL, true, &v);
    assert_int_equal(v.kind, VIEW_ABSENT);
    view_free(&v);
    person_free(&c);
}

/* ---- the diff ---- */

/* The entry the view would create, as found at the authority (dn may differ). */
static struct dir_entry *found_from_view(const struct view *v, const char *dn)
{
    struct kv kvs[32];
    size_t n = 0;
    for (size_t i = 0; i < v->entry.n && n < 31; i++) {
        memset(&kvs[n], 0, sizeof(kvs[n]));
        kvs[n].name = v->entry.v[i].name;
        for (size_t k = 0; k < v->entry.v[i].n_values && k < 4; k++)
            kvs[n].values[k] = v->entry.v[i].values[k];
        n++;
    }
    kvs[n].name = NULL;
    return entry(dn ? dn : v->p.dn, kvs);
}

static size_t count_ops(const struct view_diff *d, enum view_op_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_ops; i++)
        n += d->ops[i].kind == k;
    return n;
}

static void test_diff_create_then_nothing(void **state)
{
    (void)state;
    const char *schools[] = {"Gym1"};
    struct person c;
    central(&c, "Gym1", schools, 1);
    struct dir_entry *ce = central_entry();
    struct view v;
    view_compute(&acfg_nord, nord, &c, ce, false, &v);
    struct view_found f = {0};
    struct view_diff d;
    view_diff(&acfg_nord, nord, &v, &f, &d);
    assert_false(d.conflict);
    assert_int_equal(d.ops[0].kind, VIEW_OP_ADD);
    assert_int_equal(count_ops(&d, VIEW_OP_GROUP), 3);
    view_diff_free(&d);

    /* Found exactly as wanted, in its groups: nothing to do (a replay changes nothing). */
    struct dir_entry *e = found_from_view(&v, NULL);
    f.entry = e;
    f.groups_dn = v.groups;
    f.n_groups_dn = v.n_groups;
    f.groups_uid = v.groups;
    f.n_groups_uid = v.n_groups;
    view_diff(&acfg_nord, nord, &v, &f, &d);
    assert_int_equal(d.n_ops, 0);
    view_diff_free(&d);
    dir_entry_free(e);

    /* Changed by hand (sn) and taken out of a group by hand: both undone. */
    const struct kv hand[] = {{"sn", {"Wrong"}}, {NULL, {NULL}}};
    struct dir_entry *h = entry(v.p.dn, hand);
    struct view_found f2 = {.entry = h};
    view_diff(&acfg_nord, nord, &v, &f2, &d);
    assert_true(d.conflict); /* no owner mark: not ours */
    assert_int_equal(d.n_ops, 0);
    view_diff_free(&d);
    dir_entry_free(h);
    view_free(&v);
    person_free(&c);
    dir_entry_free(ce);
}

static void test_diff_move_is_rename(void **state)
{
    (void)state;
    const char *schools[] = {"Gym1"};
    struct person c;
    central(&c, "Gym1", schools, 1);
    struct dir_entry *ce = central_entry();
    struct view before;
    view_compute(&acfg_nord, nord, &c, ce, false, &before);
    struct dir_entry *e = found_from_view(&before, NULL);
    person_free(&c);
    /* Moved centrally from Gym1 to gs2 (same authority): a rename, never delete + add. */
    const char *gs2[] = {"gs2"};
    central(&c, "gs2", gs2, 1);
    struct view v;
    view_compute(&acfg_nord, nord, &c, ce, true, &v);
    struct view_found f = {.entry = e,
                           .groups_dn = before.groups,
                           .n_groups_dn = before.n_groups,
                           .groups_uid = before.groups,
                           .n_groups_uid = before.n_groups};
    struct view_diff d;
    view_diff(&acfg_nord, nord, &v, &f, &d);
    assert_false(d.conflict);
    assert_int_equal(count_ops(&d, VIEW_OP_ADD), 0);
    assert_int_equal(count_ops(&d, VIEW_OP_DELETE), 0);
    assert_int_equal(count_ops(&d, VIEW_OP_RENAME), 1);
    assert_int_equal(count_ops(&d, VIEW_OP_MODIFY), 1);
    /* 3 groups left, 3 joined; the groups come before the rename. */
    assert_int_equal(count_ops(&d, VIEW_OP_GROUP), 6);
    size_t rename_at = 0;
    for (size_t i = 0; i < d.n_ops; i++) {
        if (d.ops[i].kind == VIEW_OP_RENAME)
            rename_at = i;
        if (d.ops[i].kind == VIEW_OP_GROUP)
            assert_true(rename_at == 0);
    }
    const struct view_op *r = &d.ops[rename_at];
    assert_string_equal(r->newrdn, "uid=anna");
    assert_true(dir_dn_equal(r->newsuperior, "cn=schueler,cn=users,ou=gs2,dc=nord"));
    view_diff_free(&d);
    view_free(&v);

    /* Purged centrally: leaves its groups, then is deleted. */
    view_compute(&acfg_nord, nord, NULL, NULL, true, &v);
    view_diff(&acfg_nord, nord, &v, &f, &d);
    assert_int_equal(d.ops[d.n_ops - 1].kind, VIEW_OP_DELETE);
    assert_int_equal(count_ops(&d, VIEW_OP_GROUP), 3);
    view_diff_free(&d);
    view_free(&v);
    view_free(&before);
    dir_entry_free(e);
    person_free(&c);
    dir_entry_free(ce);
}

static void test_diff_hand_change(void **state)
{
    (void)state;
    const char *schools[] = {"Gym1"};
    struct person c;
    central(&c, "Gym1", schools, 1);
    struct dir_entry *ce = central_entry();
    struct view v;
    view_compute(&acfg_nord, nord, &c, ce, true, &v);
    struct dir_entry *e = found_from_view(&v, NULL);
    /* A hand change: sn edited, shadowExpire added. */
    for (size_t i = 0; i < e->n_attrs; i++) {
        if (strcmp(e->attrs[i].name, "sn") == 0) {
            free(e->attrs[i].values[0]);
            e->attrs[i].values[0] = xstrdup("Wrong");
        }
    }
    struct dir_entry *e2;
    {
        struct kv kvs[40];
        size_t n = 0;
        for (size_t i = 0; i < e->n_attrs; i++) {
            memset(&kvs[n], 0, sizeof(kvs[n]));
            kvs[n].name = e->attrs[i].name;
            for (size_t k = 0; k < e->attrs[i].n && k < 4; k++)
                kvs[n].values[k] = e->attrs[i].values[k];
            n++;
        }
        memset(&kvs[n], 0, sizeof(kvs[n]));
        kvs[n].name = "shadowExpire";
        kvs[n++].values[0] = "1";
        kvs[n].name = NULL;
        e2 = entry(e->dn, kvs);
    }
    /* One group lost by hand (its DN only). */
    struct view_found f = {.entry = e2,
                           .groups_dn = v.groups + 1,
                           .n_groups_dn = v.n_groups - 1,
                           .groups_uid = v.groups,
                           .n_groups_uid = v.n_groups};
    struct view_diff d;
    view_diff(&acfg_nord, nord, &v, &f, &d);
    assert_int_equal(count_ops(&d, VIEW_OP_MODIFY), 1);
    assert_int_equal(count_ops(&d, VIEW_OP_GROUP), 1);
    const struct view_op *m = &d.ops[d.n_ops - 1];
    assert_int_equal(m->kind, VIEW_OP_MODIFY);
    assert_true(has_value(&m->attrs, "sn", "Alt"));
    assert_true(has_value(&m->attrs, "shadowExpire", "")); /* delete */
    assert_int_equal(m->n_changed, 2);
    view_diff_free(&d);
    dir_entry_free(e);
    dir_entry_free(e2);
    view_free(&v);
    person_free(&c);
    dir_entry_free(ce);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schools_primary_classes),
        cmocka_unit_test(test_case_insensitive_mapping),
        cmocka_unit_test(test_limbo_and_leaving),
        cmocka_unit_test(test_diff_create_then_nothing),
        cmocka_unit_test(test_diff_move_is_rename),
        cmocka_unit_test(test_diff_hand_change),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
