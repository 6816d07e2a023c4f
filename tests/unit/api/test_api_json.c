/*
 * test_api_json: the login body of POST /api/v1/token, read strictly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api_json.h"

static int login(const char *body, char *user, char *pass)
{
    return api_json_login(body, user, 64, pass, 64);
}

static void test_valid(void **state)
{
    (void)state;
    char u[64], p[64];
    assert_int_equal(login("{\"username\": \"anna\", \"password\": \"s3cr\\\"et\"}", u, p), 0);
    assert_string_equal(u, "anna");
    assert_string_equal(p, "s3cr\"et");
    assert_int_equal(
        login(" {\n\"password\":\"x\",\"other\":\"y\",\"username\":\"b\\u00e4r\"} \n", u, p), 0);
    assert_string_equal(u, "b\xc3\xa4r");
    assert_string_equal(p, "x");
    assert_int_equal(login("{\"username\": \"a\\/b\\\\c\\n\"}", u, p), 0);
    assert_string_equal(u, "a/b\\c\n");
    assert_string_equal(p, "");
    assert_int_equal(login("{\"username\": \"\\u20ac\"}", u, p), 0);
    assert_string_equal(u, "\xe2\x82\xac");
}

static void test_refused(void **state)
{
    (void)state;
    char u[64], p[64];
    const char *bad[] = {
        "",
        "[]",
        "{}",
        "{\"username\": 1}",
        "{\"username\": \"a\", \"password\": null}",
        "{\"username\": {\"x\": \"y\"}}",
        "{\"username\": \"a\"} trailing",
        "{\"username\": \"a\",}",
        "{\"username\" \"a\"}",
        "{\"username\": \"a",
        "{\"username\": \"a\\x\"}",
        "{\"username\": \"a\\u00\"}",
        "{\"username\": \"a\\u1",
        "{\"username\": \"a\\u0000b\"}",
        "{\"username\": \"tab\there\"}",
        "{\"username\": "
        "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (login(bad[i], u, p) == 0)
            fail_msg("accepted: %s", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
