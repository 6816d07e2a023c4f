/* Unit tests of record_digest: SipHash-2-4-128 against the reference vectors, and a record's
 * digest: the same for the same record whatever its import, different for any field the rules
 * read, for another configuration and for another key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "record_digest.h"
#include "strutil.h"

/* The reference implementation's vectors_sip128: key 00..0f, message 00..(len-1). */
static void test_siphash128_vectors(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        uint8_t out[16];
    } v[] = {
        {0,
         {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02,
          0x93}},
        {1,
         {0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b, 0x22, 0xfc,
          0x45}},
        {7,
         {0xa1, 0xf1, 0xeb, 0xbe, 0xd8, 0xdb, 0xc1, 0x53, 0xc0, 0xb8, 0x4a, 0xa6, 0x1f, 0xf0, 0x82,
          0x39}},
        {8,
         {0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61, 0x0f, 0x83, 0xe2, 0x64, 0xf3, 0x14, 0x97,
          0xb4}},
        {15,
         {0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11, 0x7e, 0x08, 0xec, 0x0f, 0x97, 0xcf, 0xc3,
          0xd9}},
        {63,
         {0x51, 0x50, 0xd1, 0x77, 0x2f, 0x50, 0x83, 0x4a, 0x50, 0x3e, 0x06, 0x9a, 0x97, 0x3f, 0xbd,
          0x7c}},
    };
    uint8_t key[16], in[64], out[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        in[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        siphash128(key, in, v[i].len, out);
        assert_memory_equal(out, v[i].out, 16);
    }
}

static char *classes[] = {"Gym1-5a", "Gym1-6b"};
static char *phone[] = {"+49 1"};
static struct attr_values extra[] = {{.name = "telephoneNumber", .values = phone, .n_values = 1}};

static struct user_record base_record(void)
{
    return (struct user_record){.import_id = "imp-1",
                                .source_uid = "src",
                                .school = "Gym1",
                                .role = ROLE_STUDENT,
                                .record_uid = "R1",
                                .firstname = "J\xc3\xbcrgen",
                                .lastname = "M\xc3\xbcller",
                                .email = NULL,
                                .birthday = "2010-01-02",
                                .password_hash = "{CRYPT}$6$a$b",
                                .classes_given = true,
                                .classes = classes,
                                .n_classes = 2,
                                .extra = extra,
                                .n_extra = 1,
                                .line = 7};
}

static struct config cfg;
static struct record_digest_ctx ctx;
static const uint8_t key[16] = "0123456789abcdef";

static int setup(void **state)
{
    (void)state;
    config_defaults(&cfg);
    record_digest_init(&ctx, &cfg, key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    record_digest_free(&ctx);
    config_free(&cfg);
    return 0;
}

static void digest_of(const struct user_record *r, uint8_t out[16])
{
    record_digest(&ctx, r, out);
}

static void test_same_record_same_digest(void **state)
{
    (void)state;
    struct user_record r = base_record(), s = base_record();
    uint8_t a[16], b[16];
    digest_of(&r, a);
    /* What the rules do not read for a person who exists: another import, line, dry run,
     * password hash. */
    s.import_id = "imp-2";
    s.line = 99;
    s.dry_run = true;
    s.password_hash = "{CRYPT}$6$other";
    digest_of(&s, b);
    assert_memory_equal(a, b, 16);
    s.password_hash = NULL;
    digest_of(&s, b);
    assert_memory_equal(a, b, 16);
}

static void test_any_field_changes_digest(void **state)
{
    (void)state;
    uint8_t a[16], b[16];
    struct user_record r = base_record();
    digest_of(&r, a);
    char *one_class[] = {"Gym1-5a"};
    char *other_phone[] = {"+49 2"};
    struct attr_values other_extra[] = {
        {.name = "telephoneNumber", .values = other_phone, .n_values = 1}};
    struct attr_values other_name[] = {{.name = "mobile", .values = phone, .n_values = 1}};
    for (int i = 0; i < 14; i++) {
        struct user_record s = base_record();
        switch (i) {
        case 0:
            s.source_uid = "src2";
            break;
        case 1:
            s.school = "Gym2";
            break;
        case 2:
            s.role = ROLE_TEACHER;
            break;
        case 3:
            s.record_uid = "R2";
            break;
        case 4:
            s.firstname = "Juergen";
            break;
        case 5:
            s.lastname = "Mueller";
            break;
        case 6:
            s.username = "j.m";
            break;
        case 7:
            s.email = "";
            break; /* "" removes the address; NULL leaves it */
        case 8:
            s.birthday = NULL;
            break;
        case 9:
            s.classes_given = false;
            break;
        case 10:
            s.classes = one_class;
            s.n_classes = 1;
            break;
        case 11:
            s.extra = other_extra;
            break;
        case 12:
            s.extra = other_name;
            break;
        case 13:
            s.n_extra = 0;
            break;
        }
        digest_of(&s, b);
        assert_memory_not_equal(a, b, 16);
    }
    /* Field boundaries count: "ab" + "c" is not "a" + "bc". */
    struct user_record s = base_record(), t = base_record();
    s.firstname = "ab";
    s.lastname = "c";
    t.firstname = "a";
    t.lastname = "bc";
    digest_of(&s, a);
    digest_of(&t, b);
    assert_memory_not_equal(a, b, 16);
}

static void test_config_and_key_change_digest(void **state)
{
    (void)state;
    struct user_record r = base_record();
    uint8_t a[16], b[16];
    digest_of(&r, a);
    struct record_digest_ctx other;
    struct config c2;
    config_defaults(&c2);
    record_digest_init(&other, &c2, key);
    record_digest(&other, &r, b);
    assert_memory_equal(a, b, 16); /* the same configuration, the same key */
    record_digest_free(&other);

    c2.import.deletion_grace_seconds += 1;
    record_digest_init(&other, &c2, key);
    record_digest(&other, &r, b);
    assert_memory_not_equal(a, b, 16);
    record_digest_free(&other);
    c2.import.deletion_grace_seconds -= 1;

    free(c2.import.limbo_ou);
    c2.import.limbo_ou = xstrdup("limbo2");
    record_digest_init(&other, &c2, key);
    record_digest(&other, &r, b);
    assert_memory_not_equal(a, b, 16);
    record_digest_free(&other);
    config_free(&c2);

    uint8_t key2[16] = "0123456789abcdeX";
    record_digest_init(&other, &cfg, key2);
    record_digest(&other, &r, b);
    assert_memory_not_equal(a, b, 16);
    record_digest_free(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash128_vectors),
        cmocka_unit_test_setup_teardown(test_same_record_same_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_any_field_changes_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_and_key_change_digest, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
