/* Unit tests of purge_schedule (when the scheduler emits PurgeDue). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "purge_schedule.h"

#define REEMIT 60000

struct taken {
    char uids[16][32];
    int64_t at[16];
    int n;
    int fail_at; /* -1: never */
};

static int take(const char *uid, int64_t at, void *opaque)
{
    struct taken *t = opaque;
    if (t->n == t->fail_at)
        return 7;
    snprintf(t->uids[t->n], sizeof(t->uids[0]), "%s", uid);
    t->at[t->n++] = at;
    return 0;
}

static struct taken take_at(struct purge_schedule *s, int64_t now)
{
    struct taken t = {.fail_at = -1};
    size_t n = 99;
    assert_int_equal(purge_schedule_take_due(s, now, take, &t, &n), 0);
    assert_int_equal((int)n, t.n);
    return t;
}

static void test_due_never_early_and_once(void **state)
{
    (void)state;
    struct purge_schedule *s = purge_schedule_new(REEMIT);
    purge_schedule_set(s, "b", 2000);
    purge_schedule_set(s, "a", 2000);
    purge_schedule_set(s, "c", 5000);
    assert_int_equal(purge_schedule_next_due(s), 2000);
    assert_int_equal(take_at(s, 1999).n, 0); /* one ms early: nothing */
    assert_int_equal(purge_schedule_count_due(s, 1999), 0);
    assert_int_equal(purge_schedule_count_due(s, 2000), 2);
    struct taken t = take_at(s, 2000);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.uids[0], "a"); /* by date, then record_uid */
    assert_string_equal(t.uids[1], "b");
    assert_int_equal(t.at[0], 2000);
    assert_int_equal(take_at(s, 2001).n, 0); /* emitted: not again at once */
    assert_int_equal(purge_schedule_next_due(s), 5000);
    assert_int_equal(take_at(s, 5000).n, 1);
    /* Emitted long ago and still there (the order was skipped): once more. */
    assert_int_equal(purge_schedule_next_due(s), 2000 + REEMIT);
    assert_int_equal(take_at(s, 2000 + REEMIT).n, 2);
    purge_schedule_free(s);
}

static void test_new_date_is_due_again_and_case(void **state)
{
    (void)state;
    struct purge_schedule *s = purge_schedule_new(REEMIT);
    purge_schedule_set(s, "Rid-1", 1000);
    assert_int_equal(take_at(s, 1000).n, 1);
    purge_schedule_set(s, "rid-1", 1000); /* same person (caseIgnore), same date */
    assert_int_equal(purge_schedule_size(s), 1);
    assert_int_equal(take_at(s, 1500).n, 0);
    purge_schedule_set(s, "RID-1", 3000); /* a new limbo stay */
    assert_int_equal(purge_schedule_get(s, "rid-1"), 3000);
    assert_int_equal(take_at(s, 2999).n, 0);
    assert_int_equal(take_at(s, 3000).n, 1);
    assert_true(purge_schedule_remove(s, "rId-1"));
    assert_false(purge_schedule_remove(s, "rid-1"));
    assert_int_equal(purge_schedule_next_due(s), INT64_MAX);
    purge_schedule_free(s);
}

static void test_failed_emit_stays_due(void **state)
{
    (void)state;
    struct purge_schedule *s = purge_schedule_new(REEMIT);
    purge_schedule_set(s, "a", 10);
    purge_schedule_set(s, "b", 20);
    struct taken t = {.fail_at = 1};
    size_t n = 0;
    assert_int_equal(purge_schedule_take_due(s, 100, take, &t, &n), 7);
    assert_int_equal((int)n, 1);
    t = take_at(s, 100); /* only b, which could not be sent */
    assert_int_equal(t.n, 1);
    assert_string_equal(t.uids[0], "b");
    purge_schedule_free(s);
}

static struct event ev(enum event_type type, const char *uid, int64_t purge_at, bool dry)
{
    struct event e = {.type = type, .record_uid = (char *)uid, .purge_at_ms = purge_at};
    e.dry_run = dry;
    return e;
}

static void test_events(void **state)
{
    (void)state;
    struct purge_schedule *s = purge_schedule_new(REEMIT);
    struct event e = ev(EVENT_MOVED_TO_LIMBO, "p", 4000, true);
    assert_false(purge_schedule_apply_event(s, &e)); /* dry run: nothing happened */
    e = ev(EVENT_MOVED_TO_LIMBO, "p", 4000, false);
    assert_true(purge_schedule_apply_event(s, &e));
    assert_false(purge_schedule_apply_event(s, &e)); /* the same again */
    e = ev(EVENT_MODIFIED, "p", 0, false);
    assert_false(purge_schedule_apply_event(s, &e));
    assert_int_equal(purge_schedule_get(s, "p"), 4000);
    e = ev(EVENT_REACTIVATED, "P", 0, false); /* came back before the date */
    assert_true(purge_schedule_apply_event(s, &e));
    assert_int_equal(take_at(s, 10000).n, 0);
    e = ev(EVENT_MOVED_TO_LIMBO, "p", 9000, false);
    purge_schedule_apply_event(s, &e);
    e = ev(EVENT_DELETED, "p", 9000, false);
    assert_true(purge_schedule_apply_event(s, &e));
    assert_int_equal(purge_schedule_size(s), 0);
    purge_schedule_free(s);
}

static void test_sweep_forgets_purged(void **state)
{
    (void)state;
    struct purge_schedule *s = purge_schedule_new(REEMIT);
    for (int i = 0; i < 1000; i++) { /* past the first table size: growing keeps them */
        char uid[16];
        snprintf(uid, sizeof(uid), "u%d", i);
        purge_schedule_set(s, uid, 100 + i);
    }
    assert_int_equal(purge_schedule_size(s), 1000);
    assert_int_equal(purge_schedule_get(s, "U999"), 1099);
    purge_schedule_set(s, "late", 1000000);
    size_t n = 0;
    struct taken t = {.fail_at = 16}; /* the first 16 go out */
    purge_schedule_take_due(s, 2000, take, &t, &n);
    assert_int_equal((int)n, 16);
    /* The next sweep finds everything but u0 (purged) and u500 (never emitted). */
    purge_schedule_sweep_begin(s);
    for (int i = 1; i < 1000; i++) {
        char uid[16];
        snprintf(uid, sizeof(uid), "u%d", i);
        if (i != 500)
            purge_schedule_set(s, uid, 100 + i);
    }
    assert_int_equal(purge_schedule_sweep_end(s), 1); /* u0 only: u500 may still be due */
    assert_int_equal(purge_schedule_get(s, "u0"), 0);
    assert_int_equal(purge_schedule_get(s, "u500"), 600);
    assert_int_equal(purge_schedule_get(s, "late"), 1000000);
    purge_schedule_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_never_early_and_once),
        cmocka_unit_test(test_new_date_is_due_again_and_case),
        cmocka_unit_test(test_failed_emit_stays_due),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_sweep_forgets_purged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
