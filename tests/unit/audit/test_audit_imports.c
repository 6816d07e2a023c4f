/*
 * test_audit_imports: imports summed up from records, markers and per-partition outcomes,
 * with the state an operator must act on (held, incomplete) and the latest outcome winning.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit_imports.h"

static void record(struct audit_imports *a, const char *id, int32_t part, int64_t ts, bool dry)
{
    struct users_msg m = {.type = USERS_MSG_USER_RECORD};
    m.u.user = (struct user_record){.import_id = (char *)id,
                                    .source_uid = "sis",
                                    .school = "SchA",
                                    .role = ROLE_TEACHER,
                                    .record_uid = "r",
                                    .dry_run = dry};
    audit_imports_users(a, &m, part, ts);
}

/* ImportEnd markers on partitions 0..parts-1. */
static void ends(struct audit_imports *a, const char *id, int32_t parts, int64_t produced_at)
{
    for (int32_t p = 0; p < parts; p++) {
        struct users_msg m = {.type = USERS_MSG_IMPORT_END};
        m.u.end = (struct import_end){.import_id = (char *)id,
                                      .source_uid = "sis",
                                      .school = "SchA",
                                      .role = ROLE_TEACHER,
                                      .produced_at_ms = produced_at + p, /* earliest wins */
                                      .record_count = p == 0 ? 2 : 0,
                                      .partition = p,
                                      .partition_count = parts,
                                      .total_records = 2};
        audit_imports_users(a, &m, p, produced_at + 50);
    }
}

static void outcome(struct audit_imports *a, const char *id, enum event_type t, int32_t part,
                    int64_t created)
{
    struct event e = {.type = t,
                      .import_id = (char *)id,
                      .school = "SchA",
                      .has_role = true,
                      .role = ROLE_TEACHER,
                      .input_partition = part,
                      .has_counts = true,
                      .counts = {.records = created, .created = created, .limbo = 1}};
    audit_imports_event(a, &e, 99);
}

static const struct audit_import *result(struct audit_imports *a, const char *id)
{
    size_t n;
    audit_imports_result(a, &n);
    const struct audit_import *im = audit_imports_find(a, id);
    assert_non_null(im);
    return im;
}

static void test_completed_and_counts(void **state)
{
    (void)state;
    struct audit_imports *a = audit_imports_new(12);
    record(a, "i1", 0, 1000, false);
    record(a, "i1", 0, 1001, false);
    ends(a, "i1", 3, 2000);
    for (int32_t p = 0; p < 3; p++)
        outcome(a, "i1", EVENT_IMPORT_COMPLETED, p, p == 0 ? 2 : 0);
    /* A person's event of the import is no summary: ignored. */
    struct event pe = {.type = EVENT_CREATED, .import_id = "i1", .record_uid = "r"};
    audit_imports_event(a, &pe, 5);
    const struct audit_import *im = result(a, "i1");
    assert_int_equal(im->state, AUDIT_IMPORT_COMPLETED);
    assert_string_equal(audit_import_state_name(im->state), "completed");
    assert_int_equal(im->time_ms, 2000);
    assert_int_equal(im->partition_count, 3);
    assert_int_equal(im->markers, 3);
    assert_int_equal(im->reported, 3);
    assert_int_equal(im->published, 2);
    assert_int_equal(im->counts.records, 2);
    assert_int_equal(im->counts.created, 2);
    assert_int_equal(im->counts.limbo, 3);
    assert_string_equal(im->school, "SchA");
    assert_string_equal(im->source_uid, "sis");
    assert_true(im->has_role);
    assert_int_equal(im->role, ROLE_TEACHER);
    assert_false(im->dry_run);
    audit_imports_free(a);
}

