/*
 * libFuzzer target: the naming scheme engine and the username and e-mail handlers. The input
 * is split at the first two NUL bytes into a scheme, a first name and a last name, so the
 * fuzzer varies the template syntax and the values the reference's rules apply to (umlauts,
 * slices, counters, cuts).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scheme.h"
#include "username.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct values {
    const char *first, *last;
};

static const char *lookup(const char *name, void *opaque)
{
    const struct values *v = opaque;
    if (strcmp(name, "firstname") == 0)
        return v->first;
    if (strcmp(name, "lastname") == 0)
        return v->last;
    if (strcmp(name, "record_uid") == 0)
        return "R-1";
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *buf = calloc(1, size + 3); /* three NULs: every part is a string */
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    const char *scheme = buf;
    char *first = buf + strlen(buf) + 1;
    if (first > buf + size)
        first = buf + size + 1;
    char *last = first + strlen(first) + 1;
    if (last > buf + size + 2)
        last = buf + size + 2;
    struct values v = {first, last};
    char err[256], name[USERNAME_OUT_MAX];
    scheme_check(scheme, err, sizeof(err));
    struct username_base b;
    if (username_derive(scheme, lookup, &v, 20, NULL, &b, err, sizeof(err)) == 0) {
        for (uint64_t n = 0; n < 3; n++) {
            if (username_compose(&b, n * 499, name, sizeof(name), err, sizeof(err)) == 0 &&
                (strlen(name) == 0 || strlen(name) > 20))
                __builtin_trap(); /* the handler's promise: 1..max characters */
        }
        username_base_free(&b);
    }
    if (username_email_derive(scheme, lookup, &v, "example.org", &b, err, sizeof(err)) == 0) {
        username_compose(&b, 7, name, sizeof(name), err, sizeof(err));
        username_base_free(&b);
    }
    free(buf);
    return 0;
}
