/*
 * libFuzzer target: the Avro decoder of both topics (single-object framing, fingerprint lookup,
 * the length pre-checks, field mapping) on arbitrary bytes, as the reconciler and the audit
 * meet undecodable messages. A message that decodes is encoded again and must decode to the
 * same encoding (the codec is its own inverse on what it accepts).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avro_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct users_msg u;
    if (users_msg_decode(data, size, &u, err, sizeof(err)) == 0) {
        void *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        struct users_msg again;
        if (users_msg_encode(&u, &a, &na, err, sizeof(err)) == 0) {
            if (users_msg_decode(a, na, &again, err, sizeof(err)) != 0)
                __builtin_trap();
            if (users_msg_encode(&again, &b, &nb, err, sizeof(err)) != 0 || na != nb ||
                memcmp(a, b, na) != 0)
                __builtin_trap();
            users_msg_free(&again);
        }
        free(a);
        free(b);
    }
    users_msg_free(&u);
    struct event e;
    if (event_decode(data, size, &e, err, sizeof(err)) == 0) {
        void *a = NULL;
        size_t na = 0;
        if (event_encode(&e, &a, &na, err, sizeof(err)) == 0) {
            struct event again;
            if (event_decode(a, na, &again, err, sizeof(err)) != 0)
                __builtin_trap();
            event_free(&again);
        }
        free(a);
    }
    event_free(&e);
    return 0;
}
