/* Unit tests of dir_entry: decoding the entry of an RFC 4527 read control (as slapd encodes it),
 * the attribute helpers, and refusing malformed control values without crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <lber.h>
#include <ldap.h>
#include <stdlib.h>
#include <string.h>

#include "dir_entry.h"

/* A post-read control as a server would send it: the value is a SearchResultEntry body,
 * { dn { { type1 [ values1 ] } { type2 [ values2 ] } } }. */
static LDAPControl *control(const char *dn, const char *t1, char **v1, const char *t2, char **v2)
{
    BerElement *ber = ber_alloc_t(LBER_USE_DER);
    assert_non_null(ber);
    assert_int_not_equal(ber_printf(ber, "{s{{s[v]}{s[v]}}}", dn, t1, v1, t2, v2), -1);
    struct berval bv;
    assert_int_not_equal(ber_flatten2(ber, &bv, 0), -1);
    LDAPControl *c = NULL;
    assert_int_equal(ldap_control_create(LDAP_CONTROL_POST_READ, 0, &bv, 1, &c), LDAP_SUCCESS);
    ber_free(ber, 1);
    return c;
}

static void test_read_control(void **state)
{
    (void)state;
    char *schools[] = {"Gym1", "Gym2", NULL};
    char *counter[] = {"42", NULL};
    LDAPControl *c = control("uid=max,ou=Gym1,dc=org", "ucsschoolSchool", schools,
                             "ucsschoolUsernameNextNumber", counter);
    struct dir_entry *e = dir_entry_from_control(c);
    assert_non_null(e);
    assert_string_equal(e->dn, "uid=max,ou=Gym1,dc=org");
    assert_int_equal(e->n_attrs, 2);
    assert_int_equal(dir_entry_count(e, "UCSSCHOOLSCHOOL"), 2);
    assert_string_equal(dir_entry_attr(e, "ucsschoolschool")->values[1], "Gym2");
    assert_string_equal(dir_entry_value(e, "ucsschoolUsernameNextNumber"), "42");
    assert_int_equal(dir_entry_attr(e, "ucsschoolUsernameNextNumber")->lens[0], 2);
    assert_null(dir_entry_value(e, "mail"));
    assert_int_equal(dir_entry_count(e, "mail"), 0);
    assert_null(dir_entry_attr(NULL, "mail"));
    dir_entry_free(e);
    ldap_control_free(c);
}

static void test_malformed_controls(void **state)
{
    (void)state;
    /* Every truncation of a valid value, and a few byte flips, decode to NULL or to an entry,
     * never to a crash (ASan watches). */
    char *vals[] = {"v1", "v2", NULL};
    LDAPControl *good = control("cn=x", "a", vals, "b", vals);
    size_t len = good->ldctl_value.bv_len;
    for (size_t cut = 0; cut <= len; cut++) {
        for (int flip = -1; flip<(int)cut; flip += cut> 8 ? 3 : 1) {
            LDAPControl bad = *good;
            char *buf = malloc(cut ? cut : 1);
            memcpy(buf, good->ldctl_value.bv_val, cut);
            if (flip >= 0)
                buf[flip] ^= 0x5a;
            bad.ldctl_value.bv_val = buf;
            bad.ldctl_value.bv_len = cut;
            dir_entry_free(dir_entry_from_control(&bad));
            free(buf);
        }
    }
    LDAPControl empty = *good;
    empty.ldctl_value.bv_val = NULL;
    empty.ldctl_value.bv_len = 0;
    assert_null(dir_entry_from_control(&empty));
    assert_null(dir_entry_from_control(NULL));
    ldap_control_free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_control),
        cmocka_unit_test(test_malformed_controls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
