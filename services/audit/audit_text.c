/*
 * audit_text: gmtime_r + strftime; times before 1970 floor like the calendar does.
 */
#include "audit_text.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "strutil.h"

static void split(int64_t ms, time_t *sec, int *milli)
{
    int64_t s = ms / 1000, r = ms % 1000;
    if (r < 0) {
        s--;
        r += 1000;
    }
    *sec = (time_t)s;
    *milli = (int)r;
}

void audit_text_time_ms(int64_t unix_ms, char out[AUDIT_TIME_SIZE])
{
    time_t t;
    int milli;
    struct tm tm;
    char buf[AUDIT_TIME_SIZE];
    split(unix_ms, &t, &milli);
    if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, AUDIT_TIME_SIZE, "?");
        return;
    }
    snprintf(out, AUDIT_TIME_SIZE, "%.24s.%03dZ", buf, milli);
}

void audit_text_time_s(int64_t unix_ms, char out[AUDIT_TIME_SIZE])
{
    time_t t;
    int milli;
    struct tm tm;
    split(unix_ms, &t, &milli);
    if (!gmtime_r(&t, &tm) || strftime(out, AUDIT_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, AUDIT_TIME_SIZE, "?");
}

char *audit_text_join(char *const *v, size_t n, const char *sep)
{
    size_t len = 1, sl = strlen(sep);
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + (i ? sl : 0);
    char *s = xmalloc(len), *p = s;
    for (size_t i = 0; i < n; i++) {
        if (i) {
            memcpy(p, sep, sl);
            p += sl;
        }
        size_t k = strlen(v[i]);
        memcpy(p, v[i], k);
        p += k;
    }
    *p = '\0';
    return s;
}

int audit_text_width(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80; /* UTF-8 continuation bytes take no column */
    return n;
}

void audit_text_put(FILE *f, const char *s, int width)
{
    for (const char *p = s; p && *p; p++) {
        unsigned char c = (unsigned char)*p;
        fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
    }
    for (int n = audit_text_width(s); n < width; n++)
        fputc(' ', f);
}
