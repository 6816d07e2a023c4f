/*
 * partitioner: murmur2 exactly as Kafka's Java client computes it (and librdkafka's
 * "murmur2" partitioner), so the partition of a record_uid never depends on the producer.
 */
#include "partitioner.h"

int32_t partitioner_murmur2(const void *key, size_t len)
{
    const uint8_t *data = key;
    const uint32_t m = 0x5bd1e995;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t i = 0;

    for (; i + 4 <= len; i += 4) {
        uint32_t k = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
                     (uint32_t)data[i + 3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)data[i + 2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)data[i + 1] << 8;
        /* fall through */
    case 1:
        h ^= data[i];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

int32_t partitioner_partition(const char *key, size_t len, int32_t partition_count)
{
    uint32_t positive = (uint32_t)partitioner_murmur2(key, len) & 0x7fffffffu;
    return (int32_t)(positive % (uint32_t)partition_count);
}
