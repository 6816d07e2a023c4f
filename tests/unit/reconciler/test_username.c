/*
 * test_username: UCS@school's username and e-mail handlers, with the counter store played by
 * an in-memory table that follows the protocol username.h describes. Expected names marked
 * "ref" are the reference's own doctests, or were computed with a Python 3 port of its
 * pattern_replace and UsernameHandler.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "username.h"

/* The counter entries: key -> ucsschoolUsernameNextNumber; keys compare like LDAP's cn. */
struct store {
    char *key[64];
    uint64_t next[64];
    size_t n;
};

/* The reconciler's allocation: 0 for a new entry (created with 2), else the value, raised. */
static uint64_t store_allocate(struct store *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->key[i], key) == 0)
            return s->next[i]++;
    assert_true(s->n < 64);
    s->key[s->n] = strdup(key);
    s->next[s->n++] = USERNAME_COUNTER_START;
    return 0;
}

static void store_free(struct store *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->key[i]);
    s->n = 0;
}

static const char *lookup_pairs(const char *name, void *opaque)
{
    const char *const *kv = opaque;
    for (; kv && kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

struct person {
    const char *firstname, *lastname;
};

static const char *lookup_person(const char *name, void *opaque)
{
    const struct person *p = opaque;
    if (strcmp(name, "firstname") == 0)
        return p->firstname;
    if (strcmp(name, "lastname") == 0)
        return p->lastname;
    return NULL;
}

/* derive + allocate + compose; returns the name (static buffer) or "ERR: <errstr>". */
static const char *make(struct store *s, const char *scheme, scheme_lookup_fn lookup, void *opaque,
                        int max_length, const char *specials)
{
    static char out[USERNAME_OUT_MAX + 8];
    char err[512] = "";
    struct username_base b;
    if (username_derive(scheme, lookup, opaque, max_length, specials, &b, err, sizeof(err)) < 0) {
        snprintf(out, sizeof(out), "ERR: %s", err);
        return out;
    }
    uint64_t n = b.counter != SCHEME_COUNTER_NONE ? store_allocate(s, b.key) : 0;
    if (username_compose(&b, n, out, sizeof(out), err, sizeof(err)) < 0)
        snprintf(out, sizeof(out), "ERR: %s", err);
    username_base_free(&b);
    return out;
}

/* A literal scheme (no <attr>), as the reference's doctests feed format_name. */
static const char *lit(struct store *s, const char *text, int max_length)
{
    return make(s, text, NULL, NULL, max_length, ".");
}

static void test_reference_doctests(void **state)
{
    (void)state;
    struct store s = {0};
    assert_string_equal(lit(&s, "Max.Mustermann", 20), "Max.Mustermann");
    assert_string_equal(lit(&s, "Foo[COUNTER2][COUNTER2]", 20),
                        "ERR: at character 14: a second counter; a scheme may have one");
    assert_string_equal(lit(&s, ".", 20), "ERR: the username is empty");
    assert_string_equal(lit(&s, ".Max.Mustermann.", 20), "Max.Mustermann");
    assert_string_equal(lit(&s, "Max.Mustermann", 4), "Max");
    /* Every ASCII character but [A-Za-z0-9.] is removed (the scheme syntax keeps <>[] out). */
    for (int c = 1; c < 128; c++) {
        char in[8];
        if (strchr("<>[]", c) || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
            (c >= 'a' && c <= 'z') || c == '.')
            continue;
        snprintf(in, sizeof(in), "Ma%cx", c);
        assert_string_equal(lit(&s, in, 20), "Max");
    }
    assert_string_equal(lit(&s, "Max.Mustermann12.4567890", 20), "Max.Mustermann12.456");
    static const char *const brackets[] = {"v", "Max[Muster]Mann", NULL};
    assert_string_equal(make(&s, "<v>", lookup_pairs, (void *)brackets, 20, "."), "MaxMusterMann");
    assert_string_equal(lit(&s, "Max[ALWAYSCOUNTER].Mustermann", 20), "Max1.Mustermann");
    assert_string_equal(lit(&s, "Max[ALWAYSCOUNTER].Mustermann", 20), "Max2.Mustermann");
    assert_string_equal(lit(&s, "Max[ALWAYSCOUNTER].Mustermann", 20), "Max3.Mustermann");
    assert_string_equal(lit(&s, "Max[COUNTER2].Mustermann", 20), "Max4.Mustermann");
    assert_string_equal(lit(&s, "Maria[ALWAYSCOUNTER].Musterfrau", 20), "Maria1.Musterfrau");
    assert_string_equal(lit(&s, "Moritz[COUNTER2]", 20), "Moritz");
    assert_string_equal(lit(&s, "Moritz[COUNTER2]", 20), "Moritz2");
    assert_string_equal(lit(&s, "Foo[ALWAYSCOUNTER]", 20), "Foo1");
    assert_string_equal(lit(&s, "Fo-o[ALWAYSCOUNTER]", 20), "Foo2"); /* the same key "Foo" */
    assert_string_equal(lit(&s, "Fo o[ALWAYSCOUNTER]", 20), "Foo3");
    assert_string_equal(lit(&s, "aaaa[COUNTER2]bbbbcccc", 8), "aaaab");
    assert_string_equal(lit(&s, "aaaa[COUNTER2]bbbbcccc", 8), "aaaa2b");
    assert_string_equal(lit(&s, "bbbb[ALWAYSCOUNTER]ccccdddd", 8), "bbbb1c");
    assert_string_equal(lit(&s, "bbbb[ALWAYSCOUNTER]ccccdddd", 8), "bbbb2c");
    assert_string_equal(lit(&s, "..[ALWAYSCOUNTER]..", 20),
                        "ERR: nothing is left of the username once its characters are cleaned");
    assert_string_equal(lit(&s, "[ALWAYSCOUNTER]", 20),
                        "ERR: nothing is left of the username once its characters are cleaned");
    store_free(&s);
}

static void test_brief_examples(void **state)
{
    (void)state;
    struct store s = {0};
    char err[256];
    struct username_base b;
    /* max 20, COUNTER2: the key is cut to 17 characters. */
    assert_int_equal(username_derive("ingward.bohnenkaemper[COUNTER2]", NULL, NULL, 20, ".", &b,
                                     err, sizeof(err)),
                     0);
    assert_string_equal(b.key, "ingward.bohnenkae");
    assert_int_equal(b.counter, SCHEME_COUNTER_COUNTER2);
    username_base_free(&b);
    assert_int_equal(
        username_derive("jonathan.heuelmann[COUNTER2]", NULL, NULL, 20, ".", &b, err, sizeof(err)),
        0);
    assert_string_equal(b.key, "jonathan.heuelman");
    username_base_free(&b);
    assert_string_equal(lit(&s, "ingward.bohnenkaemper[COUNTER2]", 20), "ingward.bohnenkae");
    assert_string_equal(lit(&s, "ingward.bohnenkaemper[COUNTER2]", 20), "ingward.bohnenkae2");

    /* The manual's default scheme (ref). A student (max 15): cut to 12 even with an empty
     * counter; a teacher (max 20): nothing to cut. */
    static const char scheme[] = "<:umlauts><firstname>[0].<lastname>[COUNTER2]";
    struct person iw = {"Ingward", "Bohnenkämper"};
    assert_string_equal(make(&s, scheme, lookup_person, &iw, 15, "."), "I.Bohnenkaem");
    assert_string_equal(make(&s, scheme, lookup_person, &iw, 15, "."), "I.Bohnenkaem2");
    assert_string_equal(make(&s, scheme, lookup_person, &iw, 15, "."), "I.Bohnenkaem3");
    assert_string_equal(make(&s, scheme, lookup_person, &iw, 20, "."), "I.Bohnenkaemper");
    assert_string_equal(make(&s, scheme, lookup_person, &iw, 20, "."), "I.Bohnenkaemper2");
    store_free(&s);
}

static void test_shared_key(void **state)
{
    (void)state;
    struct store s = {0};
    struct person max = {"Max", "Mustermann"};
    static const char always[] = "<firstname>[ALWAYSCOUNTER]", c2[] = "<firstname>[COUNTER2]";
    assert_string_equal(make(&s, always, lookup_person, &max, 20, "."), "Max1");
    assert_string_equal(make(&s, always, lookup_person, &max, 20, "."), "Max2");
    assert_string_equal(make(&s, always, lookup_person, &max, 20, "."), "Max3");
    assert_string_equal(make(&s, c2, lookup_person, &max, 20, "."), "Max4");
    assert_int_equal(s.n, 1);
    assert_int_equal(s.next[0], 5);
    /* A COUNTER2 key used first: the name without a number, then 2. */
    struct person moritz = {"Moritz", ""};
    assert_string_equal(make(&s, c2, lookup_person, &moritz, 20, "."), "Moritz");
    assert_string_equal(make(&s, always, lookup_person, &moritz, 20, "."), "Moritz2");
    store_free(&s);
}

static void test_names(void **state)
{
    (void)state;
    static const char scheme[] = "<firstname>[0].<lastname>[COUNTER2]";
    static const struct {
        const char *first, *last, *name;
    } cases[] = {
        {"Jürgen", "Weiß", "J.Weiss"},
        {"Zoé", "Hélène-Lefèvre", "Z.HeleneLefevre"},
        {"Zoe\xcc\x81", "Beyonce\xcc\x81", "Z.Beyonce"}, /* decomposed accents */
        {"Ömer", "Çağlar", "Oe.Caglar"},                 /* "Ö" is [0], umlauts come after */
        {"Şükrü", "Yıldız", "S.Yildiz"},                 /* ref: "S.Yldz", see username.h */
        {"Łukasz", "Wiśniewski", "L.Wisniewski"},        /* ref: "Wisniewski" */
        {"Małgorzata", "Żółć", "M.Zolc"},                /* ref: "M.Zoc" */
        {"Nguyễn", "Thị Minh Khai", "N.ThiMinhKhai"},
        {"D'Angelo", "O'Neill", "D.ONeill"},
        {"Anna-Lena", "Müller-Lüdenscheidt", "A.MuellerLuedensc"},
        {"Jan", "van der Berg", "J.vanderBerg"},
        {"Ægir", "Øster", "AE.Oster"},
        {"'Anna", "Bell", "Bell"}, /* ref: the dot after a removed "'" is stripped */
        {"Eve", "", "E"},          /* ref */
        {"", "Solo", "Solo"},      /* ref: ".Solo" */
        {"Иван", "Петров", "ERR: nothing is left of the username once its characters are cleaned"},
        {"ﬁona", "Ｆｕｌｌ", "fi.Full"}, /* compatibility forms (ref) */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct store s = {0};
        struct person p = {cases[i].first, cases[i].last};
        const char *got = make(&s, scheme, lookup_person, &p, 20, ".");
        if (strcmp(got, cases[i].name) != 0)
            fail_msg("%s %s: \"%s\", want \"%s\"", cases[i].first, cases[i].last, got,
                     cases[i].name);
        store_free(&s);
    }
}

static void test_counter_overflow(void **state)
{
    (void)state;
    char err[256], out[USERNAME_OUT_MAX];
    struct username_base b;
    /* The key fills max - 3: numbers up to 999 fit, 1000 does not (UsernameToLong). */
    assert_int_equal(username_derive("abcdefghijklmnopqrstuvwxyz[ALWAYSCOUNTER]", NULL, NULL, 20,
                                     ".", &b, err, sizeof(err)),
                     0);
    assert_string_equal(b.key, "abcdefghijklmnopq");
    assert_int_equal(username_compose(&b, 999, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "abcdefghijklmnopq999");
    assert_int_equal(username_compose(&b, 1000, out, sizeof(out), err, sizeof(err)), -1);
    assert_string_equal(err, "username \"abcdefghijklmnopq1000\" is longer than 20 characters "
                             "(UsernameToLong): counter 1000 does not fit");
    username_base_free(&b);
    /* A short key leaves room: 1000 is fine. */
    assert_int_equal(
        username_derive("<:lower>Max[COUNTER2]", NULL, NULL, 20, ".", &b, err, sizeof(err)), 0);
    assert_int_equal(username_compose(&b, 1000, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "max1000");
    /* The buffer is too small. */
    assert_int_equal(username_compose(&b, 1000, out, 7, err, sizeof(err)), -1);
    username_base_free(&b);
}

static void test_specials(void **state)
{
    (void)state;
    struct store s = {0};
    /* Extra specials stay inside and are stripped at the ends. */
    assert_string_equal(make(&s, "-Anna-Lena_X-", NULL, NULL, 20, ".-_"), "Anna-Lena_X");
    assert_string_equal(make(&s, "..a.b..", NULL, NULL, 20, ""), "ab");
    /* The reference strips before it removes, so "'-max" keeps its "-": that would not pass
     * UDM's uid syntax, so it is an error here. */
    assert_string_equal(
        make(&s, "'-max", NULL, NULL, 20, "-."),
        "ERR: username \"-max\" must begin and end with a letter, a digit or \"_\"");
    /* The dot of the cut survives when a number follows it (ref). */
    assert_string_equal(make(&s, "abcdefghijklmnop.qrs[COUNTER2]", NULL, NULL, 20, "."),
                        "abcdefghijklmnop");
    assert_string_equal(make(&s, "abcdefghijklmnop.qrs[COUNTER2]", NULL, NULL, 20, "."),
                        "abcdefghijklmnop.2");
    /* Uncut, the number goes into the raw text, "." and all (ref). */
    assert_string_equal(make(&s, "max.[COUNTER2]", NULL, NULL, 20, "."), "max");
    assert_string_equal(make(&s, "max.[COUNTER2]", NULL, NULL, 20, "."), "max.2");
    store_free(&s);
    char err[128];
    struct username_base b;
    /* Stripped before the removal, so a "." behind a removed character stays in the key. */
    assert_int_equal(username_derive("'.abc[COUNTER2]", NULL, NULL, 20, ".", &b, err, sizeof(err)),
                     0);
    assert_string_equal(b.key, ".abc");
    char name[USERNAME_OUT_MAX];
    assert_int_equal(username_compose(&b, 0, name, sizeof(name), err, sizeof(err)), 0);
    assert_string_equal(name, "abc");
    username_base_free(&b);
    assert_int_equal(username_derive("x", NULL, NULL, 20, "\xc3\xa4", &b, err, sizeof(err)), -1);
    assert_string_equal(err, "allowed special characters must be printable ASCII");
    assert_int_equal(username_derive("x", NULL, NULL, 0, ".", &b, err, sizeof(err)), -1);
    assert_int_equal(username_derive("<x", NULL, NULL, 20, ".", &b, err, sizeof(err)), -1);
    assert_string_equal(err, "at character 1: \"<\" without \">\"");
    assert_null(b.key);
}

/* derive the e-mail + allocate + compose. */
static const char *mail(struct store *s, const char *scheme, const struct person *p,
                        const char *domain)
{
    static char out[USERNAME_OUT_MAX + 8];
    char err[512] = "";
    struct username_base b;
    int rc = username_email_derive(scheme, lookup_person, (void *)p, domain, &b, err, sizeof(err));
    if (rc == 1)
        return "NONE";
    if (rc < 0) {
        snprintf(out, sizeof(out), "ERR: %s", err);
        return out;
    }
    uint64_t n = b.counter != SCHEME_COUNTER_NONE ? store_allocate(s, b.key) : 0;
    if (username_compose(&b, n, out, sizeof(out), err, sizeof(err)) < 0)
        snprintf(out, sizeof(out), "ERR: %s", err);
    username_base_free(&b);
    return out;
}

static void test_email(void **state)
{
    (void)state;
    struct store s = {0};
    struct person iw = {"Ingward", "Bohnenkämper"}, al = {"Anna Lena", "Müller "};
    static const char manual[] = "<firstname>[0].<lastname>@<maildomain>";
    /* Lower-cased, umlauts kept (the e-mail scheme has no implicit <:umlauts>) (ref). */
    assert_string_equal(mail(&s, manual, &iw, "Schule.Example.ORG"),
                        "i.bohnenkämper@schule.example.org");
    assert_string_equal(
        mail(&s, "<firstname:umlauts>.<lastname:umlauts>@<maildomain>", &iw, "schule.example.org"),
        "ingward.bohnenkaemper@schule.example.org");
    assert_string_equal(mail(&s, "<firstname>.<lastname>@<maildomain>", &al, "example.org"),
                        "annalena.müller@example.org");
    /* No maildomain or no scheme: no address. */
    assert_string_equal(mail(&s, manual, &iw, NULL), "NONE");
    assert_string_equal(mail(&s, manual, &iw, ""), "NONE");
    assert_string_equal(mail(&s, NULL, &iw, "example.org"), "NONE");
    /* Counters apply to the local part; its key is the local part alone. */
    static const char counted[] = "<firstname>[0].<lastname>[ALWAYSCOUNTER]@<maildomain>";
    assert_string_equal(mail(&s, counted, &iw, "a.org"), "i.bohnenkämper1@a.org");
    assert_string_equal(mail(&s, counted, &iw, "b.org"), "i.bohnenkämper2@b.org");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.key[0], "i.bohnenkämper");
    /* Errors. */
    assert_string_equal(mail(&s, "<firstname>", &iw, "x.org"),
                        "ERR: the e-mail scheme gave an address without \"@\"");
    assert_string_equal(mail(&s, "<firstname>@<maildomain>[COUNTER2]", &iw, "x.org"),
                        "ERR: the counter of the e-mail scheme must be left of the \"@\"");
    assert_string_equal(mail(&s, "<firstname>@<maildomain>", &iw, "localhost"),
                        "ERR: email \"ingward@localhost\" is not an address like name@example.org");
    assert_string_equal(mail(&s, ".@<maildomain>", &iw, "x.org"),
                        "ERR: the e-mail address is empty");
    store_free(&s);
}

static void test_email_lengths(void **state)
{
    (void)state;
    struct store s = {0};
    char domain[260], last[300];
    memset(domain, 'd', 236);
    strcpy(domain + 236, ".org"); /* 240 characters: 13 are left for the local part */
    memset(last, 'x', 299);
    last[299] = '\0';
    struct person p = {"A", last};
    char want[300];
    snprintf(want, sizeof(want), "a.xxxxxxxxxxx@%s", domain);
    assert_string_equal(mail(&s, "<firstname>.<lastname>@<maildomain>", &p, domain), want);
    /* With a counter, the local part is cut to 10, and the number follows. */
    snprintf(want, sizeof(want), "a.xxxxxxxx@%s", domain);
    assert_string_equal(mail(&s, "<firstname>.<lastname>[COUNTER2]@<maildomain>", &p, domain),
                        want);
    snprintf(want, sizeof(want), "a.xxxxxxxx2@%s", domain);
    assert_string_equal(mail(&s, "<firstname>.<lastname>[COUNTER2]@<maildomain>", &p, domain),
                        want);
    memset(domain, 'd', 249);
    strcpy(domain + 249, ".org"); /* 253 characters and the "@": nothing left */
    assert_string_equal(mail(&s, "<firstname>@<maildomain>", &p, domain),
                        "ERR: the e-mail domain leaves no room for a name in 254 characters");
    store_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_doctests),
        cmocka_unit_test(test_brief_examples),
        cmocka_unit_test(test_shared_key),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_counter_overflow),
        cmocka_unit_test(test_specials),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_email_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
