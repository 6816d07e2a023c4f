/*
 * libFuzzer target: the Avro decoder of both topics (single-object framing, fingerprint lookup,
 * the length pre-checks, field mapping) on arbitrary bytes, as the reconciler and the audit
 * meet undecodable messages. A message that decodes is encoded again and must decode to the
 * same encoding (the codec is its own inverse on what it accepts). The direct UserRecord path
 * (users_wire) must agree with the generic one on every input: same result, same error, and
 * structs and encodings that are byte for byte the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avro_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* users_msg_decode (direct where it can) against the generic path alone. */
static void paths_agree(const uint8_t *data, size_t size)
{
    char e1[256] = "", e2[256] = "";
    struct users_msg a, g;
    int ra = users_msg_decode(data, size, &a, e1, sizeof(e1));
    int rg = users_msg_decode_generic(data, size, &g, e2, sizeof(e2));
    if (ra != rg || (ra != 0 && strcmp(e1, e2) != 0))
        __builtin_trap();
    if (ra == 0) {
        void *x = NULL, *y = NULL, *z = NULL;
        size_t nx = 0, ny = 0, nz = 0;
        int rx = users_msg_encode_generic(&a, &x, &nx, e1, sizeof(e1));
        int ry = users_msg_encode_generic(&g, &y, &ny, e2, sizeof(e2));
        int rz = users_msg_encode(&a, &z, &nz, e2, sizeof(e2));
        if (rx != ry || rx != rz || nx != ny || nx != nz || (rx == 0 && memcmp(x, y, nx) != 0) ||
            (rx == 0 && memcmp(x, z, nx) != 0))
            __builtin_trap();
        free(x);
        free(y);
        free(z);
        users_msg_free(&a);
        users_msg_free(&g);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct users_msg u;
    paths_agree(data, size);
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
