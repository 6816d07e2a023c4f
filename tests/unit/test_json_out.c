/*
 * test_json_out: the JSON writer escapes every string into valid JSON, and messages print as
 * one object per line with the schema's field names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_out.h"

struct capture {
    FILE *f;
    char *buf;
    size_t len;
};

static void cap_open(struct capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
}

/* Closes the stream and checks what was written; frees it. */
static void cap_expect(struct capture *c, const char *want)
{
    fclose(c->f);
    assert_string_equal(c->buf, want);
    free(c->buf);
}

static void expect_json(const char *in, const char *want)
{
    struct capture c;
    struct json_out j;
    cap_open(&c);
    json_out_init(&j, c.f);
    json_out_string(&j, in);
    cap_expect(&c, want);
}

static void test_escaping(void **state)
{
    (void)state;
    expect_json(NULL, "null");
    expect_json("", "\"\"");
    expect_json("plain", "\"plain\"");
    expect_json("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
    expect_json("\n\r\t", "\"\\n\\r\\t\"");
    expect_json("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    /* Valid UTF-8 passes through unchanged: 2, 3 and 4 byte sequences. */
    expect_json("Zoë € 李 😀", "\"Zoë € 李 😀\"");
}

/* Invalid UTF-8 becomes U+FFFD per bad byte: the output stays valid whatever the input. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    expect_json("a\xff"
                "b",
                "\"a\\ufffdb\"");
    expect_json("\xc3", "\"\\ufffd\"");                                  /* truncated */
    expect_json("\xe2\x82", "\"\\ufffd\\ufffd\"");                       /* truncated */
    expect_json("\xc0\xaf", "\"\\ufffd\\ufffd\"");                       /* overlong */
    expect_json("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");            /* surrogate */
    expect_json("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    expect_json("\xc3\xa9\x80", "\"é\\ufffd\"");                         /* stray continuation */
}

static void test_raw_writers(void **state)
{
    (void)state;
    struct capture c;

    cap_open(&c);
    json_write_string(c.f, NULL);
    json_write_string(c.f, "x\ty");
    /* A Kafka key is bytes with a length: NUL bytes in it survive as \u0000. */
    json_write_stringn(c.f, "k\0ey\xff", 5);
    cap_expect(&c, "null\"x\\ty\"\"k\\u0000ey\\ufffd\"");
}

static void test_nesting(void **state)
{
    (void)state;
    struct capture c;
    struct json_out j;

    cap_open(&c);
    json_out_init(&j, c.f);
    json_out_begin_object(&j);
    json_out_key(&j, "a");
    json_out_begin_array(&j);
    json_out_int(&j, 1);
    json_out_int(&j, INT64_MIN);
    json_out_begin_object(&j);
    json_out_key(&j, "b");
    json_out_null(&j);
    json_out_end_object(&j);
    json_out_begin_array(&j);
    json_out_end_array(&j);
    json_out_end_array(&j);
    json_out_key(&j, "k\"ey");
    json_out_bool(&j, true);
    json_out_key(&j, "e");
    json_out_begin_object(&j);
    json_out_end_object(&j);
    json_out_end_object(&j);
    cap_expect(&c, "{\"a\":[1,-9223372036854775808,{\"b\":null},[]],\"k\\\"ey\":true,\"e\":{}}");
}

static char **strv2(const char *a, const char *b)
{
    char **v = calloc(2, sizeof(char *));
    v[0] = strdup(a);
    v[1] = strdup(b);
    return v;
}

static void test_user_record(void **state)
{
    (void)state;
    struct capture c;
    struct users_msg m = {.type = USERS_MSG_USER_RECORD};
    struct user_record *r = &m.u.user;

    r->import_id = strdup("imp");
    r->source_uid = strdup("sis");
    r->school = strdup("gsm");
    r->role = ROLE_TEACHER;
    r->record_uid = strdup("F-1");
    r->firstname = strdup("Zoë");
    r->lastname = strdup("O\"B");
    r->email = strdup("");
    r->password_hash = strdup("{CRYPT}$6$secret");
    r->n_extra = 1;
    r->extra = calloc(1, sizeof(*r->extra));
    r->extra[0].name = strdup("telephoneNumber");
    r->extra[0].values = strv2("1", "2");
    r->extra[0].n_values = 2;
    r->line = 12;

    cap_open(&c);
    users_msg_to_json(&m, c.f);
    cap_expect(&c,
               "{\"type\":\"UserRecord\",\"import_id\":\"imp\",\"source_uid\":\"sis\","
               "\"school\":\"gsm\",\"role\":\"teacher\",\"record_uid\":\"F-1\","
               "\"firstname\":\"Zoë\",\"lastname\":\"O\\\"B\",\"username\":null,\"email\":\"\","
               "\"birthday\":null,\"password_hash\":\"(redacted)\",\"classes\":null,"
               "\"extra\":{\"telephoneNumber\":[\"1\",\"2\"]},\"line\":12,\"dry_run\":false}\n");

    r->classes_given = true;
    r->classes = strv2("gsm-5a", "gsm-6b");
    r->n_classes = 2;
    free(r->password_hash);
    r->password_hash = NULL;
    cap_open(&c);
    users_msg_to_json(&m, c.f);
    fclose(c.f);
    assert_non_null(strstr(c.buf, "\"password_hash\":null,\"classes\":[\"gsm-5a\",\"gsm-6b\"],"));
    free(c.buf);
    users_msg_free(&m);
}

static void test_import_end_and_purge(void **state)
{
    (void)state;
    struct capture c;
    struct users_msg m = {.type = USERS_MSG_IMPORT_END};

    char *kept[] = {"k1"};
    m.u.end = (struct import_end){.import_id = "imp",
                                  .source_uid = "sis",
                                  .school = "gsm",
                                  .role = ROLE_STAFF,
                                  .produced_at_ms = 1000,
                                  .record_count = 5,
                                  .first_offset = 7,
                                  .partition = 2,
                                  .partition_count = 4,
                                  .total_records = 20,
                                  .kept_record_uids = kept,
                                  .n_kept = 1,
                                  .dry_run = true};
    cap_open(&c);
    users_msg_to_json(&m, c.f);
    cap_expect(&c, "{\"type\":\"ImportEnd\",\"import_id\":\"imp\",\"source_uid\":\"sis\","
                   "\"school\":\"gsm\",\"role\":\"staff\",\"produced_at\":1000,\"record_count\":5,"
                   "\"first_offset\":7,"
                   "\"partition\":2,\"partition_count\":4,\"total_records\":20,"
                   "\"kept_record_uids\":[\"k1\"],\"dry_run\":true,\"guard\":null}\n");
    m.u.end.has_guard = true;
    m.u.end.guard = (struct guard_decision){true, 3, 10, "would take"};
    cap_open(&c);
    users_msg_to_json(&m, c.f);
    cap_expect(&c, "{\"type\":\"ImportEnd\",\"import_id\":\"imp\",\"source_uid\":\"sis\","
                   "\"school\":\"gsm\",\"role\":\"staff\",\"produced_at\":1000,\"record_count\":5,"
                   "\"first_offset\":7,"
                   "\"partition\":2,\"partition_count\":4,\"total_records\":20,"
                   "\"kept_record_uids\":[\"k1\"],\"dry_run\":true,\"guard\":{\"held\":true,"
                   "\"removals\":3,\"members\":10,\"reason\":\"would take\"}}\n");

    m.type = USERS_MSG_PURGE_DUE;
    m.u.purge = (struct purge_due){"F-1", 2000, 3000};
    cap_open(&c);
    users_msg_to_json(&m, c.f);
    cap_expect(&c, "{\"type\":\"PurgeDue\",\"record_uid\":\"F-1\",\"purge_at\":2000,"
                   "\"produced_at\":3000}\n");
}

static void test_event(void **state)
{
    (void)state;
    struct capture c;
    struct event e = {.type = EVENT_MOVED_TO_LIMBO, .produced_at_ms = 5};

    e.record_uid = "F-1";
    e.import_id = "imp";
    e.input_topic = "sisopi.users";
    e.input_partition = 3;
    e.input_offset = 99;
    e.dn_before = "uid=a,ou=gsm";
    char *changed[] = {"ucsschoolSchool"};
    e.changed = changed;
    e.n_changed = 1;
    e.purge_at_ms = 777;
    cap_open(&c);
    event_to_json(&e, c.f);
    cap_expect(&c, "{\"type\":\"MovedToLimbo\",\"produced_at\":5,\"record_uid\":\"F-1\","
                   "\"import_id\":\"imp\",\"cause\":null,\"source_uid\":null,\"school\":null,"
                   "\"role\":null,\"input_topic\":\"sisopi.users\",\"input_partition\":3,"
                   "\"input_offset\":99,\"dn_before\":\"uid=a,ou=gsm\",\"dn_after\":null,"
                   "\"changed\":[\"ucsschoolSchool\"],\"reason\":null,\"purge_at\":777,"
                   "\"counts\":null,\"dry_run\":false}\n");

    struct event s = {.type = EVENT_IMPORT_COMPLETED, .has_role = true, .role = ROLE_STUDENT};
    s.has_counts = true;
    s.counts = (struct import_counts){10, 1, 2, 3, 4, 5, 6};
    cap_open(&c);
    event_to_json(&s, c.f);
    fclose(c.f);
    assert_non_null(strstr(c.buf, "\"role\":\"student\""));
    assert_non_null(strstr(c.buf, "\"changed\":[],\"reason\":null,\"purge_at\":null,\"counts\":"
                                  "{\"records\":10,\"created\":1,\"modified\":2,\"unchanged\":3,"
                                  "\"removed\":4,\"limbo\":5,\"errors\":6},\"dry_run\":false}\n"));
    free(c.buf);
}

/* The audit dump embeds a decoded message in its own line object. */
static void test_embedded_messages(void **state)
{
    (void)state;
    struct capture c;
    struct json_out j;
    struct users_msg m = {.type = USERS_MSG_PURGE_DUE};
    struct event e = {.type = EVENT_DELETED, .input_partition = -1, .input_offset = -1};

    m.u.purge = (struct purge_due){"F-1", 2, 3};
    cap_open(&c);
    json_out_init(&j, c.f);
    json_out_begin_object(&j);
    json_out_key(&j, "offset");
    json_out_int(&j, 5);
    json_out_key(&j, "message");
    json_out_users_msg(&j, &m);
    json_out_key(&j, "event");
    json_out_event(&j, &e);
    json_out_end_object(&j);
    cap_expect(&c, "{\"offset\":5,\"message\":{\"type\":\"PurgeDue\",\"record_uid\":\"F-1\","
                   "\"purge_at\":2,\"produced_at\":3},\"event\":{\"type\":\"Deleted\","
                   "\"produced_at\":0,\"record_uid\":null,\"import_id\":null,\"cause\":null,"
                   "\"source_uid\":null,\"school\":null,\"role\":null,\"input_topic\":null,"
                   "\"input_partition\":-1,\"input_offset\":-1,\"dn_before\":null,"
                   "\"dn_after\":null,\"changed\":[],\"reason\":null,\"purge_at\":null,"
                   "\"counts\":null,\"dry_run\":false}}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_raw_writers),
        cmocka_unit_test(test_embedded_messages),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_user_record),
        cmocka_unit_test(test_import_end_and_purge),
        cmocka_unit_test(test_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
