/* Unit tests of import_id: UUIDv7 layout, time order, uniqueness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "import_id.h"

static void test_layout(void **state)
{
    (void)state;
    char id[IMPORT_ID_LEN + 1];
    assert_int_equal(import_id_new(id, 0x0123456789abLL), 0);
    assert_int_equal(strlen(id), IMPORT_ID_LEN);
    assert_true(import_id_valid(id));
    assert_memory_equal(id, "01234567-89ab-7", 15); /* time prefix, then version 7 */
    assert_non_null(strchr("89ab", id[19]));        /* RFC 9562 variant */
}

static void test_sorts_by_time_and_differs(void **state)
{
    (void)state;
    char a[IMPORT_ID_LEN + 1], b[IMPORT_ID_LEN + 1], c[IMPORT_ID_LEN + 1];
    assert_int_equal(import_id_new(a, 1700000000000LL), 0);
    assert_int_equal(import_id_new(b, 1700000000001LL), 0);
    assert_int_equal(import_id_new(c, 1700000000001LL), 0);
    assert_true(strcmp(a, b) < 0);
    assert_string_not_equal(b, c);
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(import_id_valid("0192f0e4-6b2a-7c3d-8e4f-0123456789ab"));
    assert_false(import_id_valid("0192F0E4-6B2A-7C3D-8E4F-0123456789AB"));
    assert_false(import_id_valid("0192f0e4-6b2a-7c3d-8e4f-0123456789a"));
    assert_false(import_id_valid("0192f0e4x6b2a-7c3d-8e4f-0123456789ab"));
    assert_false(import_id_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_sorts_by_time_and_differs),
        cmocka_unit_test(test_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
