/* Unit tests of dir_mods: the builder, merging, refusals, copies, and the array sent with the
 * Permissive Modify control (slapd 2.5 workaround). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <ldap.h>
#include <stdlib.h>
#include <string.h>

#include "dir_mods.h"

static void test_mods(void **state)
{
    (void)state;
    struct dir_mods *m = dir_mods_new();
    const char *classes[] = {"Gym1-5a", "Gym1-5b"};
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_ADD, "objectClass", "inetOrgPerson"), 0);
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_ADD, "uid", "max"), 0);
    /* A second ADD of the same attribute is merged (an add names each attribute once). */
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_ADD, "objectclass", "ucsschoolStudent"), 0);
    assert_int_equal(dir_mods_add(m, LDAP_MOD_REPLACE, "description", classes, 2), 0);
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_DELETE, "shadowExpire", NULL), 0);
    /* After a DELETE of the attribute, an ADD is a new change (order matters). */
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_DELETE, "memberUid", "old"), 0);
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_ADD, "memberUid", "new"), 0);
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_INCREMENT, "ucsschoolUsernameNextNumber", "1"), 0);
    assert_int_equal(dir_mods_count(m), 7);
    LDAPMod **a = dir_mods_array(m);
    assert_string_equal(a[0]->mod_type, "objectClass");
    assert_int_equal(a[0]->mod_op, LDAP_MOD_ADD | LDAP_MOD_BVALUES);
    assert_string_equal(a[0]->mod_bvalues[1]->bv_val, "ucsschoolStudent");
    assert_null(a[0]->mod_bvalues[2]);
    assert_int_equal(a[2]->mod_op, LDAP_MOD_REPLACE | LDAP_MOD_BVALUES);
    assert_int_equal(a[2]->mod_bvalues[1]->bv_len, 7);
    assert_null(a[3]->mod_bvalues); /* delete the whole attribute */
    assert_int_equal(a[5]->mod_op, LDAP_MOD_ADD | LDAP_MOD_BVALUES);
    assert_null(a[7]);
    /* Refused, m unchanged. */
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_ADD, "uid", NULL), -EINVAL);
    assert_int_equal(dir_mods_add1(m, 42, "uid", "x"), -EINVAL);
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_ADD, "u id", "x"), -EINVAL);
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_ADD, "", "x"), -EINVAL);
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_INCREMENT, "n", NULL), -EINVAL);
    assert_int_equal(dir_mods_add(m, LDAP_MOD_ADD, "cn", NULL, 1), -EINVAL);
    const char *with_null[] = {"a", NULL};
    assert_int_equal(dir_mods_add(m, LDAP_MOD_ADD, "cn", with_null, 2), -EINVAL);
    assert_int_equal(dir_mods_count(m), 7);
    /* Copies: the caller's buffer may change afterwards. */
    char buf[] = "first";
    assert_int_equal(dir_mods_add1(m, LDAP_MOD_ADD, "cn;lang-de", buf), 0);
    strcpy(buf, "other");
    assert_string_equal(dir_mods_array(m)[7]->mod_bvalues[0]->bv_val, "first");
    dir_mods_destroy(m);
    dir_mods_destroy(NULL);
}

static void test_permissive_array(void **state)
{
    (void)state;
    struct dir_mods *m = dir_mods_new();
    const char *gone[] = {"a", "b"};
    dir_mods_add(m, LDAP_MOD_DELETE, "memberUid", gone, 2);
    dir_mods_add1(m, LDAP_MOD_DELETE, "shadowExpire", NULL); /* whole attribute: unchanged */
    dir_mods_add1(m, LDAP_MOD_ADD, "memberUid", "c");
    dir_mods_add1(m, LDAP_MOD_DELETE, "uniqueMember", "uid=x,dc=org");
    LDAPMod **a = dir_mods_array_permissive(m);
    /* add memberUid a b; delete memberUid a b; delete shadowExpire; add memberUid c;
     * add uniqueMember; delete uniqueMember */
    int want_op[] = {LDAP_MOD_ADD, LDAP_MOD_DELETE, LDAP_MOD_DELETE,
                     LDAP_MOD_ADD, LDAP_MOD_ADD,    LDAP_MOD_DELETE};
    const char *want_type[] = {"memberUid", "memberUid",    "shadowExpire",
                               "memberUid", "uniqueMember", "uniqueMember"};
    for (int i = 0; i < 6; i++) {
        assert_non_null(a[i]);
        assert_int_equal(a[i]->mod_op, want_op[i] | LDAP_MOD_BVALUES);
        assert_string_equal(a[i]->mod_type, want_type[i]);
    }
    assert_null(a[6]);
    assert_ptr_equal(a[0]->mod_bvalues, a[1]->mod_bvalues); /* the same values, borrowed */
    assert_string_equal(a[0]->mod_bvalues[1]->bv_val, "b");
    free(a);
    /* Nothing to rewrite: the same changes. */
    struct dir_mods *plain = dir_mods_new();
    dir_mods_add1(plain, LDAP_MOD_REPLACE, "sn", "x");
    a = dir_mods_array_permissive(plain);
    assert_ptr_equal(a[0], dir_mods_array(plain)[0]);
    assert_null(a[1]);
    free(a);
    dir_mods_destroy(plain);
    dir_mods_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mods),
        cmocka_unit_test(test_permissive_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