/* Held on one partition: held; released afterwards: completed, with the release's counts. */
static void test_held_then_released(void **state)
{
    (void)state;
    struct audit_imports *a = audit_imports_new(12);
    ends(a, "h", 2, 10);
    outcome(a, "h", EVENT_IMPORT_COMPLETED, 0, 1);
    outcome(a, "h", EVENT_IMPORT_HELD, 1, 0);
    const struct audit_import *im = result(a, "h");
    assert_int_equal(im->state, AUDIT_IMPORT_HELD);
    assert_int_equal(im->counts.limbo, 2);
    outcome(a, "h", EVENT_IMPORT_RELEASED, 1, 5);
    im = result(a, "h");
    assert_int_equal(im->state, AUDIT_IMPORT_COMPLETED);
    assert_int_equal(im->counts.created, 6);
    audit_imports_free(a);
}

static void test_pending_and_incomplete(void **state)
{
    (void)state;
    struct audit_imports *a = audit_imports_new(12);
    /* Markers written, one of three partitions reported. */
    ends(a, "p", 3, 10);
    outcome(a, "p", EVENT_IMPORT_COMPLETED, 2, 0);
    /* Records, but the ingest never wrote its markers. */
    record(a, "n", 4, 500, true);
    record(a, "n", 1, 400, true);
    /* One partition did not hold the announced count (the others completed). */
    ends(a, "c", 2, 20);
    outcome(a, "c", EVENT_IMPORT_INCOMPLETE, 0, 0);
    outcome(a, "c", EVENT_IMPORT_COMPLETED, 1, 0);
    /* Held on one partition and incomplete on another: incomplete says more. */
    ends(a, "hc", 2, 30);
    outcome(a, "hc", EVENT_IMPORT_INCOMPLETE, 0, 0);
    outcome(a, "hc", EVENT_IMPORT_HELD, 1, 0);

    size_t n;
    struct audit_import **v = audit_imports_result(a, &n);
    assert_int_equal(n, 4);
    /* By time: p (10), c (20), hc (30), n (first record at 400). */
    assert_string_equal(v[0]->import_id, "p");
    assert_int_equal(v[0]->state, AUDIT_IMPORT_PENDING);
    assert_int_equal(v[0]->reported, 1);
    assert_string_equal(v[1]->import_id, "c");
    assert_int_equal(v[1]->state, AUDIT_IMPORT_INCOMPLETE);
    assert_string_equal(v[2]->import_id, "hc");
    assert_int_equal(v[2]->state, AUDIT_IMPORT_INCOMPLETE);
    assert_string_equal(v[3]->import_id, "n");
    assert_int_equal(v[3]->state, AUDIT_IMPORT_INCOMPLETE);
    assert_int_equal(v[3]->time_ms, 400);
    assert_true(v[3]->dry_run);
    assert_false(v[3]->has_end);
    assert_int_equal(v[3]->partition_count, 12);
    audit_imports_free(a);
}

/* The records and markers gone with retention, the outcomes still there: judged over the
 * topic's partition count. */
static void test_only_events(void **state)
{
    (void)state;
    struct audit_imports *a = audit_imports_new(2);
    outcome(a, "old", EVENT_IMPORT_COMPLETED, 0, 1);
    const struct audit_import *im = result(a, "old");
    assert_int_equal(im->state, AUDIT_IMPORT_PENDING);
    outcome(a, "old", EVENT_IMPORT_COMPLETED, 1, 1);
    im = result(a, "old");
    assert_int_equal(im->state, AUDIT_IMPORT_COMPLETED);
    assert_int_equal(im->time_ms, 99);
    /* A partition number no topic has is ignored, not allocated. */
    outcome(a, "old", EVENT_IMPORT_HELD, 1 << 30, 0);
    outcome(a, "old", EVENT_IMPORT_HELD, -1, 0);
    im = result(a, "old");
    assert_int_equal(im->state, AUDIT_IMPORT_COMPLETED);
    assert_null(audit_imports_find(a, "nope"));
    audit_imports_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completed_and_counts),
        cmocka_unit_test(test_held_then_released),
        cmocka_unit_test(test_pending_and_incomplete),
        cmocka_unit_test(test_only_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
