/*
 * test_journal: a journal entry (with and without a state before) and a commit mark survive the
 * trip to bytes and back exactly; anything else (another version, unknown flags, short or long
 * data, no key, someone else's metadata) is refused, never guessed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journal.h"
#include "state_fixtures.h"

static void test_entry_with_before_round_trips(void **state)
{
    (void)state;
    struct journal_entry e = {.input_offset = 1234567890123LL, .has_before = true};
    mk_person(&e.before, "R-1", ROLE_STUDENT, "SchA", "SchB");
    e.before.dn = xstrdup("uid=u.R-1,cn=schueler,cn=users,ou=SchA,dc=example,dc=org");
    e.before.purge_at_ms = 1700000000000LL;
    struct state_buf b = {0};
    journal_entry_encode(&e, &b);
    struct journal_entry d;
    char err[256];
    assert_int_equal(journal_entry_decode("R-1", 3, b.p, b.len, &d, err, sizeof(err)), 0);
    assert_string_equal(d.record_uid, "R-1");
    assert_int_equal(d.input_offset, 1234567890123LL);
    assert_true(d.has_before);
    assert_true(person_equal(&d.before, &e.before));
    journal_entry_free(&d);
    person_free(&e.before);
    state_codec_buf_free(&b);
}

static void test_entry_without_before_round_trips(void **state)
{
    (void)state;
    struct journal_entry e = {.input_offset = 0};
    struct state_buf b = {0};
    journal_entry_encode(&e, &b);
    assert_int_equal(b.len, 12);
    struct journal_entry d;
    char err[256];
    assert_int_equal(journal_entry_decode("new", 3, b.p, b.len, &d, err, sizeof(err)), 0);
    assert_false(d.has_before);
    assert_int_equal(d.input_offset, 0);
    assert_string_equal(d.record_uid, "new");
    journal_entry_free(&d);
    state_codec_buf_free(&b);
}

static void test_bad_entries_are_refused(void **state)
{
    (void)state;
    struct journal_entry e = {.input_offset = 7, .has_before = true};
    mk_person(&e.before, "R", ROLE_TEACHER, "SchA", NULL);
    struct state_buf b = {0};
    journal_entry_encode(&e, &b);
    struct journal_entry d;
    char err[256];
    unsigned char *v = malloc(b.len + 1);
    /* every truncation */
    for (size_t n = 0; n < b.len; n++) {
        memcpy(v, b.p, n);
        assert_int_equal(journal_entry_decode("R", 1, v, n, &d, err, sizeof(err)), -1);
        assert_null(d.record_uid);
    }
    /* a trailing byte, another version, an unknown flag, no key, a key with a NUL */
    memcpy(v, b.p, b.len);
    v[b.len] = 0;
    assert_int_equal(journal_entry_decode("R", 1, v, b.len + 1, &d, err, sizeof(err)), -1);
    v[2] = 2;
    assert_int_equal(journal_entry_decode("R", 1, v, b.len, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown version"));
    v[2] = JOURNAL_VERSION;
    v[11] |= 2;
    assert_int_equal(journal_entry_decode("R", 1, v, b.len, &d, err, sizeof(err)), -1);
    v[11] &= 1;
    assert_int_equal(journal_entry_decode(NULL, 0, v, b.len, &d, err, sizeof(err)), -1);
    assert_int_equal(journal_entry_decode("R\0x", 3, v, b.len, &d, err, sizeof(err)), -1);
    assert_int_equal(journal_entry_decode("R", 1, v, b.len, &d, err, sizeof(err)), 0);
    journal_entry_free(&d);
    /* without a state before, nothing may follow the header */
    struct journal_entry none = {.input_offset = 1};
    journal_entry_encode(&none, &b);
    memcpy(v, b.p, b.len);
    v[b.len] = 'x';
    assert_int_equal(journal_entry_decode("R", 1, v, b.len + 1, &d, err, sizeof(err)), -1);
    free(v);
    person_free(&e.before);
    state_codec_buf_free(&b);
}

static void test_mark_round_trips_and_refuses_others(void **state)
{
    (void)state;
    struct journal_mark m = {.owner = "0123456789abcdef.42", .position = 9876543210LL}, d;
    char buf[128];
    journal_mark_format(&m, buf, sizeof(buf));
    assert_string_equal(buf, "sisopi1 owner=0123456789abcdef.42 journal=9876543210");
    assert_int_equal(journal_mark_parse(buf, strlen(buf), &d), 0);
    assert_string_equal(d.owner, m.owner);
    assert_int_equal(d.position, m.position);
    /* no owner, no position */
    struct journal_mark none = {.owner = "", .position = -1};
    journal_mark_format(&none, buf, sizeof(buf));
    assert_int_equal(journal_mark_parse(buf, strlen(buf), &d), 0);
    assert_string_equal(d.owner, "");
    assert_int_equal(d.position, -1);
    /* what an older reconciler or another tool commits is no mark */
    const char *bad[] = {"",
                         "hello",
                         "sisopi1 owner=ABC journal=1",
                         "sisopi1 owner=ab journal=",
                         "sisopi1 owner=ab journal=12 more",
                         "sisopi2 owner=ab journal=1",
                         "sisopi1 owner=ab journal=-5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_int_equal(journal_mark_parse(bad[i], strlen(bad[i]), &d), -1);
        assert_string_equal(d.owner, "");
        assert_int_equal(d.position, -1);
    }
    assert_int_equal(journal_mark_parse(NULL, 0, &d), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_with_before_round_trips),
        cmocka_unit_test(test_entry_without_before_round_trips),
        cmocka_unit_test(test_bad_entries_are_refused),
        cmocka_unit_test(test_mark_round_trips_and_refuses_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
