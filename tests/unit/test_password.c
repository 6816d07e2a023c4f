/*
 * test_password: generated initial passwords follow the reference's rules, every time; the
 * {CRYPT} hash verifies with crypt_r.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <crypt.h>

#include "password.h"

#define ALLOWED_LOWER   "abcdefghjkmnpqrstuvwxyz"
#define ALLOWED_UPPER   "ABCDEFGHJKMNPQRSTUVWXYZ"
#define ALLOWED_DIGITS  "23456789"
#define ALLOWED_LETTERS ALLOWED_LOWER ALLOWED_UPPER

/* Checks one password of `length` against every rule; counts characters into seen[]. */
static void check_rules(const char *pw, int length, unsigned seen[256])
{
    size_t lower = 0, upper = 0, digit = 0, special = 0;
    assert_int_equal(strlen(pw), (size_t)length);
    if (!strchr(ALLOWED_LETTERS, pw[0]))
        fail_msg("\"%s\" does not start with a letter", pw);
    for (const char *c = pw; *c; c++) {
        seen[(unsigned char)*c]++;
        if (strchr(ALLOWED_LOWER, *c))
            lower++;
        else if (strchr(ALLOWED_UPPER, *c))
            upper++;
        else if (strchr(ALLOWED_DIGITS, *c))
            digit++;
        else if (strchr(PASSWORD_SPECIALS, *c))
            special++;
        else
            fail_msg("\"%s\" has a character outside the alphabet: '%c'", pw, *c);
    }
    if (!lower || !upper || !digit)
        fail_msg("\"%s\" lacks a lower-case letter, an upper-case letter or a digit", pw);
    if (special > (size_t)length / 5)
        fail_msg("\"%s\": %zu specials in %d characters", pw, special, length);
    if (length >= 5 && special == 0)
        fail_msg("\"%s\" has no special character", pw);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_ten_thousand(void **state)
{
    (void)state;
    enum { N = 10000, LEN = 15 };
    unsigned seen[256] = {0}, first[256] = {0};
    char **all = calloc(N, sizeof(*all));
    assert_non_null(all);
    for (int i = 0; i < N; i++) {
        char pw[LEN + 1], err[128];
        assert_int_equal(password_generate(LEN, pw, sizeof(pw), err, sizeof(err)), 0);
        check_rules(pw, LEN, seen);
        first[(unsigned char)pw[0]]++;
        all[i] = strdup(pw);
        explicit_bzero(pw, sizeof(pw));
    }
    /* Never i l o I L O 0 1; every allowed character shows up (about 2300 times each). */
    for (const char *c = "ilo"
                         "ILO"
                         "01";
         *c; c++)
        assert_int_equal(seen[(unsigned char)*c], 0);
    const char *alphabet = ALLOWED_LETTERS ALLOWED_DIGITS PASSWORD_SPECIALS;
    for (const char *c = alphabet; *c; c++)
        if (seen[(unsigned char)*c] < 200)
            fail_msg("'%c' came up %u times in %d passwords", *c, seen[(unsigned char)*c], N);
    for (const char *c = ALLOWED_LETTERS; *c; c++) /* the first letter: ~217 each */
        if (first[(unsigned char)*c] < 80)
            fail_msg("'%c' started %u of %d passwords", *c, first[(unsigned char)*c], N);
    qsort(all, N, sizeof(*all), cmp_str);
    for (int i = 0; i < N; i++) {
        if (i > 0 && strcmp(all[i - 1], all[i]) == 0)
            fail_msg("\"%s\" came up twice", all[i]);
    }
    for (int i = 0; i < N; i++)
        free(all[i]);
    free(all);
}

static void test_lengths(void **state)
{
    (void)state;
    unsigned seen[256] = {0};
    for (int len = PASSWORD_MIN_LENGTH; len <= 64; len++) {
        for (int k = 0; k < 200; k++) {
            char pw[65], err[128];
            assert_int_equal(password_generate(len, pw, sizeof(pw), err, sizeof(err)), 0);
            check_rules(pw, len, seen);
        }
    }
    char big[257], err[128];
    assert_int_equal(password_generate(256, big, sizeof(big), err, sizeof(err)), 0);
    check_rules(big, 256, seen);
}

static void test_errors(void **state)
{
    (void)state;
    char pw[32], err[128];
    assert_int_equal(password_generate(3, pw, sizeof(pw), err, sizeof(err)), -1);
    assert_string_equal(err, "password length 3 is not between 4 and 4096");
    assert_int_equal(password_generate(15, pw, 15, err, sizeof(err)), -1);
    assert_string_equal(err, "a password of 15 characters needs 16 bytes");
}

static void test_hash(void **state)
{
    (void)state;
    char pw[16], err[128];
    assert_int_equal(password_generate(15, pw, sizeof(pw), err, sizeof(err)), 0);
    char *h1 = password_hash(pw, err, sizeof(err)), *h2 = password_hash(pw, err, sizeof(err));
    assert_non_null(h1);
    assert_non_null(h2);
    assert_memory_equal(h1, "{CRYPT}$6$", 10);
    assert_string_not_equal(h1, h2); /* a fresh salt each time */
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    assert_non_null(cd);
    const char *again = crypt_r(pw, h1 + 7, cd);
    assert_non_null(again);
    assert_string_equal(again, h1 + 7);
    again = crypt_r("wrong", h1 + 7, cd);
    assert_string_not_equal(again, h1 + 7);
    /* Umlauts and a long passphrase hash too. */
    char *h3 = password_hash("Grüße, sehr lange Passphrase mit Umlauten äöü", err, sizeof(err));
    assert_non_null(h3);
    assert_string_equal(crypt_r("Grüße, sehr lange Passphrase mit Umlauten äöü", h3 + 7, cd),
                        h3 + 7);
    explicit_bzero(pw, sizeof(pw));
    free(cd);
    free(h1);
    free(h2);
    free(h3);
}

/* The value for an account nobody is told the password of: well-formed SHA-512 crypt that no
 * password matches, different every time. */
static void test_unknown(void **state)
{
    (void)state;
    static const char b64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char err[128];
    char *h1 = password_hash_unknown(err, sizeof(err)),
         *h2 = password_hash_unknown(err, sizeof(err));
    assert_non_null(h1);
    assert_non_null(h2);
    assert_string_not_equal(h1, h2);
    assert_int_equal(strlen(h1), strlen("{CRYPT}$6$") + 16 + 1 + 86);
    assert_memory_equal(h1, "{CRYPT}$6$", 10);
    assert_int_equal(h1[10 + 16], '$');
    assert_int_equal(strspn(h1 + 10, b64), 16);
    assert_int_equal(strspn(h1 + 27, b64), 86);
    assert_non_null(strchr("./01", h1[strlen(h1) - 1])); /* the last sextet holds 2 bits */
    /* It parses as a hash: crypt_r with it as the setting uses its salt, and what comes out is
     * the real digest of the guess, never the stored random one. */
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    assert_non_null(cd);
    static const char *const guesses[] = {"", "password", "Abcdefghjk2345$"};
    for (size_t i = 0; i < sizeof(guesses) / sizeof(*guesses); i++) {
        const char *r = crypt_r(guesses[i], h1 + 7, cd);
        assert_non_null(r);
        assert_memory_equal(r, h1 + 7, 3 + 16 + 1); /* "$6$<salt>$" */
        assert_string_not_equal(r, h1 + 7);
    }
    free(cd);
    free(h1);
    free(h2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ten_thousand), cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_hash),
        cmocka_unit_test(test_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
