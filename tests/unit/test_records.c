/*
 * test_records: the rules of sisopi.users messages that no Avro schema can say
 * (users_msg_invalid, applied by users_msg_decode) and where a message must arrive
 * (users_msg_misplaced): what sends poison to the dead-letter topic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "avro_codec.h"
#include "partitioner.h"
#include "records.h"

/* A valid UserRecord; the strings are literals, so never users_msg_free() it. */
static struct users_msg user(const char *record_uid)
{
    struct users_msg m;
    memset(&m, 0, sizeof(m));
    m.type = USERS_MSG_USER_RECORD;
    m.u.user.import_id = (char *)"01a1ffff-0000-7000-8000-000000000001";
    m.u.user.source_uid = (char *)"db";
    m.u.user.school = (char *)"SchA";
    m.u.user.role = ROLE_TEACHER;
    m.u.user.record_uid = (char *)record_uid;
    m.u.user.firstname = (char *)"Anna";
    m.u.user.lastname = (char *)"Muster";
    m.u.user.line = 2;
    return m;
}

static struct users_msg end(int64_t count)
{
    struct users_msg m;
    memset(&m, 0, sizeof(m));
    m.type = USERS_MSG_IMPORT_END;
    m.u.end.import_id = (char *)"imp";
    m.u.end.source_uid = (char *)"db";
    m.u.end.school = (char *)"SchA";
    m.u.end.record_count = count;
    m.u.end.total_records = count;
    m.u.end.first_offset = count ? 7 : -1;
    m.u.end.partition = 3;
    m.u.end.partition_count = 12;
    return m;
}

static void expect_invalid(const struct users_msg *m, const char *want)
{
    char why[300];
    const char *r = users_msg_invalid(m, why, sizeof(why));
    if (!want) {
        if (r)
            fail_msg("unexpectedly invalid: %s", r);
        return;
    }
    if (!r)
        fail_msg("accepted, expected: %s", want);
    if (!strstr(r, want))
        fail_msg("expected \"%s\", got \"%s\"", want, r);
    assert_ptr_equal(r, why);
}

static void test_user_record_rules(void **state)
{
    (void)state;
    struct users_msg m = user("rid-1");
    expect_invalid(&m, NULL);
    m.u.user.record_uid = (char *)"";
    expect_invalid(&m, "UserRecord.record_uid is empty");
    m.u.user.record_uid = (char *)"rid\x01-1";
    expect_invalid(&m, "UserRecord.record_uid has the control character U+0001 at byte 3");
    m.u.user.record_uid = (char *)"rid\x7f";
    expect_invalid(&m, "U+007F");
    m.u.user.record_uid = (char *)"rid\xc2\x85"; /* NEL, a C1 control */
    expect_invalid(&m, "U+0085");
    m = user("rid-1");
    m.u.user.import_id = (char *)"";
    expect_invalid(&m, "UserRecord.import_id is empty");
    m = user("rid-1");
    m.u.user.source_uid = NULL;
    expect_invalid(&m, "UserRecord.source_uid is missing");
    m = user("rid-1");
    m.u.user.school = (char *)"";
    expect_invalid(&m, "UserRecord.school is empty");
    /* Names: a terminal escape or a line break is never part of one. */
    m = user("rid-1");
    m.u.user.firstname = (char *)"\x1b[31mRed";
    expect_invalid(&m, "UserRecord.firstname has the control character U+001B");
    m = user("rid-1");
    m.u.user.lastname = (char *)"Mus\nter";
    expect_invalid(&m, "UserRecord.lastname has the control character U+000A");
    /* Empty names are the reconciler's to refuse (it names the rule); absent optionals fine. */
    m = user("rid-1");
    m.u.user.firstname = (char *)"";
    m.u.user.email = (char *)"";
    expect_invalid(&m, NULL);
    m.u.user.username = (char *)"a\tb";
    expect_invalid(&m, "UserRecord.username");
    m = user("rid-1");
    char *classes[] = {(char *)"SchA-1a", (char *)""};
    m.u.user.classes = classes;
    m.u.user.n_classes = 2;
    m.u.user.classes_given = true;
    expect_invalid(&m, "UserRecord.classes is empty");
    /* Extra values are text: line breaks and tabs, but no other control character. */
    m = user("rid-1");
    char *vals[] = {(char *)"line one\r\nline two\tend"};
    struct attr_values x = {(char *)"description", vals, 1};
    m.u.user.extra = &x;
    m.u.user.n_extra = 1;
    expect_invalid(&m, NULL);
    vals[0] = (char *)"bell\x07";
    expect_invalid(&m, "UserRecord.extra.values has the control character U+0007");
    x.name = (char *)"";
    expect_invalid(&m, "UserRecord.extra.name is empty");
    m = user("rid-1");
    m.u.user.line = -1;
    expect_invalid(&m, "UserRecord.line -1 is negative");
    /* Not a rule of the message: DN and filter characters are for the directory to escape. */
    m = user("*)(uid=*");
    m.u.user.firstname = (char *)",ou=other+cn=\\00 #\"";
    expect_invalid(&m, NULL);
}

