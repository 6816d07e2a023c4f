/*
 * test_audit_text: the audit's text helpers print times and lists one way, count widths in
 * characters, and never let a control character reach a terminal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit_text.h"

static void test_text(void **state)
{
    (void)state;
    char t[AUDIT_TIME_SIZE];
    audit_text_time_ms(1735725302123, t);
    assert_string_equal(t, "2025-01-01T09:55:02.123Z");
    audit_text_time_ms(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
    audit_text_time_ms(-1, t);
    assert_string_equal(t, "1969-12-31T23:59:59.999Z");
    audit_text_time_s(1735725302999, t);
    assert_string_equal(t, "2025-01-01T09:55:02Z");
    char *v[] = {"a", "bc", "d"};
    char *s = audit_text_join(v, 3, ", ");
    assert_string_equal(s, "a, bc, d");
    free(s);
    s = audit_text_join(NULL, 0, ",");
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(audit_text_width("Zoë"), 3);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    audit_text_put(f, "a\x1b[31mb", 0);
    audit_text_put(f, "ö", 3);
    audit_text_put(f, NULL, 1);
    fclose(f);
    assert_string_equal(buf, "a?[31mbö   ");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
