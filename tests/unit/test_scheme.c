/*
 * test_scheme: UCS@school's value templates. Expected values marked "ref" were computed with a
 * Python 3 port of the reference's univention.admin.pattern_replace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheme.h"
#include "unicode_data.h"

/* name=value pairs, NULL-terminated. */
static const char *lookup_pairs(const char *name, void *opaque)
{
    const char *const *kv = opaque;
    for (; kv && kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

/* Expands scheme over pairs; fails the test on an error. Returns the malloc'd text. */
static char *expand(const char *scheme, unsigned flags, const char *const *pairs)
{
    struct scheme_result r;
    char err[256] = "";
    int rc = scheme_expand(scheme, flags, lookup_pairs, (void *)pairs, &r, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s: %s", scheme, err);
    assert_int_equal(r.counter, SCHEME_COUNTER_NONE);
    return r.text;
}

#define ASSERT_EXPANDS(scheme, flags, pairs, want)                                                 \
    do {                                                                                           \
        char *got_ = expand(scheme, flags, pairs);                                                 \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

/* Expands and expects an error that contains `part`. */
static void assert_fails(const char *scheme, const char *const *pairs, const char *part)
{
    struct scheme_result r = {0};
    char err[256] = "";
    int rc = scheme_expand(scheme, 0, lookup_pairs, (void *)pairs, &r, err, sizeof(err));
    if (rc != -1)
        fail_msg("%s: expanded to \"%s\", wanted an error with \"%s\"", scheme, r.text, part);
    if (!strstr(err, part))
        fail_msg("%s: error \"%s\" lacks \"%s\"", scheme, err, part);
    assert_null(r.text);
}

static const char *const ingward[] = {"firstname", "Ingward", "lastname", "Bohnenkämper",
                                      "empty",     "",        NULL};

static void test_values(void **state)
{
    (void)state;
    ASSERT_EXPANDS("<firstname>[0].<lastname>", 0, ingward, "I.Bohnenkämper");
    ASSERT_EXPANDS("<firstname>[0].<lastname>", SCHEME_IMPLICIT_UMLAUTS, ingward,
                   "I.Bohnenkaemper");
    ASSERT_EXPANDS("x<missing>y<empty>z", 0, ingward, "xyz");
    ASSERT_EXPANDS("<missing>[3]<empty>[0]<empty>[-9:]", 0, ingward, ""); /* ref: no error */
    ASSERT_EXPANDS("", 0, ingward, "");
    ASSERT_EXPANDS("plain text, äöü & 1+1=2", 0, ingward, "plain text, äöü & 1+1=2");
    /* The reference splits key and commands at the last ':'. */
    static const char *const colon[] = {"a:b", "v", NULL};
    ASSERT_EXPANDS("<a:b:upper>", 0, colon, "V");
}

static void test_subscripts(void **state)
{
    (void)state;
    static const char *const v[] = {"n", "Bohnenkämper", "u", "Ängelika", NULL};
    ASSERT_EXPANDS("<n>[0]", 0, v, "B");
    ASSERT_EXPANDS("<n>[-1]", 0, v, "r");
    ASSERT_EXPANDS("<n>[6]", 0, v, "k");
    ASSERT_EXPANDS("<n>[7]", 0, v, "ä"); /* a character, not a byte */
    ASSERT_EXPANDS("<u>[0]", 0, v, "Ä");
    ASSERT_EXPANDS("<n>[0:5]", 0, v, "Bohne");
    ASSERT_EXPANDS("<n>[:3]", 0, v, "Boh");
    ASSERT_EXPANDS("<n>[8:]", 0, v, "mper");
    ASSERT_EXPANDS("<n>[-4:]", 0, v, "mper");
    ASSERT_EXPANDS("<n>[:-4]", 0, v, "Bohnenkä");
    ASSERT_EXPANDS("<n>[-100:2]", 0, v, "Bo");
    ASSERT_EXPANDS("<n>[5:2]", 0, v, "");
    ASSERT_EXPANDS("<n>[10:20]", 0, v, "er");
    ASSERT_EXPANDS("<n>[50:]", 0, v, "");
    ASSERT_EXPANDS("<n>[:]", 0, v, "Bohnenkämper");
    ASSERT_EXPANDS("<n>[0]<n>[1]<u>[-2:]", 0, v, "Boka");
    /* Commands first, then the subscript (ref: "Ägidius" -> "Aegidius"[0:2]). */
    static const char *const a[] = {"f", "Ägidius", NULL};
    ASSERT_EXPANDS("<f:umlauts>[0:2]", 0, a, "Ae");
    ASSERT_EXPANDS("<f:upper,umlauts>[1]", 0, a, "e"); /* "ÄGIDIUS" -> "AeGIDIUS" */
    /* Python raises IndexError there, which fails the reference's row too. */
    assert_fails("<n>[12]", v, "at character 1: index 12 is out of range: n has 12 characters");
    assert_fails("x<n>[-13]", v, "at character 2: index -13 is out of range");
    static const char *const dash[] = {"n", "--", NULL};
    assert_fails("<n:alphanum>[0]", dash, "index 0 is out of range: n has 0 characters");
}

static void test_value_commands(void **state)
{
    (void)state;
    static const char *const v[] = {"s",  "Straße",          "a", "  O'Brien-Smith Jr.  ",
                                    "t",  "İlkay Şahin",     "g", "ΣΊΣΥΦΟΣ",
                                    "vn", "Nguyễn Thị Minh", NULL};
    ASSERT_EXPANDS("<s:upper>", 0, v, "STRASSE");
    ASSERT_EXPANDS("<s:lower>", 0, v, "straße");
    ASSERT_EXPANDS("<s:umlauts>", 0, v, "Strasse");
    ASSERT_EXPANDS("<s:upper,umlauts>", 0, v, "STRASSE");
    ASSERT_EXPANDS("<a:alphanum>", 0, v, "OBrienSmithJr");
    ASSERT_EXPANDS("<a:trim>|", 0, v, "O'Brien-Smith Jr.|");
    ASSERT_EXPANDS("<a: Strip >|", 0, v, "O'Brien-Smith Jr.|");
    ASSERT_EXPANDS("<a:TRIM,Upper,alphanum>", 0, v, "OBRIENSMITHJR");
    ASSERT_EXPANDS("<t:lower>", 0, v, "i̇lkay şahin"); /* ref: U+0130 lowers to i + U+0307 */
    ASSERT_EXPANDS("<t:lower,umlauts>", 0, v, "ilkay sahin");
    ASSERT_EXPANDS("<t:alphanum>", 0, v, "İlkayŞahin"); /* letters of any script stay */
    ASSERT_EXPANDS("<g:lower>", 0, v, "σίσυφοσ");       /* no final-sigma rule */
    ASSERT_EXPANDS("<g:umlauts>", 0, v, "");            /* Greek has no ASCII */
    ASSERT_EXPANDS("<vn:umlauts>", 0, v, "Nguyen Thi Minh");
    ASSERT_EXPANDS("<a:upper,lower>", 0, v, "  o'brien-smith jr.  ");
}

static void test_global_commands(void **state)
{
    (void)state;
    static const char *const v[] = {"f", "Jörg", "l", "Müller-Weiß", NULL};
    ASSERT_EXPANDS("<:lower><f>.<l>", 0, v, "jörg.müller-weiß");
    ASSERT_EXPANDS("<f>.<l><:lower>", 0, v, "jörg.müller-weiß"); /* anywhere, applied last */
    ASSERT_EXPANDS("<:umlauts,lower><f>.<l>", 0, v, "joerg.mueller-weiss");
    ASSERT_EXPANDS("<:lower><f>.<l>", SCHEME_IMPLICIT_UMLAUTS, v, "joerg.mueller-weiss");
    /* In order of appearance: the implicit umlauts first, then the scheme's own. */
    ASSERT_EXPANDS("<:upper><f><:alphanum>.<l>", SCHEME_IMPLICIT_UMLAUTS, v, "JOERGMUELLERWEISS");
    ASSERT_EXPANDS("<:trim>  <f>  ", 0, v, "Jörg");
    /* Per-value commands run before the global ones. */
    ASSERT_EXPANDS("<:umlauts><f:upper>", 0, v, "JOeRG");
}

static void test_counters(void **state)
{
    (void)state;
    static const char *const v[] = {"f", "Jörg", "l", "Müller", "x", "[COUNTER2]", NULL};
    static const struct {
        const char *scheme;
        unsigned flags;
        const char *text;
        enum scheme_counter counter;
        size_t at;
    } cases[] = {
        {"<f>.<l>[COUNTER2]", 0, "Jörg.Müller", SCHEME_COUNTER_COUNTER2, 13},
        {"<f>.<l>[COUNTER2]", SCHEME_IMPLICIT_UMLAUTS, "Joerg.Mueller", SCHEME_COUNTER_COUNTER2,
         13},
        {"[ALWAYSCOUNTER]<f>", 0, "Jörg", SCHEME_COUNTER_ALWAYS, 0},
        {"<f>[alwayscounter].<l>", SCHEME_IMPLICIT_UMLAUTS, "Joerg.Mueller", SCHEME_COUNTER_ALWAYS,
         5},
        {"<f>[0][Counter2]<l>", 0, "JMüller", SCHEME_COUNTER_COUNTER2, 1},
        /* The counter stays where it was while global commands change the text around it. */
        {"<:upper>ä[COUNTER2]ß", 0, "ÄSS", SCHEME_COUNTER_COUNTER2, 2},
        {"<:alphanum><f>-[COUNTER2]-<l>", 0, "JörgMüller", SCHEME_COUNTER_COUNTER2, 5},
        {"<:trim>  [COUNTER2]  <f>  ", 0, "Jörg", SCHEME_COUNTER_COUNTER2, 0},
        {"<:trim><f>  [COUNTER2]  ", 0, "Jörg", SCHEME_COUNTER_COUNTER2, 5},
        /* A value is never a counter (the reference would find one in it). */
        {"<x>", 0, "[COUNTER2]", SCHEME_COUNTER_NONE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct scheme_result r;
        char err[256] = "";
        assert_int_equal(scheme_expand(cases[i].scheme, cases[i].flags, lookup_pairs, (void *)v, &r,
                                       err, sizeof(err)),
                         0);
        assert_string_equal(r.text, cases[i].text);
        assert_int_equal(r.counter, cases[i].counter);
        assert_int_equal(r.counter_at, cases[i].at);
        scheme_result_free(&r);
    }
}

static void test_result_apply(void **state)
{
    (void)state;
    /* The e-mail handler lower-cases the whole expansion, counter included. */
    struct scheme_result r = {
        .text = strdup("İ.MÜLLER@Example.ORG"), .counter = SCHEME_COUNTER_ALWAYS, .counter_at = 10};
    scheme_result_apply(&r, SCHEME_CMD_LOWER);
    assert_string_equal(r.text, "i̇.müller@example.org");
    assert_int_equal(r.counter_at, 11); /* "i̇" is one byte longer than "İ" */
    scheme_result_free(&r);
    assert_null(r.text);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    static const struct {
        const char *scheme, *error;
    } cases[] = {
        {"<firstname", "at character 1: \"<\" without \">\""},
        {"firstname>", "at character 10: \">\" without \"<\""},
        {"<first<name>", "at character 7: \"<\" inside <...>"},
        {"<a[0]>", "at character 3: \"[\" inside <...>"},
        {"<>", "at character 1: empty <>"},
        {"<a>[x]", "at character 4: \"[x]\" is none of [n], [a:b], [ALWAYSCOUNTER], [COUNTER2]"},
        {"<a>[0", "at character 4: \"[\" without \"]\""},
        {"<a>[[0]]", "at character 4: \"[\" without \"]\""},
        {"a]", "at character 2: \"]\" without \"[\""},
        {"[0]<a>", "at character 1: [n] and [a:b] must follow an <attribute>"},
        {"<a>[0][1]", "at character 7: [n] and [a:b] must follow an <attribute>"},
        {"<a>[COUNTER2][0]", "at character 14: [n] and [a:b] must follow"},
        {"<a>[COUNTER2]<b>[ALWAYSCOUNTER]", "at character 17: a second counter"},
        {"<a:lowr>", "at character 4: unknown command \"lowr\""},
        {"<a:lower,>", "at character 10: empty command"},
        {"<a:>", "at character 4: empty command"},
        {"<:lower>[0]", "at character 9: a subscript after <:...> has nothing to select from"},
        {"<a>[0:1:2]", "is none of"},
        {"<a>[1234567890]", "is none of"},
        {"<a>[-]", "is none of"},
        {"<a>[ 1]", "is none of"},
        {"äöü>", "at character 4: \">\" without \"<\""}, /* characters, not bytes */
        {"[COUNTER3]", "\"[COUNTER3]\" is none of"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        assert_fails(cases[i].scheme, NULL, cases[i].error);
        assert_int_equal(scheme_check(cases[i].scheme, err, sizeof(err)), -1);
        if (!strstr(err, cases[i].error))
            fail_msg("scheme_check(%s): \"%s\"", cases[i].scheme, err);
    }
}

static void test_check_accepts(void **state)
{
    (void)state;
    static const char *const good[] = {
        "<:umlauts><firstname>[0].<lastname>[COUNTER2]", /* the manual's defaults */
        "<firstname>[0].<lastname>@<maildomain>",
        "<email>",
        "<firstname:lower>.<lastname:lower>[ALWAYSCOUNTER]",
        "<:trim,lower><firstname>[-3:] <lastname>[:-1]x",
        "[counter2]<lastname>",
        "no tags at all",
        "",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char err[256] = "";
        if (scheme_check(good[i], err, sizeof(err)) != 0)
            fail_msg("%s: %s", good[i], err);
    }
}

static void test_references(void **state)
{
    (void)state;
    assert_true(scheme_references("<username>@<maildomain>", "username"));
    assert_true(scheme_references("<:lower><username:upper>[0:3]", "username"));
    assert_false(scheme_references("<firstname>.<lastname>", "username"));
    assert_false(scheme_references("<:username>", "username")); /* commands, no attribute */
    assert_false(scheme_references("<username", "username"));   /* not a valid scheme */
}

static void test_unicode_data(void **state)
{
    (void)state;
    /* Spot checks; scripts/gen_unicode_data.py was checked against Python for every code point. */
    char b[UNICODE_CASE_MAX], n[UNICODE_NFKD_ASCII_MAX];
    assert_string_equal(unicode_data_version(), "14.0.0");
    assert_int_equal(unicode_upper(0xDF, b), 2);
    assert_memory_equal(b, "SS", 2);
    assert_int_equal(unicode_lower(0xC4, b), 2);
    assert_memory_equal(b, "\xc3\xa4", 2);
    assert_int_equal(unicode_upper(0x1E9E, b), 3); /* capital sharp s stays */
    assert_int_equal(unicode_lower(0x1E9E, b), 2); /* and lowers to U+00DF */
    assert_memory_equal(b, "\xc3\x9f", 2);
    assert_true(unicode_is_alnum(0xE9));
    assert_true(unicode_is_alnum(0xB2)); /* superscript two is numeric */
    assert_false(unicode_is_alnum(0x2019));
    assert_false(unicode_is_alnum(0x301)); /* combining acute */
    assert_true(unicode_is_space(0xA0));
    assert_true(unicode_is_space(0x1C));
    assert_false(unicode_is_space(0x200B)); /* zero width space is no space for Python */
    assert_int_equal(unicode_nfkd_ascii(0x1EBF, n), 1);
    assert_memory_equal(n, "e", 1);
    assert_int_equal(unicode_nfkd_ascii(0xFB01, n), 2);
    assert_memory_equal(n, "fi", 2);
    assert_int_equal(unicode_nfkd_ascii(0xFF21, n), 1); /* fullwidth A */
    assert_memory_equal(n, "A", 1);
    assert_int_equal(unicode_nfkd_ascii(0x142, n), 0); /* ł has no decomposition */
    assert_int_equal(unicode_nfkd_ascii(0x410, n), 0);
    assert_int_equal(unicode_nfkd_ascii(0x110000, n), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),         cmocka_unit_test(test_subscripts),
        cmocka_unit_test(test_value_commands), cmocka_unit_test(test_global_commands),
        cmocka_unit_test(test_counters),       cmocka_unit_test(test_result_apply),
        cmocka_unit_test(test_syntax_errors),  cmocka_unit_test(test_check_accepts),
        cmocka_unit_test(test_references),     cmocka_unit_test(test_unicode_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
