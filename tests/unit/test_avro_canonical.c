/*
 * test_avro_canonical: Parsing Canonical Form and CRC-64-AVRO against the Avro spec's vectors,
 * so that our fingerprints match every other Avro implementation's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "avro_canonical.h"

static int64_t fp_of(const char *s)
{
    return (int64_t)avro_fingerprint64(s, strlen(s));
}

/* The vectors every Avro implementation checks (share/test/data/schema-tests.txt). */
static void test_fingerprint_primitives(void **state)
{
    (void)state;
    assert_int_equal(fp_of("\"null\""), 7195948357588979594);
    assert_int_equal(fp_of("\"boolean\""), -6970731678124411036);
    assert_int_equal(fp_of("\"int\""), 8247732601305521295);
    assert_int_equal(fp_of("\"long\""), -3434872931120570953);
    assert_int_equal(fp_of("\"float\""), 5583340709985441680);
    assert_int_equal(fp_of("\"double\""), -8181574048448539266);
    assert_int_equal(fp_of("\"bytes\""), 5746618253357095269);
    assert_int_equal(fp_of("\"string\""), -8142146995180207161);
    /* avro-c rejects an empty union, but its fingerprint is still a spec vector. */
    assert_int_equal(fp_of("[]"), -1241056759729112623);
}

static void test_fingerprint_empty(void **state)
{
    (void)state;
    assert_true(avro_fingerprint64("", 0) == AVRO_FINGERPRINT_EMPTY);
    assert_true(avro_fingerprint64(NULL, 0) == AVRO_FINGERPRINT_EMPTY);
}

struct vector {
    const char *input;
    const char *canonical;
    int64_t fingerprint;
};

/* From the spec's test file: input schema, canonical form, fingerprint. */
static const struct vector spec_vectors[] = {
    {"\"null\"", "\"null\"", 7195948357588979594},
    {"{\"type\":\"null\"}", "\"null\"", 7195948357588979594},
    {"{\"type\":\"int\"}", "\"int\"", 8247732601305521295},
    {"{\"type\":\"string\"}", "\"string\"", -8142146995180207161},
    {"[ \"int\"  ]", "[\"int\"]", -5232228896498058493},
    {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]", 5392556393470105090},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", 5916914534497305771},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}", -4616218487480524110},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"Useful info\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922},
    {"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], \"type\":\"record\", "
     "\"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}]}",
     7843277075252814651},
    {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", \"default\":true},\n"
     "{\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\",\"type\":\"int\"}],"
     "\"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"},"
     "{\"name\":\"f2\",\"type\":\"int\"}]}",
     -4860222112080293046},
    {"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
     "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}", -6342190197741309591},
    {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"symbols\":[\"A1\", \"A2\"]}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
     -4448647247586288245},
    {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
     "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}", 1756455273707447556},
    {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"size\":32}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}", -3064184465700546786},
    {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
     "{\"type\":\"array\",\"items\":\"null\"}", -589620603366471059},
    {"{ \"values\":\"string\", \"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"string\"}",
     -8732877298790414990},
    {"{\"name\":\"PigValue\",\"type\":\"record\",\n"
     "   \"fields\":[{\"name\":\"value\", \"type\":[\"null\", \"int\", \"long\", \"PigValue\"]}]}",
     "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":"
     "[\"null\",\"int\",\"long\",\"PigValue\"]}]}",
     -1759257747318642341},
};

static char *pcf_of(const char *json)
{
    avro_schema_t s;
    char *out = NULL, err[256];

    if (avro_schema_from_json_length(json, strlen(json), &s) != 0)
        fail_msg("avro-c rejects %s: %s", json, avro_strerror());
    if (avro_canonical_form(s, &out, err, sizeof(err)) != 0)
        fail_msg("canonical form of %s: %s", json, err);
    avro_schema_decref(s);
    return out;
}

static void test_spec_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(spec_vectors) / sizeof(spec_vectors[0]); i++) {
        const struct vector *v = &spec_vectors[i];
        char *pcf = pcf_of(v->input);
        assert_string_equal(pcf, v->canonical);
        assert_int_equal(fp_of(pcf), v->fingerprint);
        free(pcf);
    }
}

/* Everything the form must drop or normalise at once: doc, aliases, defaults, order,
 * logicalType, namespaces inherited by nested types, a named type reused by name (including
 * across namespaces), key order and whitespace. The expected text was derived by hand from the
 * spec and cross-checked with an independent implementation. */
static void test_nested_named_types(void **state)
{
    (void)state;
    const char *in =
        "{ \"doc\": \"outer\", \"type\": \"record\", \"namespace\": \"org.ex\", \"name\": "
        "\"Outer\","
        "  \"aliases\": [\"Old\"],"
        "  \"fields\": ["
        "    {\"name\": \"ts\", \"doc\": \"when\", \"default\": 0,"
        "     \"type\": {\"type\": \"long\", \"logicalType\": \"timestamp-millis\"}},"
        "    {\"name\": \"kind\", \"aliases\": [\"k\"],"
        "     \"type\": {\"symbols\": [\"A\", \"B\"], \"type\": \"enum\", \"name\": \"Kind\","
        "                \"doc\": \"x\", \"default\": \"A\"}},"
        "    {\"name\": \"inner\", \"type\": {\"type\": \"record\", \"name\": \"Inner\","
        "      \"namespace\": \"other\", \"fields\": ["
        "        {\"name\": \"k2\", \"type\": \"org.ex.Kind\", \"order\": \"ignore\"},"
        "        {\"name\": \"h\", \"type\": {\"type\": \"fixed\", \"name\": \"Hash\", \"size\": "
        "16}}"
        "      ]}},"
        "    {\"name\": \"opt\", \"default\": null,"
        "     \"type\": [\"null\", \"Kind\", \"other.Inner\", {\"type\": \"map\","
        "               \"values\": {\"type\": \"array\", \"items\": \"other.Hash\"}}]}"
        "  ]}";
    const char *want =
        "{\"name\":\"org.ex.Outer\",\"type\":\"record\",\"fields\":["
        "{\"name\":\"ts\",\"type\":\"long\"},"
        "{\"name\":\"kind\",\"type\":{\"name\":\"org.ex.Kind\",\"type\":\"enum\","
        "\"symbols\":[\"A\",\"B\"]}},"
        "{\"name\":\"inner\",\"type\":{\"name\":\"other.Inner\",\"type\":\"record\",\"fields\":["
        "{\"name\":\"k2\",\"type\":\"org.ex.Kind\"},"
        "{\"name\":\"h\",\"type\":{\"name\":\"other.Hash\",\"type\":\"fixed\",\"size\":16}}]}},"
        "{\"name\":\"opt\",\"type\":[\"null\",\"org.ex.Kind\",\"other.Inner\","
        "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"other.Hash\"}}]}]}";
    char *pcf = pcf_of(in);
    assert_string_equal(pcf, want);
    /* The canonical form is a fixed point. */
    char *again = pcf_of(pcf);
    assert_string_equal(again, pcf);
    assert_int_equal(fp_of(pcf), 4602176160982726823);
    free(again);
    free(pcf);
}

static void test_no_schema(void **state)
{
    (void)state;
    char *out = (char *)1, err[128] = "";
    assert_int_equal(avro_canonical_form(NULL, &out, err, sizeof(err)), -1);
    assert_null(out);
    assert_true(err[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_primitives),
        cmocka_unit_test(test_fingerprint_empty),
        cmocka_unit_test(test_spec_vectors),
        cmocka_unit_test(test_nested_named_types),
        cmocka_unit_test(test_no_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
