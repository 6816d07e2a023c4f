/* Unit tests of state_codec: person/import round trips, deep copy and equality, and that
 * damaged, short or foreign data is refused without a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "state_codec.h"
#include "state_fixtures.h"
#include "strutil.h"

static char err[512];

/* Every field set, non-ASCII and empty values included. */
static void full_person(struct person *p)
{
    mk_person(p, "R-0001", ROLE_TEACHER_AND_STAFF, "S1", "S2");
    free(p->username);
    p->username = xstrdup("a.b");
    p->dn = xstrdup("uid=a.b,cn=lehrer und mitarbeiter,cn=users,ou=S1,dc=example,dc=org");
    p->n_classes = 2;
    p->classes = xcalloc(2, sizeof(*p->classes));
    p->classes[0].school = xstrdup("S1");
    p->classes[0].classes = strv2("S1-1a", "S1-2b", &p->classes[0].n_classes);
    p->classes[1].school = xstrdup("S2");
    p->classes[1].classes = strv2("S2-x \xc3\xa4", NULL, &p->classes[1].n_classes);
    p->purge_at_ms = -1;
    p->updated_offset = INT64_MAX;
    p->n_attrs = 2;
    p->attrs = xcalloc(2, sizeof(*p->attrs));
    p->attrs[0].name = xstrdup("givenName");
    p->attrs[0].values = strv2("J\xc3\xbcrgen", NULL, &p->attrs[0].n_values);
    p->attrs[1].name = xstrdup("telephoneNumber");
    p->attrs[1].values = strv2("+49 1", "", &p->attrs[1].n_values);
}

static void test_person_roundtrip_copy_equal(void **state)
{
    (void)state;
    struct person p, got, copy, min = {.record_uid = "m", .source_uid = "s"};
    struct state_buf b = {0};
    full_person(&p);
    state_codec_person_encode(&p, &b);
    assert_int_equal(state_codec_person_decode(b.p, b.len, &got, err, sizeof(err)), 0);
    assert_true(person_equal(&p, &got));
    person_free(&got);
    state_codec_person_encode(&min, &b);
    assert_int_equal(state_codec_person_decode(b.p, b.len, &got, err, sizeof(err)), 0);
    assert_true(person_equal(&min, &got));
    assert_null(got.dn);
    assert_null(got.username);
    person_free(&got);

    person_copy(&copy, &p);
    assert_true(person_equal(&copy, &p));
    free(copy.attrs[1].values[1]);
    copy.attrs[1].values[1] = xstrdup("x");
    assert_false(person_equal(&copy, &p));
    person_free(&copy);
    person_copy(&copy, &p);
    copy.updated_offset = copy.updated_offset == 0 ? 1 : 0;
    assert_false(person_equal(&copy, &p));
    person_free(&copy);
    person_free(&p);
    state_codec_buf_free(&b);
}