static void test_other_message_rules(void **state)
{
    (void)state;
    struct users_msg m = end(5);
    expect_invalid(&m, NULL);
    m = end(0);
    expect_invalid(&m, NULL);
    m = end(-1);
    expect_invalid(&m, "ImportEnd.record_count -1 is negative");
    m = end(5);
    m.u.end.total_records = -3;
    expect_invalid(&m, "ImportEnd.total_records -3 is negative");
    m = end(5);
    m.u.end.first_offset = -2;
    expect_invalid(&m, "ImportEnd.first_offset -2 is below -1");
    m = end(5);
    m.u.end.school = (char *)"";
    expect_invalid(&m, "ImportEnd.school is empty");
    char *kept[] = {(char *)"ok", (char *)"x\x1f"};
    m = end(5);
    m.u.end.kept_record_uids = kept;
    m.u.end.n_kept = 2;
    expect_invalid(&m, "ImportEnd.kept_record_uids has the control character U+001F");

    memset(&m, 0, sizeof(m));
    m.type = USERS_MSG_PURGE_DUE;
    m.u.purge.record_uid = (char *)"rid-1";
    m.u.purge.purge_at_ms = 1;
    expect_invalid(&m, NULL);
    m.u.purge.record_uid = (char *)"";
    expect_invalid(&m, "PurgeDue.record_uid is empty");

    memset(&m, 0, sizeof(m));
    m.type = USERS_MSG_IMPORT_RELEASE;
    m.u.release.import_id = (char *)"imp";
    m.u.release.released_by = (char *)"admin";
    expect_invalid(&m, NULL);
    m.u.release.released_by = (char *)"ad\x1b]0;min";
    expect_invalid(&m, "ImportRelease.released_by");
}

/* The decoder refuses what breaks the rules: every reader (reconciler, audit) agrees. */
static void test_decode_refuses(void **state)
{
    (void)state;
    struct users_msg m = user("rid\x02x"), out;
    void *buf;
    size_t len;
    char err[300];
    assert_int_equal(users_msg_encode(&m, &buf, &len, err, sizeof(err)), 0);
    assert_int_equal(users_msg_decode(buf, len, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "UserRecord.record_uid has the control character U+0002"));
    assert_null(out.u.user.record_uid); /* zeroed after a failed decode */
    free(buf);
    m = end(-4);
    assert_int_equal(users_msg_encode(&m, &buf, &len, err, sizeof(err)), 0);
    assert_int_equal(users_msg_decode(buf, len, &out, err, sizeof(err)), -1);
    assert_string_equal(err, "ImportEnd.record_count -4 is negative");
    free(buf);
    m = user("rid-1");
    assert_int_equal(users_msg_encode(&m, &buf, &len, err, sizeof(err)), 0);
    assert_int_equal(users_msg_decode(buf, len, &out, err, sizeof(err)), 0);
    assert_string_equal(out.u.user.record_uid, "rid-1");
    users_msg_free(&out);
    free(buf);
}

static void expect_misplaced(const struct users_msg *m, const char *key, int32_t partition,
                             const char *want)
{
    char why[300];
    const char *r =
        users_msg_misplaced(m, key, key ? strlen(key) : 0, partition, 12, why, sizeof(why));
    if (!want) {
        if (r)
            fail_msg("unexpectedly misplaced: %s", r);
        return;
    }
    if (!r || !strstr(r, want))
        fail_msg("expected \"%s\", got \"%s\"", want, r ? r : "(accepted)");
}

static void test_misplaced(void **state)
{
    (void)state;
    struct users_msg m = user("rid-1");
    int32_t home = partitioner_partition("rid-1", 5, 12), other = (home + 1) % 12;
    expect_misplaced(&m, "rid-1", home, NULL);
    expect_misplaced(&m, NULL, home, "the message has no key; it must be the record_uid");
    expect_misplaced(&m, "rid-2", home, "the key \"rid-2\" is not the record_uid \"rid-1\"");
    expect_misplaced(&m, "RID-1", home, "is not the record_uid"); /* bytes, not LDAP's case */
    expect_misplaced(&m, "", home, "the key \"\" is not the record_uid");
    expect_misplaced(&m, "rid-1", other, "belongs to partition");

    memset(&m, 0, sizeof(m));
    m.type = USERS_MSG_PURGE_DUE;
    m.u.purge.record_uid = (char *)"rid-1";
    expect_misplaced(&m, "rid-1", home, NULL);
    expect_misplaced(&m, "rid-1", other, "belongs to partition");

    /* End markers and releases go to every partition, keyed by the import. */
    m = end(3);
    expect_misplaced(&m, "imp", 3, NULL);
    expect_misplaced(&m, "imp", 4, "the ImportEnd for partition 3 is in partition 4");
    expect_misplaced(&m, "rid-1", 3, "is not the import_id");
    memset(&m, 0, sizeof(m));
    m.type = USERS_MSG_IMPORT_RELEASE;
    m.u.release.import_id = (char *)"imp";
    m.u.release.released_by = (char *)"admin";
    expect_misplaced(&m, "imp", 0, NULL);
    expect_misplaced(&m, "imp", 11, NULL);
    expect_misplaced(&m, NULL, 0, "must be the import_id");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_record_rules),
        cmocka_unit_test(test_other_message_rules),
        cmocka_unit_test(test_decode_refuses),
        cmocka_unit_test(test_misplaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
