/*
 * test_strmap: the hash map keeps 100,000 persons, finds record_uids whatever their
 * case, and import_ids only as written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strmap.h"

static void count_cb(const char *key, void *value, void *opaque)
{
    (void)key;
    *(size_t *)opaque += (size_t)(uintptr_t)value;
}

static void test_many_persons(void **state)
{
    (void)state;
    struct strmap *m = strmap_new(true);
    char key[32];
    for (uintptr_t i = 1; i <= 100000; i++) {
        snprintf(key, sizeof(key), "Rec-%lu", (unsigned long)i);
        bool created;
        void **slot = strmap_slot(m, key, &created);
        assert_true(created);
        *slot = (void *)i;
    }
    assert_int_equal(strmap_count(m), 100000);
    for (uintptr_t i = 1; i <= 100000; i += 997) {
        snprintf(key, sizeof(key), "REC-%lu", (unsigned long)i); /* another case */
        assert_ptr_equal(strmap_get(m, key), (void *)i);
    }
    bool created = true;
    strmap_slot(m, "rec-5", &created);
    assert_false(created);
    assert_null(strmap_get(m, "Rec-0"));
    size_t sum = 0, n;
    strmap_each(m, count_cb, &sum);
    assert_int_equal(sum, (size_t)100000 * 100001 / 2);
    void **v = strmap_values(m, &n);
    assert_int_equal(n, 100000);
    free(v);
    strmap_free(m, NULL);
}

static void test_case_sensitive(void **state)
{
    (void)state;
    struct strmap *m = strmap_new(false);
    *strmap_slot(m, "Abc", NULL) = strdup("x");
    assert_null(strmap_get(m, "abc"));
    assert_string_equal(strmap_get(m, "Abc"), "x");
    strmap_free(m, free);
    strmap_free(NULL, free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_persons),
        cmocka_unit_test(test_case_sensitive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
