/* Unit tests of partitioner: Kafka's own murmur2 vectors, and agreement with librdkafka. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

#include "partitioner.h"

/* From Kafka's UtilsTest.testMurmur2 (org.apache.kafka.common.utils). */
static void test_kafka_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        int32_t hash;
    } v[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_int_equal(partitioner_murmur2(v[i].key, strlen(v[i].key)), v[i].hash);
}

/* librdkafka's murmur2 partitioner is what Java-compatible producers use; ours must agree
 * for every key length and partition count. */
static void test_agrees_with_librdkafka(void **state)
{
    (void)state;
    char key[64];
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(key, sizeof(key), "rec-%d-%s", i * 7919, i % 3 ? "Müller" : "x");
        for (int32_t parts = 1; parts <= 13; parts += 4) {
            int32_t theirs =
                rd_kafka_msg_partitioner_murmur2(NULL, key, (size_t)len, parts, NULL, NULL);
            assert_int_equal(partitioner_partition(key, (size_t)len, parts), theirs);
        }
    }
}

static void test_range_and_spread(void **state)
{
    (void)state;
    int counts[12] = {0};
    char key[32];
    for (int i = 0; i < 12000; i++) {
        int len = snprintf(key, sizeof(key), "%d", i);
        int32_t p = partitioner_partition(key, (size_t)len, 12);
        assert_true(p >= 0 && p < 12);
        counts[p]++;
    }
    /* A sane hash spreads 12000 keys over 12 partitions roughly evenly. */
    for (int p = 0; p < 12; p++)
        assert_true(counts[p] > 700 && counts[p] < 1300);
    assert_int_equal(partitioner_partition("", 0, 12), partitioner_partition("", 0, 12));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka_vectors),
        cmocka_unit_test(test_agrees_with_librdkafka),
        cmocka_unit_test(test_range_and_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
