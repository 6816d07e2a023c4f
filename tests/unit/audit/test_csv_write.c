/*
 * test_csv_write: rows come out byte for byte as Python's csv excel dialect with QUOTE_ALL
 * writes them, and cells a spreadsheet would run as formulas are defused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "csv_write.h"

static void expect_row(const char *const *fields, size_t n, const char *want)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(csv_write_row(f, fields, n), 0);
    fclose(f);
    assert_string_equal(buf, want);
    free(buf);
}

/* Every field quoted, "" for a quote, CRLF; separators and line breaks stay inside quotes.
 * (Python: csv.writer(f, dialect="excel", quoting=csv.QUOTE_ALL).writerow(...)) */
static void test_excel_dialect(void **state)
{
    (void)state;
    const char *plain[] = {"line", "success", ""};
    expect_row(plain, 3, "\"line\",\"success\",\"\"\r\n");
    const char *tricky[] = {"a,b", "say \"hi\"", "two\nlines", "x\r\ny", "Zoë"};
    expect_row(tricky, 5, "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"x\r\ny\",\"Zoë\"\r\n");
    const char *nulls[] = {NULL, "1"};
    expect_row(nulls, 2, "\"\",\"1\"\r\n");
    expect_row(NULL, 0, "\r\n");
}

/* OWASP's list: = + - @ TAB CR at the start get a leading apostrophe; elsewhere they are
 * harmless and stay. */
static void test_formula_guard(void **state)
{
    (void)state;
    const char *cells[] = {"=1+1", "+49 30", "-5", "@SUM(A1)", "\tx", "\rx", "a=b", "'quoted"};
    expect_row(cells, 8,
               "\"'=1+1\",\"'+49 30\",\"'-5\",\"'@SUM(A1)\",\"'\tx\",\"'\rx\",\"a=b\","
               "\"'quoted\"\r\n");
    const char *with_quote[] = {"=HYPERLINK(\"http://x\")"};
    expect_row(with_quote, 1, "\"'=HYPERLINK(\"\"http://x\"\")\"\r\n");
    assert_true(csv_write_needs_guard("=x"));
    assert_false(csv_write_needs_guard(""));
    assert_false(csv_write_needs_guard(NULL));
    assert_false(csv_write_needs_guard(" =x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_excel_dialect),
        cmocka_unit_test(test_formula_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
