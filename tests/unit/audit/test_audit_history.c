/*
 * test_audit_history: one person's messages and events merged in time order (users before
 * events on a tie), other persons' left alone, dry runs marked, passwords never shown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit_history.h"
#include "strutil.h"

static bool add_record(struct audit_history *h, const char *rid, int64_t ts, int64_t offset,
                       bool dry)
{
    struct users_msg m = {.type = USERS_MSG_USER_RECORD};
    struct user_record *r = &m.u.user;
    r->import_id = xstrdup("imp-1");
    r->source_uid = xstrdup("sis");
    r->school = xstrdup("SchA");
    r->record_uid = xstrdup(rid);
    r->firstname = xstrdup("Anna");
    r->lastname = xstrdup("Alpha");
    r->password_hash = xstrdup("{CRYPT}$6$secret");
    r->classes_given = true;
    r->classes = xcalloc(1, sizeof(char *));
    r->classes[r->n_classes++] = xstrdup("SchA-5a");
    r->line = 2;
    r->dry_run = dry;
    bool kept = audit_history_add_users(h, "sisopi.users", 3, offset, ts, &m);
    users_msg_free(&m);
    return kept;
}

static bool add_event(struct audit_history *h, enum event_type t, const char *rid, int64_t ts,
                      int64_t offset)
{
    struct event e = {.type = t, .input_partition = 3, .input_offset = offset};
    e.record_uid = xstrdup(rid);
    e.import_id = t == EVENT_DELETED ? NULL : xstrdup("imp-1");
    e.cause = t == EVENT_DELETED ? xstrdup("purge") : NULL;
    e.school = t == EVENT_DELETED ? NULL : xstrdup("SchA");
    e.dn_before = t == EVENT_CREATED ? NULL : xstrdup("uid=a,ou=SchA,dc=x");
    e.dn_after = t == EVENT_DELETED ? NULL : xstrdup("uid=a,ou=limbo,dc=x");
    e.changed = xcalloc(2, sizeof(char *));
    e.changed[e.n_changed++] = xstrdup("shadowExpire");
    e.changed[e.n_changed++] = xstrdup("ucsschoolSchool");
    e.purge_at_ms = t == EVENT_CREATED ? 0 : 1735725302123;
    bool kept = audit_history_add_event(h, "sisopi.events", 7, offset, ts, &e);
    event_free(&e);
    return kept;
}

static char *text_of(const struct audit_history *h, bool json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (json)
        audit_history_write_json(h, f);
    else
        audit_history_write_text(h, f);
    fclose(f);
    return buf;
}

static void test_merge_order(void **state)
{
    (void)state;
    struct audit_history h;
    audit_history_init(&h, "P1");
    assert_true(audit_history_key_matches(&h, "p1", 2));
    assert_false(audit_history_key_matches(&h, "P12", 3));
    assert_false(audit_history_key_matches(&h, NULL, 0));
    assert_true(add_event(&h, EVENT_MOVED_TO_LIMBO, "P1", 3000, 40));
    assert_true(add_event(&h, EVENT_CREATED, "p1", 1000, 10));
    assert_true(add_record(&h, "P1", 1000, 10, false)); /* same time as its event: first */
    assert_false(add_record(&h, "P2", 500, 5, false));
    assert_false(add_event(&h, EVENT_CREATED, "P2", 500, 5));
    struct event summary = {.type = EVENT_IMPORT_COMPLETED};
    assert_false(audit_history_add_event(&h, "sisopi.events", 0, 1, 1, &summary));
    struct users_msg purge = {.type = USERS_MSG_PURGE_DUE};
    purge.u.purge.record_uid = xstrdup("P1");
    purge.u.purge.purge_at_ms = 1735725302123;
    assert_true(audit_history_add_users(&h, "sisopi.users", 3, 50, 4000, &purge));
    assert_null(purge.u.purge.record_uid); /* taken over */
    assert_true(add_event(&h, EVENT_DELETED, "P1", 4000, 50));
    assert_true(add_record(&h, "P1", 2000, 20, true));
    audit_history_sort(&h);
    assert_int_equal(h.n, 6);
    assert_false(h.items[0].is_event);
    assert_true(h.items[1].is_event);
    assert_int_equal(h.items[2].timestamp_ms, 2000);
    assert_int_equal(h.items[3].event.type, EVENT_MOVED_TO_LIMBO);
    assert_int_equal(h.items[4].msg.type, USERS_MSG_PURGE_DUE);
    assert_int_equal(h.items[5].event.type, EVENT_DELETED);

    char *text = text_of(&h, false);
    assert_non_null(strstr(text, "1970-01-01T00:00:01.000Z  sisopi.users[3]@10  "));
    assert_non_null(strstr(text, "UserRecord       school=SchA role=student classes=SchA-5a "
                                 "line=2\n"));
    assert_non_null(strstr(text, "Created          school=SchA dn: (none) -> "
                                 "uid=a,ou=limbo,dc=x changed=shadowExpire,ucsschoolSchool\n"));
    assert_non_null(strstr(text, "line=2  (dry run)\n"));
    assert_non_null(strstr(text, "MovedToLimbo     school=SchA dn: uid=a,ou=SchA,dc=x -> "
                                 "uid=a,ou=limbo,dc=x changed=shadowExpire,ucsschoolSchool "
                                 "purge_at=2025-01-01T09:55:02.123Z\n"));
    assert_non_null(strstr(text, "purge                                 PurgeDue         "
                                 "purge_at=2025-01-01T09:55:02.123Z\n"));
    assert_non_null(strstr(text, "purge                                 Deleted          "
                                 "dn: uid=a,ou=SchA,dc=x -> (none)"));
    assert_null(strstr(text, "secret"));
    free(text);

    char *json = text_of(&h, true);
    assert_non_null(strstr(json, "{\"time\":\"1970-01-01T00:00:01.000Z\",\"timestamp\":1000,"
                                 "\"topic\":\"sisopi.users\",\"partition\":3,\"offset\":10,"
                                 "\"import_id\":\"imp-1\",\"cause\":null,\"type\":\"UserRecord\","
                                 "\"dry_run\":false,\"message\":{\"type\":\"UserRecord\""));
    assert_non_null(strstr(json, "\"cause\":\"purge\",\"type\":\"PurgeDue\""));
    assert_null(strstr(json, "secret"));
    free(json);
    audit_history_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
