/*
 * unicode_data: lookups in the generated tables (unicode_tables.c); ASCII is answered here.
 */
#include "unicode_data.h"

#include <string.h>

#include "unicode_tables.h"

const char *unicode_data_version(void)
{
    return unicode_tables_version;
}

/* Index of the last of n sorted entries (size bytes each) whose first member, a uint32_t, is
 * <= cp; -1 if there is none. Every table entry starts with its code point. */
static ptrdiff_t find_le(const void *table, size_t n, size_t size, uint32_t cp)
{
    const unsigned char *t = table;
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, found = -1;
    while (lo <= hi) {
        ptrdiff_t mid = lo + (hi - lo) / 2;
        uint32_t key;
        memcpy(&key, t + (size_t)mid * size, sizeof(key));
        if (key <= cp) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

static bool in_ranges(const struct unicode_range *r, size_t n, uint32_t cp)
{
    ptrdiff_t i = find_le(r, n, sizeof(*r), cp);
    return i >= 0 && cp <= r[i].hi;
}

bool unicode_is_alnum(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
    return in_ranges(unicode_alnum_ranges, unicode_alnum_ranges_count, cp);
}

bool unicode_is_space(uint32_t cp)
{
    if (cp < 0x80)
        return cp == ' ' || (cp >= '\t' && cp <= '\r') || (cp >= 0x1C && cp <= 0x1F);
    return in_ranges(unicode_space_ranges, unicode_space_ranges_count, cp);
}

static size_t put_utf8(uint32_t cp, char *out)
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static size_t map_case(uint32_t cp, const struct unicode_case_run *runs, size_t n_runs,
                       const struct unicode_case_special *sp, size_t n_sp, char *out)
{
    ptrdiff_t i = find_le(sp, n_sp, sizeof(*sp), cp);
    if (i >= 0 && sp[i].cp == cp) {
        size_t len = strlen(sp[i].utf8);
        memcpy(out, sp[i].utf8, len);
        return len;
    }
    i = find_le(runs, n_runs, sizeof(*runs), cp);
    if (i >= 0 && cp <= runs[i].hi && (cp - runs[i].lo) % runs[i].stride == 0)
        cp = (uint32_t)((int64_t)cp + runs[i].delta);
    return put_utf8(cp, out);
}

size_t unicode_lower(uint32_t cp, char out[UNICODE_CASE_MAX])
{
    if (cp < 0x80) {
        out[0] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
        return 1;
    }
    return map_case(cp, unicode_lower_runs, unicode_lower_runs_count, unicode_lower_special,
                    unicode_lower_special_count, out);
}

size_t unicode_upper(uint32_t cp, char out[UNICODE_CASE_MAX])
{
    if (cp < 0x80) {
        out[0] = (char)(cp >= 'a' && cp <= 'z' ? cp - 32 : cp);
        return 1;
    }
    return map_case(cp, unicode_upper_runs, unicode_upper_runs_count, unicode_upper_special,
                    unicode_upper_special_count, out);
}

size_t unicode_nfkd_ascii(uint32_t cp, char out[UNICODE_NFKD_ASCII_MAX])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    ptrdiff_t i =
        find_le(unicode_nfkd_runs, unicode_nfkd_runs_count, sizeof(unicode_nfkd_runs[0]), cp);
    if (i < 0 || cp > unicode_nfkd_runs[i].hi)
        return 0;
    const struct unicode_nfkd_run *r = &unicode_nfkd_runs[i];
    if (r->inc) {
        out[0] = (char)(r->ascii[0] + (char)(cp - r->lo));
        return 1;
    }
    size_t len = strlen(r->ascii);
    memcpy(out, r->ascii, len);
    return len;
}
