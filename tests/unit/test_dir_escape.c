/* Unit tests of dir_escape (filter and DN value escaping, DN equality). Pure: no
 * server; libldap's own DN parser and printer (ldap_str2dn, ldap_dn2str) check that what we
 * produce means what we want. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir_escape.h"
#include "strutil.h"

static void check_filter(const char *in, const char *want)
{
    char *got = dir_escape_filter_value(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_filter_escaping(void **state)
{
    (void)state;
    check_filter("max.muster", "max.muster");
    /* An injection attempt only ever matches itself. */
    check_filter("*)(uid=*", "\\2A\\29\\28uid=\\2A");
    check_filter("a\\00b", "a\\5C00b");
    check_filter("(x)", "\\28x\\29");
    check_filter("", "");
    /* Non-ASCII bytes are hex-escaped (valid RFC 4515, slapd decodes them). */
    check_filter("Müller", "M\\C3\\BCller");
    check_filter("tab\there", "tab\\09here");
    assert_null(dir_escape_filter_value(NULL));
}

/* True if s[0..len) is UTF-8 (NUL bytes allowed): libldap's ldap_dn2str refuses anything else
 * (LDAP_ENCODING_ERROR), while ldap_str2dn accepts any \XX. */
static int is_utf8(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = u[i] < 0x80 ? 1 : (u[i] & 0xE0) == 0xC0 ? 2 : (u[i] & 0xF0) == 0xE0 ? 3 : 4;
        if (u[i] >= 0x80 && (u[i] < 0xC2 || u[i] > 0xF4))
            return 0;
        if (i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return 0;
        }
        i += n;
    }
    return 1;
}

/* The escaped value parses back, as the value of an RDN, to exactly the input. */
static void assert_dn_round_trip(const char *raw, size_t len)
{
    char *esc = dir_escape_dn_value_len(raw, len);
    assert_non_null(esc);
    char *dn = xasprintf("cn=%s,ou=Gym1,dc=example,dc=org", esc);
    LDAPDN parsed = NULL;
    assert_int_equal(ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3), LDAP_SUCCESS);
    assert_non_null(parsed);
    /* Exactly 4 RDNs: nothing in the value split the DN. */
    int n = 0;
    while (parsed[n])
        n++;
    assert_int_equal(n, 4);
    assert_null(parsed[0][1]); /* and no "+" made a multi-valued RDN */
    const struct berval *v = &parsed[0][0]->la_value;
    assert_int_equal(v->bv_len, len);
    assert_memory_equal(v->bv_val, raw, len);
    /* Serialising again with libldap and re-parsing names the same entry. */
    if (is_utf8(raw, len)) {
        char *again = NULL;
        assert_int_equal(ldap_dn2str(parsed, &again, LDAP_DN_FORMAT_LDAPV3), LDAP_SUCCESS);
        assert_int_equal(dir_dn_equal(again, dn), 1);
        ldap_memfree(again);
    }
    ldap_dnfree(parsed);
    free(dn);
    free(esc);
}

