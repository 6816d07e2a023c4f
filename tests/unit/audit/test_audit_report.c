/*
 * test_audit_report: the reference's summary CSV rebuilt from events and records: one row per
 * person (the strongest outcome), personal fields from the right record, the columns and the
 * dialect exactly, formula cells defused, and the totals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit_report.h"

#define BASE "cn=users,ou=SchA,dc=x"

static void ev(struct audit_report *r, enum event_type t, const char *rid, const char *imp,
               const char *school, const char *before, const char *after, int32_t part,
               int64_t offset, const char *reason)
{
    struct event e = {.type = t,
                      .record_uid = (char *)rid,
                      .import_id = (char *)imp,
                      .source_uid = "sis",
                      .school = (char *)school,
                      .has_role = true,
                      .role = ROLE_STUDENT,
                      .input_partition = part,
                      .input_offset = offset,
                      .dn_before = (char *)before,
                      .dn_after = (char *)after,
                      .reason = (char *)reason};
    audit_report_event(r, &e);
}

static void rec(struct audit_report *r, const char *imp, const char *rid, const char *first,
                const char *last, int64_t line, int32_t part, int64_t offset)
{
    char *classes[] = {"SchA-5a", "SchA-6b"};
    struct users_msg m = {.type = USERS_MSG_USER_RECORD};
    m.u.user = (struct user_record){.import_id = (char *)imp,
                                    .source_uid = "sis",
                                    .school = "SchA",
                                    .role = ROLE_STUDENT,
                                    .record_uid = (char *)rid,
                                    .firstname = (char *)first,
                                    .lastname = (char *)last,
                                    .birthday = "2012-03-04",
                                    .email = NULL,
                                    .password_hash = "{CRYPT}$6$secret",
                                    .classes_given = true,
                                    .classes = classes,
                                    .n_classes = 2,
                                    .line = line};
    audit_report_users(r, &m, part, offset);
}

static char *capture(struct audit_report *r, int how)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (how == 0)
        assert_int_equal(audit_report_write_csv(r, f), 0);
    else if (how == 1)
        audit_report_write_text(r, f);
    else
        audit_report_write_json(r, f);
    fclose(f);
    return buf;
}

static struct audit_report *scenario(void)
{
    struct audit_report *r = audit_report_new("imp");
    /* Events first. */
    ev(r, EVENT_CREATED, "R2", "imp", "SchA", NULL, "uid=b.two," BASE, 3, 11, NULL);
    ev(r, EVENT_SCHOOL_ADDED, "R1", "imp", "SchA", "uid=a.one,ou=SchB,dc=x",
       "uid=a.one,ou=SchB,dc=x", 4, 10, NULL);
    ev(r, EVENT_REJECTED, "R3", "imp", "SchA", NULL, NULL, 5, 12, "uid \"c.three\" already exists");
    ev(r, EVENT_CREATED, "R5", "imp", "SchA", NULL, "uid=e.five," BASE, 3, 13, NULL);
    ev(r, EVENT_REJECTED, "R5", "imp", "SchA", "uid=e.five," BASE, NULL, 3, 13, "=evil");
    ev(r, EVENT_MOVED_TO_LIMBO, "R9", "imp", "SchA", "uid=z.nine," BASE,
       "uid=z.nine,cn=schueler,cn=users,ou=limbo,dc=x", 3, 100, NULL);
    ev(r, EVENT_SCHOOL_REMOVED, "r8", "imp", "SchA", "uid=y.eight," BASE,
       "uid=y.eight,ou=SchB,dc=x", 3, 100, NULL);
    ev(r, EVENT_CREATED, "R7", "other", "SchA", NULL, "uid=g," BASE, 3, 5, NULL);
    struct event done = {.type = EVENT_IMPORT_COMPLETED,
                         .import_id = "imp",
                         .has_role = true,
                         .role = ROLE_STUDENT,
                         .input_partition = 3};
    audit_report_event(r, &done);
    /* Then the records. */
    rec(r, "old", "R9", "Zed", "Old", 7, 3, 50);
    rec(r, "old2", "R9", "Zed", "Nine", 8, 3, 80);     /* the latest before the removal */
    rec(r, "later", "R9", "Zed", "Later", 9, 3, 120);  /* after it: not what was removed */
    rec(r, "old", "R9", "Zed", "Elsewhere", 9, 4, 90); /* another partition */
    rec(r, "old", "R8", "Ypsi", "Eight", 4, 3, 60);
    rec(r, "imp", "R1", "Anna", "=1+1", 1, 4, 10);
    rec(r, "imp", "R2", "Bert", "Two, \"B\"", 2, 3, 11);
    rec(r, "imp", "R3", "Cora", "Three", 3, 5, 12);
    rec(r, "imp", "R5", "Emil", "Five", 5, 3, 13);
    rec(r, "imp", "R6", "Unchanged", "Six", 6, 3, 14);
    return r;
}