static void test_rejects_corrupt(void **state)
{
    (void)state;
    struct person p, got;
    struct state_buf b = {0};
    full_person(&p);
    state_codec_person_encode(&p, &b);
    assert_int_equal(state_codec_person_decode(b.p, b.len, &got, err, sizeof(err)), 0);
    person_free(&got);
    for (size_t len = 0; len < b.len; len++) { /* every truncation */
        unsigned char *cut = xmalloc(len + 1);
        memcpy(cut, b.p, len);
        assert_int_equal(state_codec_person_decode(len ? cut : NULL, len, &got, err, sizeof(err)),
                         STATE_ERR_CORRUPT);
        assert_null(got.record_uid);
        free(cut);
    }
    unsigned char *m = xmalloc(b.len + 1);
    memcpy(m, b.p, b.len);
    m[b.len] = 0; /* trailing byte */
    assert_int_equal(state_codec_person_decode(m, b.len + 1, &got, err, sizeof(err)),
                     STATE_ERR_CORRUPT);
    assert_non_null(strstr(err, "trailing"));
    m[0] = 99; /* unknown version */
    assert_int_equal(state_codec_person_decode(m, b.len, &got, err, sizeof(err)),
                     STATE_ERR_CORRUPT);
    assert_non_null(strstr(err, "version"));
    /* Random damage: decode either succeeds or fails cleanly (ASan watches the rest). */
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        memcpy(m, b.p, b.len);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            m[(seed >> 8) % b.len] = (unsigned char)(seed >> 20);
        }
        int rc = state_codec_person_decode(m, b.len, &got, err, sizeof(err));
        assert_true(rc == 0 || rc == STATE_ERR_CORRUPT);
        person_free(&got);
    }
    free(m);
    /* Absurd counts and over-long varints (first byte: the person format version). */
    static const unsigned char huge[] = {2, 2, 'a', 2, 'b', 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(state_codec_person_decode(huge, sizeof(huge), &got, err, sizeof(err)),
                     STATE_ERR_CORRUPT);
    static const unsigned char ovf[] = {2,    0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(state_codec_person_decode(ovf, sizeof(ovf), &got, err, sizeof(err)),
                     STATE_ERR_CORRUPT);
    static const unsigned char nul[] = {2, 3, 'a', 0, 2, 'b', 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(state_codec_person_decode(nul, sizeof(nul), &got, err, sizeof(err)),
                     STATE_ERR_CORRUPT);
    assert_non_null(strstr(err, "NUL"));

    struct import_state is = {.import_id = "imp", .school = "S1", .records_seen = 3}, ig;
    state_codec_import_encode(&is, &b);
    assert_int_equal(state_codec_import_decode(b.p, b.len, &ig, err, sizeof(err)), 0);
    import_state_free(&ig);
    for (size_t len = 0; len < b.len; len++)
        assert_int_equal(state_codec_import_decode(b.p, len, &ig, err, sizeof(err)),
                         STATE_ERR_CORRUPT);
    state_codec_buf_free(&b);
    person_free(&p);
}

/* No-op digests: carried in front of the encoding, found without decoding, the newest first,
 * at most STATE_CODEC_NOOP_MAX; a damaged header is an error, not a crash. */
static void test_person_noop_digests(void **state)
{
    (void)state;
    struct person p, got;
    struct state_buf enc = {0}, a = {0}, b = {0};
    unsigned char d[6][STATE_DIGEST_LEN];
    for (int i = 0; i < 6; i++)
        memset(d[i], 'a' + i, sizeof(d[i]));
    full_person(&p);
    state_codec_person_encode(&p, &enc);
    assert_false(state_codec_person_has_noop(enc.p, enc.len, d[0]));

    state_codec_person_add_noop(enc.p, enc.len, d[0], &a);
    assert_int_equal(a.len, enc.len + 2 + STATE_DIGEST_LEN);
    assert_true(state_codec_person_has_noop(a.p, a.len, d[0]));
    assert_false(state_codec_person_has_noop(a.p, a.len, d[1]));
    assert_int_equal(state_codec_person_decode(a.p, a.len, &got, err, sizeof(err)), 0);
    assert_true(person_equal(&p, &got));
    person_free(&got);

    /* Five more: the oldest ones go, the same digest twice is kept once. */
    struct state_buf *cur = &a, *next = &b;
    for (int i = 1; i < 6; i++) {
        state_codec_person_add_noop(cur->p, cur->len, d[i], next);
        struct state_buf *t = cur;
        cur = next;
        next = t;
    }
    state_codec_person_add_noop(cur->p, cur->len, d[5], next);
    cur = next;
    assert_int_equal(cur->len, enc.len + 2 + STATE_CODEC_NOOP_MAX * STATE_DIGEST_LEN);
    for (int i = 0; i < 6; i++)
        assert_int_equal(state_codec_person_has_noop(cur->p, cur->len, d[i]),
                         i >= 6 - STATE_CODEC_NOOP_MAX);
    assert_int_equal(state_codec_person_decode(cur->p, cur->len, &got, err, sizeof(err)), 0);
    assert_true(person_equal(&p, &got));
    person_free(&got);

    /* Damaged: a count of 0, a count above the maximum, a header longer than the value. */
    unsigned char bad[2 + STATE_DIGEST_LEN + 1] = {STATE_CODEC_PERSON_NOOP, 0};
    assert_int_equal(state_codec_person_decode(bad, sizeof(bad), &got, err, sizeof(err)),
                     STATE_ERR_CORRUPT);
    assert_non_null(strstr(err, "no-op digests"));
    bad[1] = STATE_CODEC_NOOP_MAX + 1;
    assert_int_equal(state_codec_person_decode(bad, sizeof(bad), &got, err, sizeof(err)),
                     STATE_ERR_CORRUPT);
    bad[1] = 1;
    assert_int_equal(state_codec_person_decode(bad, 2 + STATE_DIGEST_LEN, &got, err, sizeof(err)),
                     STATE_ERR_CORRUPT);
    assert_false(state_codec_person_has_noop(bad, 2 + STATE_DIGEST_LEN, bad + 2));
    /* a header before something that is not a person */
    assert_int_equal(state_codec_person_decode(bad, sizeof(bad), &got, err, sizeof(err)),
                     STATE_ERR_CORRUPT);
    person_free(&p);
    state_codec_buf_free(&enc);
    state_codec_buf_free(&a);
    state_codec_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_person_roundtrip_copy_equal),
        cmocka_unit_test(test_person_noop_digests),
        cmocka_unit_test(test_rejects_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
