/* Unit tests of dir_schema: attributeTypes values as slapd shows them, and the check of
 * import.csv.mapping's LDAP attribute targets (file, line and key in the error). */
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
#include "dir_schema.h"

/* As cn=Subschema of slapd 2.5 shows them (one with aliases, one of our own schema). */
static const char *const types[] = {
    "( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'RFC4519: common name(s) for which the entity "
    "is known by' SUP name )",
    "( 2.5.4.20 NAME 'telephoneNumber' DESC 'RFC2256: Telephone Number' EQUALITY "
    "telephoneNumberMatch SUBSTR telephoneNumberSubstringsMatch SYNTAX "
    "1.3.6.1.4.1.1466.115.121.1.50{32} )",
    "( 2.5.4.13 NAME 'description' DESC 'RFC4519: descriptive information' EQUALITY "
    "caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{1024} "
    ")",
    "not a description at all",
};

static struct dir_schema *std_schema(void)
{
    return dir_schema_from_values(types, sizeof(types) / sizeof(types[0]), "cn=Subschema");
}

static void test_names_and_oids(void **state)
{
    (void)state;
    struct dir_schema *s = std_schema();
    assert_int_equal(dir_schema_attribute_count(s), 3);
    assert_int_equal(dir_schema_skipped(s), 1);
    assert_true(dir_schema_has_attribute(s, "telephoneNumber"));
    assert_true(dir_schema_has_attribute(s, "TELEPHONENUMBER")); /* descriptors ignore case */
    assert_true(dir_schema_has_attribute(s, "commonName"));      /* every NAME counts */
    assert_true(dir_schema_has_attribute(s, "cn"));
    assert_true(dir_schema_has_attribute(s, "2.5.4.13"));
    assert_false(dir_schema_has_attribute(s, "klass"));
    assert_false(dir_schema_has_attribute(s, "telephone"));
    assert_false(dir_schema_has_attribute(s, ""));
    assert_false(dir_schema_has_attribute(s, NULL));
    dir_schema_free(s);
    dir_schema_free(NULL);
}

static void test_check_mapping(void **state)
{
    (void)state;
    char dir[] = "/tmp/sisopi-test-dir-schema-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/sisopi.cfg", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("import: {\n"
          "  csv: {\n"
          "    mapping = (\n"
          "      [ \"ID\", \"record_uid\" ],\n"
          "      [ \"Telefon\", \"TelephoneNumber\", \";\" ],\n"
          "      [ \"Notiz\", \"description\" ],\n"
          "      [ \"Klasse\", \"klass\" ]\n"
          "    );\n"
          "  };\n"
          "};\n",
          f);
    fclose(f);
    struct config cfg;
    char err[1024] = "";
    if (config_load(&cfg, path, NULL, err, sizeof(err)) != 0)
        fail_msg("%s", err); /* "klass" looks like an attribute name: only the schema knows */
    struct dir_schema *s = std_schema();
    assert_int_equal(dir_schema_check_mapping(s, &cfg, err, sizeof(err)), -1);
    char want[512];
    snprintf(want, sizeof(want),
             "%s:7: import.csv.mapping[4]: column \"Klasse\": \"klass\" is not an attribute "
             "type the directory knows (cn=Subschema)",
             path);
    if (!strstr(err, want))
        fail_msg("got: %s\nwanted: %s", err, want);
    /* Without the misspelt entry the mapping passes. */
    cfg.import.csv.n_mapping = 3;
    err[0] = '\0';
    assert_int_equal(dir_schema_check_mapping(s, &cfg, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    cfg.import.csv.n_mapping = 4;
    dir_schema_free(s);
    config_free(&cfg);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_oids),
        cmocka_unit_test(test_check_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
