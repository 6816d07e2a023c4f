/*
 * test_import_group_entry: the names `sisopi-admin import-group create` takes and the DN it
 * writes: DN specials escaped so that the DN parses back to the very name, the rest refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dir_escape.h"
#include "import_group_entry.h"

static int check(const char *name)
{
    char err[256] = "";
    int rc = import_group_name_check(name, err, sizeof(err));
    if (rc < 0)
        assert_non_null(strstr(err, "not an import group name"));
    return rc;
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(0, check("import-gym1"));
    assert_int_equal(0, check("Büro, Gym1+S2 (*) \\ \"x\""));
    assert_int_equal(0, check("#1 = <a>;b"));
    char max[IMPORT_GROUP_NAME_MAX + 2];
    memset(max, 'a', IMPORT_GROUP_NAME_MAX);
    max[IMPORT_GROUP_NAME_MAX] = '\0';
    assert_int_equal(0, check(max));
    max[IMPORT_GROUP_NAME_MAX] = 'a';
    max[IMPORT_GROUP_NAME_MAX + 1] = '\0';
    assert_int_equal(-1, check(max));
    assert_int_equal(-1, check(""));
    assert_int_equal(-1, check(" lead"));
    assert_int_equal(-1, check("trail "));
    assert_int_equal(-1, check("tab\there"));
    assert_int_equal(-1, check("new\nline"));
    assert_int_equal(-1, check("del\x7f"));
}

static void test_dn(void **state)
{
    (void)state;
    const char *ou = "ou=Gym1,dc=example,dc=org";
    char *dn = import_group_dn("import-gym1", ou);
    assert_string_equal("cn=import-gym1,ou=Gym1,dc=example,dc=org", dn);
    free(dn);
    /* Specials stay inside the RDN: the DN names the same entry as slapd's hex spelling. */
    dn = import_group_dn("a, b+c=d \"e\" \\f", ou);
    assert_string_equal("cn=a\\, b\\+c\\=d \\\"e\\\" \\\\f,ou=Gym1,dc=example,dc=org", dn);
    assert_true(dir_dn_equal(dn, "cn=a\\2C b\\2Bc\\3Dd \\22e\\22 \\5Cf,ou=Gym1,dc=example,dc=org"));
    assert_false(dir_dn_equal(dn, "cn=a,cn=b+c=d,ou=Gym1,dc=example,dc=org"));
    free(dn);
    dn = import_group_dn("#1", ou);
    assert_string_equal("cn=\\#1,ou=Gym1,dc=example,dc=org", dn);
    free(dn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_dn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
