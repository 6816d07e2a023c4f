/*
 * api_json: a strict reader of one flat object of strings; anything else is refused.
 */
#include "api_json.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* A JSON string at *p (after its opening quote) decoded into out (max n-1 bytes). Returns the
 * position after its closing quote, or NULL. \u escapes of the BMP only. */
static const char *json_string(const char *p, char *out, size_t n)
{
    size_t o = 0;
    while (*p && *p != '"') {
        unsigned c = (unsigned char)*p++;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            char e = *p++;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                c = (unsigned char)"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            } else if (e == 'u') {
                unsigned v;
                for (int k = 0; k < 4; k++)
                    if (!isxdigit((unsigned char)p[k]))
                        return NULL; /* also stops at the end of the text */
                if (sscanf(p, "%4x", &v) != 1 || v == 0)
                    return NULL;
                p += 4;
                char u[4];
                size_t k = 0;
                if (v < 0x80) {
                    u[k++] = (char)v;
                } else if (v < 0x800) {
                    u[k++] = (char)(0xc0 | v >> 6);
                    u[k++] = (char)(0x80 | (v & 0x3f));
                } else {
                    u[k++] = (char)(0xe0 | v >> 12);
                    u[k++] = (char)(0x80 | (v >> 6 & 0x3f));
                    u[k++] = (char)(0x80 | (v & 0x3f));
                }
                if (o + k >= n)
                    return NULL;
                memcpy(out + o, u, k);
                o += k;
                continue;
            } else {
                return NULL;
            }
        }
        if (o + 1 >= n)
            return NULL;
        out[o++] = (char)c;
    }
    if (*p != '"')
        return NULL;
    out[o] = '\0';
    return p + 1;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

int api_json_login(const char *body, char *user, size_t un, char *pass, size_t pn)
{
    const char *p = skip_ws(body);
    if (*p++ != '{')
        return -1;
    user[0] = pass[0] = '\0';
    p = skip_ws(p);
    if (*p == '}')
        return -1;
    for (;;) {
        char key[32], val[1024];
        if (*p++ != '"' || !(p = json_string(p, key, sizeof(key))))
            return -1;
        p = skip_ws(p);
        if (*p++ != ':')
            return -1;
        p = skip_ws(p);
        if (*p++ != '"' || !(p = json_string(p, val, sizeof(val))))
            return -1;
        char *dst = strcmp(key, "username") == 0   ? user
                    : strcmp(key, "password") == 0 ? pass
                                                   : NULL;
        size_t cap = dst == user ? un : pn;
        if (dst && strlen(val) >= cap) {
            explicit_bzero(val, sizeof(val));
            return -1;
        }
        if (dst)
            memcpy(dst, val, strlen(val) + 1);
        explicit_bzero(val, sizeof(val));
        p = skip_ws(p);
        if (*p == '}')
            break;
        if (*p++ != ',')
            return -1;
        p = skip_ws(p);
    }
    return *skip_ws(p + 1) ? -1 : 0;
}