static void check_dn(const char *in, const char *want)
{
    char *got = dir_escape_dn_value(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    assert_dn_round_trip(in, strlen(in));
}

static void test_dn_escaping(void **state)
{
    (void)state;
    check_dn("max.muster", "max.muster");
    check_dn(",ou=other", "\\,ou\\=other");
    check_dn("Müller, Hans+Co <5a>; \"x\" \\ y=z",
             "Müller\\, Hans\\+Co \\<5a\\>\\; \\\"x\\\" \\\\ y\\=z");
    check_dn(" leading", "\\ leading");
    check_dn("trailing ", "trailing\\ ");
    check_dn(" ", "\\ ");
    check_dn("  two  ", "\\  two \\ ");
    check_dn("#hash", "\\#hash");
    check_dn("in#side", "in#side");
    check_dn("\\00", "\\\\00");
    check_dn("*)(uid=*", "*)(uid\\=*");
    check_dn("ctl\x01\x1f\x7f", "ctl\\01\\1F\\7F");
    check_dn("Ölgaß äöü ÄÖÜ", "Ölgaß äöü ÄÖÜ");
    check_dn("lehrer und mitarbeiter", "lehrer und mitarbeiter");
    check_dn("", "");
    /* Bytes that are not UTF-8 are hex-escaped, so the DN string stays well-formed. */
    check_dn("bad\xff\xc3", "bad\\FF\\C3");
    assert_null(dir_escape_dn_value(NULL));
}

static void test_dn_escaping_nul(void **state)
{
    (void)state;
    static const char raw[] = {'a', '\0', 'b'};
    char *got = dir_escape_dn_value_len(raw, sizeof(raw));
    assert_string_equal(got, "a\\00b");
    free(got);
    assert_dn_round_trip(raw, sizeof(raw));
}

static void test_dn_escaping_fuzz(void **state)
{
    (void)state;
    /* Every single byte value, in every position, survives the round trip. */
    char buf[4];
    for (int c = 1; c < 256; c++) {
        for (int pos = 0; pos < 3; pos++) {
            memcpy(buf, "xyz", 3);
            buf[pos] = (char)c;
            assert_dn_round_trip(buf, 3);
        }
    }
}

static void test_dn_equal(void **state)
{
    (void)state;
    const char *b = "uid=max,cn=schueler,cn=users,ou=Gym1,dc=example,dc=org";
    assert_int_equal(dir_dn_equal(b, b), 1);
    /* slapd's hex escaping vs ours. */
    assert_int_equal(dir_dn_equal("cn=M\\C3\\BCller\\2C Hans,ou=Gym1,dc=example,dc=org",
                                  "cn=Müller\\, Hans,ou=Gym1,dc=example,dc=org"),
                     1);
    /* Case of types and values, spaces after commas. */
    assert_int_equal(dir_dn_equal("UID=Max, CN=Schueler,cn=users,OU=gym1,DC=Example,dc=ORG", b), 1);
    assert_int_equal(dir_dn_equal("cn=ÄÖÜ,dc=org", "cn=äöü,dc=org"), 1);
    assert_int_equal(
        dir_dn_equal("cn=lehrer  und mitarbeiter,dc=org", "cn=lehrer und mitarbeiter,dc=org"), 1);
    /* Long names and OIDs of the naming attributes. */
    assert_int_equal(dir_dn_equal("commonName=x,organizationalUnitName=y,domainComponent=org",
                                  "cn=x,ou=y,dc=org"),
                     1);
    assert_int_equal(dir_dn_equal("2.5.4.3=x,dc=org", "cn=x,dc=org"), 1);
    /* Multi-valued RDNs in any order. */
    assert_int_equal(dir_dn_equal("cn=a+uid=b,dc=org", "uid=b+cn=a,dc=org"), 1);
    /* Differences. */
    assert_int_equal(dir_dn_equal("uid=max,ou=Gym1,dc=org", "uid=max,ou=Gym2,dc=org"), 0);
    assert_int_equal(dir_dn_equal("uid=max,dc=org", "cn=max,dc=org"), 0);
    assert_int_equal(dir_dn_equal("uid=max,dc=org", "uid=max,ou=x,dc=org"), 0);
    assert_int_equal(dir_dn_equal("cn=a\\,b,dc=org", "cn=a,cn=b,dc=org"), 0);
    assert_int_equal(dir_dn_equal("cn=a+uid=b,dc=org", "cn=a,dc=org"), 0);
    assert_int_equal(dir_dn_equal("cn=a\\00b,dc=org", "cn=a,dc=org"), 0);
    /* First RDN only: the same account before and after a move. */
    assert_int_equal(dir_dn_rdn_equal("uid=Max,cn=schueler,ou=Gym1,dc=org",
                                      "uid=max,cn=schueler,ou=limbo,dc=org"),
                     1);
    assert_int_equal(dir_dn_rdn_equal("uid=max,ou=a,dc=org", "uid=maxi,ou=a,dc=org"), 0);
    assert_int_equal(dir_dn_rdn_equal("uid=max,ou=a,dc=org", "cn=max,ou=a,dc=org"), 0);
    assert_int_equal(dir_dn_rdn_equal("uid=max,ou=a,dc=org", "not a dn"), 0);
    assert_int_equal(dir_dn_equal("cn=ß,dc=org", "cn=ss,dc=org"), 0);
    /* Invalid DNs equal nothing, not even themselves. */
    assert_int_equal(dir_dn_equal("not a dn", "not a dn"), 0);
    assert_int_equal(dir_dn_equal("cn=x,", "cn=x"), 0);
    assert_int_equal(dir_dn_equal(NULL, b), 0);
    assert_int_equal(dir_dn_equal("", ""), 1);
    assert_int_equal(dir_dn_equal("", "dc=org"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_escaping), cmocka_unit_test(test_dn_escaping),
        cmocka_unit_test(test_dn_escaping_nul), cmocka_unit_test(test_dn_escaping_fuzz),
        cmocka_unit_test(test_dn_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
