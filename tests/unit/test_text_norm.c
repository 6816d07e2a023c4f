/*
 * test_text_norm: trimming, control characters, printable record_uids and the umlaut rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text_norm.h"

static void test_trim(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"  a b  ", "a b"},
        {"\t\r\n a\v\f", "a"},
        {"\xc2\xa0x\xc2\xa0", "x"}, /* U+00A0 at both ends */
        {"\xc2\xa0\xc2\xa0", ""},   /* nothing but U+00A0 */
        {"x\xc3\xa0", "x\xc3\xa0"}, /* a trailing 0xA0 byte of "à" is no space */
        {"   ", ""},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        strcpy(buf, cases[i].in);
        assert_string_equal(text_norm_trim(buf), cases[i].out);
    }
}

static void test_controls_and_printable(void **state)
{
    (void)state;
    uint32_t cp = 0;
    assert_int_equal(text_norm_find_control("abc", &cp), -1);
    assert_int_equal(text_norm_find_control("ab\tc", &cp), 2);
    assert_int_equal(cp, '\t');
    assert_int_equal(text_norm_find_control("\xc3\xa4\x7f", &cp), 2);
    assert_int_equal(cp, 0x7F);
    assert_int_equal(text_norm_find_control("a\xc2\x9f", &cp), 1);
    assert_int_equal(cp, 0x9F);
    assert_int_equal(text_norm_find_control("\xc2\xa0", &cp), -1);

    assert_true(text_norm_is_printable("rid-1 \xc3\xbc"));
    assert_false(text_norm_is_printable(""));
    assert_false(text_norm_is_printable("a\x01"));
    assert_false(text_norm_is_printable("a\xe2\x80\x8b")); /* U+200B */
    assert_false(text_norm_is_printable("a\xef\xbb\xbf")); /* U+FEFF */
    assert_false(text_norm_is_printable("a\xe2\x80\xa8")); /* U+2028 */
    assert_false(text_norm_is_printable("a\xff"));         /* not UTF-8 */
}

static void test_utf8(void **state)
{
    (void)state;
    assert_int_equal(text_norm_utf8_length("a\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80"), 4);
    uint32_t cp;
    assert_int_equal(text_norm_utf8_next("\xe2\x82\xac", 3, &cp), 3);
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(text_norm_utf8_next("\xe2\x82", 2, &cp), 1); /* cut short */
    assert_int_equal(cp, 0xFFFD);
    assert_int_equal(text_norm_utf8_next("\xc0\xaf", 2, &cp), 1); /* overlong */
    assert_int_equal(cp, 0xFFFD);
}

static void test_fold(void **state)
{
    (void)state;
    assert_string_equal(text_norm_ascii_fold(0xE4), "ae");
    assert_string_equal(text_norm_ascii_fold(0xC4), "Ae");
    assert_string_equal(text_norm_ascii_fold(0xD6), "Oe");
    assert_string_equal(text_norm_ascii_fold(0xFC), "ue");
    assert_string_equal(text_norm_ascii_fold(0xDF), "ss");
    assert_string_equal(text_norm_ascii_fold(0x1E9E), "SS");
    assert_string_equal(text_norm_ascii_fold(0xE9), "e");
    assert_string_equal(text_norm_ascii_fold(0x141), "L");
    assert_string_equal(text_norm_ascii_fold(0x153), "oe");
    assert_string_equal(text_norm_ascii_fold(0x17E), "z");
    assert_string_equal(text_norm_ascii_fold(0x219), "s");
    assert_null(text_norm_ascii_fold('a'));
    assert_null(text_norm_ascii_fold(0xD7));  /* the multiplication sign is no letter */
    assert_null(text_norm_ascii_fold(0x3B1)); /* Greek alpha: not Latin */
}

static void test_class_part(void **state)
{
    (void)state;
    static const struct {
        const char *in, *replacement, *out;
    } cases[] = {
        {"Bohnenk\xc3\xa4mper", "-", "Bohnenkaemper"},
        {"\xc3\x84rger \xc3\x9f", "-", "Aerger ss"},
        {"Cr\xc3\xa8me Br\xc3\xbbl\xc3\xa9"
         "e",
         "-", "Creme Brulee"},
        {"5/a+b", "-", "5-a-b"},
        {"5/a+b", "", "5/a+b"},
        {"a.b_c -d", "-", "a.b_c -d"},
        {"\xce\xb1\xe2\x82\xac", "_", "__"}, /* one replacement per character, not per byte */
        {"\xce\xb1", "", "\xce\xb1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = text_norm_class_part(cases[i].in, cases[i].replacement);
        assert_string_equal(s, cases[i].out);
        free(s);
    }
}

/* The "umlauts" scheme command: the fold above, else the ASCII part of NFKD, else nothing. */
static void test_umlauts(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"Bohnenkämper", "Bohnenkaemper"},
        {"Straße GROẞ", "Strasse GROSS"},
        {"Łukasz Yıldız", "Lukasz Yildiz"}, /* the reference drops ł and ı */
        {"Nguyễn", "Nguyen"},               /* U+1EC5, through NFKD */
        {"Zoe\u0301", "Zoe"},               /* a combining mark goes */
        {"ﬁa Ａ", "fia A"},                 /* a ligature, a fullwidth letter */
        {"a\u00a0b²", "a b2"},              /* U+00A0, superscript two */
        {"Иван 3×4", " 34"},                /* Cyrillic, U+00D7 */
        {"plain ASCII <stays> [as] it is!", "plain ASCII <stays> [as] it is!"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = text_norm_umlauts(cases[i].in);
        assert_string_equal(s, cases[i].out);
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trim),       cmocka_unit_test(test_controls_and_printable),
        cmocka_unit_test(test_utf8),       cmocka_unit_test(test_fold),
        cmocka_unit_test(test_class_part), cmocka_unit_test(test_umlauts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