static void test_csv(void **state)
{
    (void)state;
    struct audit_report *r = scenario();
    assert_true(audit_report_known(r));
    char *csv = capture(r, 0);
    assert_string_equal(
        csv, "\"line\",\"success\",\"error\",\"action\",\"role\",\"username\",\"schools\","
             "\"firstname\",\"lastname\",\"birthday\",\"email\",\"disabled\",\"classes\","
             "\"source_uid\",\"record_uid\",\"error_msg\"\r\n"
             "\"1\",\"1\",\"0\",\"M\",\"student\",\"a.one\",\"SchA\",\"Anna\",\"'=1+1\","
             "\"2012-03-04\",\"\",\"0\",\"SchA-5a,SchA-6b\",\"sis\",\"R1\",\"\"\r\n"
             "\"2\",\"1\",\"0\",\"A\",\"student\",\"b.two\",\"SchA\",\"Bert\",\"Two, \"\"B\"\"\","
             "\"2012-03-04\",\"\",\"0\",\"SchA-5a,SchA-6b\",\"sis\",\"R2\",\"\"\r\n"
             "\"3\",\"0\",\"1\",\"A\",\"student\",\"\",\"SchA\",\"Cora\",\"Three\","
             "\"2012-03-04\",\"\",\"0\",\"SchA-5a,SchA-6b\",\"sis\",\"R3\","
             "\"uid \"\"c.three\"\" already exists\"\r\n"
             "\"5\",\"0\",\"1\",\"M\",\"student\",\"e.five\",\"SchA\",\"Emil\",\"Five\","
             "\"2012-03-04\",\"\",\"0\",\"SchA-5a,SchA-6b\",\"sis\",\"R5\",\"'=evil\"\r\n"
             "\"\",\"1\",\"0\",\"D\",\"student\",\"y.eight\",\"SchA\",\"Ypsi\",\"Eight\","
             "\"2012-03-04\",\"\",\"0\",\"SchA-5a,SchA-6b\",\"sis\",\"r8\",\"\"\r\n"
             "\"\",\"1\",\"0\",\"D\",\"student\",\"z.nine\",\"SchA\",\"Zed\",\"Nine\","
             "\"2012-03-04\",\"\",\"1\",\"SchA-5a,SchA-6b\",\"sis\",\"R9\",\"\"\r\n");
    assert_null(strstr(csv, "secret"));
    free(csv);

    struct audit_report_totals t;
    audit_report_totals(r, &t);
    assert_int_equal(t.read, 5);
    assert_int_equal(t.created[ROLE_STUDENT], 1);
    assert_int_equal(t.modified[ROLE_STUDENT], 1);
    assert_int_equal(t.deleted[ROLE_STUDENT], 2);
    assert_int_equal(t.errors, 2);
    audit_report_free(r);
}

static void test_text_and_json(void **state)
{
    (void)state;
    struct audit_report *r = scenario();
    char *text = capture(r, 1);
    assert_non_null(strstr(text, "Import imp\n"));
    assert_non_null(strstr(text, "LINE  ACTION  ROLE"));
    assert_non_null(strstr(text, "Read users from input data: 5\n"
                                 "Created student: 1\n"
                                 "Modified student: 1\n"
                                 "Deleted student: 2\n"
                                 "Errors: 2\n"));
    assert_null(strstr(text, "teacher"));
    assert_non_null(strstr(text, "SchA-5a,SchA-6b  R2\n")); /* no trailing blanks */
    free(text);
    char *json = capture(r, 2);
    assert_non_null(strstr(json, "{\"kind\":\"row\",\"line\":1,\"success\":1,\"error\":0,"
                                 "\"action\":\"M\",\"role\":\"student\",\"username\":\"a.one\","
                                 "\"schools\":[\"SchA\"],\"firstname\":\"Anna\","
                                 "\"lastname\":\"=1+1\""));
    assert_non_null(strstr(json, "\"kind\":\"totals\",\"import_id\":\"imp\",\"dry_run\":false,"
                                 "\"read\":5,\"created\":{\"student\":1,"));
    assert_null(strstr(json, "secret"));
    free(json);
    audit_report_free(r);
}

static void test_unknown(void **state)
{
    (void)state;
    struct audit_report *r = audit_report_new("nope");
    ev(r, EVENT_CREATED, "R2", "imp", "SchA", NULL, "uid=b.two," BASE, 3, 11, NULL);
    rec(r, "imp", "R2", "Bert", "Two", 2, 3, 11);
    assert_false(audit_report_known(r));
    size_t n;
    audit_report_rows(r, &n);
    assert_int_equal(n, 0);
    char *csv = capture(r, 0);
    assert_int_equal(strlen(csv), 164); /* the header only */
    free(csv);
    audit_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_text_and_json),
        cmocka_unit_test(test_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
