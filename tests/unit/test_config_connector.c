/* Unit tests of the connector section of the config: authorities, the school mapping (without
 * case, one school to several authorities), per-role attributes, leave, and errors that name
 * file, line and key. */
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

static char tmpdir[] = "/tmp/sisopi-test-config-connector-XXXXXX";

static char *write_file(const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/c.cfg", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void expect_error(const char *text, const char *want)
{
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE] = "";
    int rc = config_load(&cfg, write_file(text), NULL, err, sizeof(err));
    if (rc == 0 || !strstr(err, want))
        fail_msg("config \"%s\": rc %d, error \"%s\", wanted \"%s\"", text, rc, err, want);
    config_free(&cfg);
}

static const char full[] =
    "connector = {\n"
    "  group_prefix = \"conn-\";\n"
    "  dead_letter_topic = \"x.dlq\";\n"
    "  metrics = \"127.0.0.1:9999\";\n"
    "  authorities = (\n"
    "    { name = \"nord\"; uri = \"ldap://127.0.0.1:1389/\"; base = \"dc=nord\";\n"
    "      bind_dn = \"cn=admin,dc=nord\"; password_file = \"/x/nord.secret\";\n"
    "      leave = \"limbo\"; passwords = true;\n"
    "      attributes = { student = [ \"givenName\" ]; teacher = [ \"mail\", \"sn2\" ]; }; },\n"
    "    { name = \"sued\"; uri = \"ldaps://sued.example/\"; base = \"dc=sued\";\n"
    "      limbo_ou = \"papierkorb\"; starttls = true; ca_file = \"/x/ca.pem\"; }\n"
    "  );\n"
    "  school_to_authority = ( [ \"Gym1\", \"nord\" ], [ \"gs2\", \"nord\", \"sued\" ] );\n"
    "};\n";

static void test_full_section(void **state)
{
    (void)state;
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE] = "";
    int rc = config_load(&cfg, write_file(full), NULL, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    const struct connector_config *cc = &cfg.connector;
    assert_string_equal(cc->group_prefix, "conn-");
    assert_string_equal(cc->topic_dlq, "x.dlq");
    assert_int_equal(cc->n_authorities, 2);
    const struct connector_authority *n = config_connector_authority(&cfg, "nord");
    const struct connector_authority *s = config_connector_authority(&cfg, "sued");
    assert_non_null(n);
    assert_non_null(s);
    assert_null(config_connector_authority(&cfg, "west"));
    assert_true(n->leave_limbo);
    assert_true(n->passwords);
    assert_false(s->leave_limbo);
    assert_false(s->passwords);
    assert_string_equal(n->limbo_ou, "limbo"); /* import.limbo_ou */
    assert_string_equal(s->limbo_ou, "papierkorb");
    assert_true(s->starttls);
    assert_string_equal(s->ca_file, "/x/ca.pem");
    assert_int_equal(n->n_attributes[ROLE_STUDENT], 1);
    assert_string_equal(n->attributes[ROLE_STUDENT][0], "givenName");
    assert_int_equal(n->n_attributes[ROLE_TEACHER], 2);
    /* A role without a list gets the default one. */
    assert_int_equal(n->n_attributes[ROLE_STAFF], 4);
    assert_string_equal(n->attributes[ROLE_STAFF][2], "mail");
    /* Schools compare without case; one school may belong to several authorities. */
    assert_true(config_connector_school_of(&cfg, "GYM1", "nord"));
    assert_true(config_connector_school_of(&cfg, "gym1", "nord"));
    assert_false(config_connector_school_of(&cfg, "gym1", "sued"));
    assert_true(config_connector_school_of(&cfg, "GS2", "nord"));
    assert_true(config_connector_school_of(&cfg, "gs2", "sued"));
    assert_false(config_connector_school_of(&cfg, "other", "nord"));
    config_free(&cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE] = "";
    assert_int_equal(config_load(&cfg, write_file("output = { log_level = \"warn\"; };\n"), NULL,
                                 err, sizeof(err)),
                     0);
    assert_string_equal(cfg.connector.group_prefix, "sisopi-connector-");
    assert_string_equal(cfg.connector.topic_dlq, "sisopi.connector.dlq");
    assert_string_equal(cfg.connector.metrics, "127.0.0.1:9467");
    assert_int_equal(cfg.connector.n_authorities, 0);
    config_free(&cfg);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("connector = { colour = 1; };", "c.cfg:1: connector.colour: unknown setting");
    expect_error("connector = { authorities = ( { uri = \"ldap://x/\"; base = \"dc=x\"; } ); };",
                 "connector.authorities: an authority without name");
    expect_error("connector = { authorities = ( { name = \"a b\"; uri = \"ldap://x/\"; base = "
                 "\"dc=x\"; } ); };",
                 "connector.authorities.name: \"a b\" must be");
    expect_error("connector = { authorities = ( { name = \"a\"; uri = \"http://x/\"; base = "
                 "\"dc=x\"; } ); };",
                 "connector.authorities.uri");
    expect_error("connector = {\n authorities = ( { name = \"a\"; uri = \"ldap://x/\"; base = "
                 "\"dc=x\";\n leave = \"keep\"; } ); };",
                 "c.cfg:3: connector.authorities.leave: \"keep\" is neither");
    expect_error("connector = { authorities = ( { name = \"a\"; uri = \"ldap://x/\"; base = "
                 "\"dc=x\"; bind_dn = \"cn=x\"; } ); };",
                 "bind_dn and password_file go together");
    expect_error("connector = { authorities = ( { name = \"a\"; uri = \"ldap://x/\"; base = "
                 "\"dc=x\"; attributes = { student = [ \"userPassword\" ]; }; } ); };",
                 "passwords = true");
    expect_error("connector = { authorities = ( { name = \"a\"; uri = \"ldap://x/\"; base = "
                 "\"dc=x\"; attributes = { pupil = [ \"mail\" ]; }; } ); };",
                 "attributes.pupil: unknown setting");
    expect_error("connector = { authorities = ( { name = \"a\"; uri = \"ldap://x/\"; base = "
                 "\"dc=x\"; }, { name = \"a\"; uri = \"ldap://y/\"; base = \"dc=y\"; } ); };",
                 "authority \"a\" is listed twice");
    expect_error("connector = { authorities = ( { name = \"a\"; uri = \"ldap://x/\"; base = "
                 "\"dc=x\"; } );\n school_to_authority = ( [ \"S1\", \"b\" ] ); };",
                 "c.cfg:2: connector.school_to_authority: school \"S1\": \"b\" is not in");
    expect_error("connector = { authorities = ( { name = \"a\"; uri = \"ldap://x/\"; base = "
                 "\"dc=x\"; } );\n school_to_authority = ( [ \"S1\", \"a\" ], [ \"s1\", \"a\" ] "
                 "); };",
                 "school \"s1\" is listed twice");
    expect_error("connector = { school_to_authority = ( [ \"S1\" ] ); };",
                 "element 1 must be [ \"school\", \"authority\", ... ]");
    expect_error("connector = { metrics = \"nowhere\"; };", "connector.metrics");
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/c.cfg", tmpdir);
    unlink(path);
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_section),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
