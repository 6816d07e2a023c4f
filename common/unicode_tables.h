/*
 * unicode_tables: the generated tables behind unicode_data (scripts/gen_unicode_data.py).
 * Private to unicode_data.c and the generated unicode_tables.c; everything else uses
 * unicode_data.h. All tables are sorted by code point and cover U+0080..U+10FFFF.
 */
#ifndef SISOPI_UNICODE_TABLES_H
#define SISOPI_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

struct unicode_range {
    uint32_t lo, hi;
};

/* lo..hi, every stride-th code point from lo, maps to cp + delta. */
struct unicode_case_run {
    uint32_t lo, hi;
    int32_t delta;
    uint8_t stride;
};

/* A case mapping to more than one code point. */
struct unicode_case_special {
    uint32_t cp;
    const char *utf8;
};

/* inc 0: every code point of lo..hi maps to ascii; inc 1: to the one character
 * ascii[0] + (cp - lo). */
struct unicode_nfkd_run {
    uint32_t lo, hi;
    const char *ascii;
    uint8_t inc;
};

extern const char unicode_tables_version[];
extern const struct unicode_range unicode_alnum_ranges[];
extern const size_t unicode_alnum_ranges_count;
extern const struct unicode_range unicode_space_ranges[];
extern const size_t unicode_space_ranges_count;
extern const struct unicode_case_run unicode_lower_runs[];
extern const size_t unicode_lower_runs_count;
extern const struct unicode_case_special unicode_lower_special[];
extern const size_t unicode_lower_special_count;
extern const struct unicode_case_run unicode_upper_runs[];
extern const size_t unicode_upper_runs_count;
extern const struct unicode_case_special unicode_upper_special[];
extern const size_t unicode_upper_special_count;
extern const struct unicode_nfkd_run unicode_nfkd_runs[];
extern const size_t unicode_nfkd_runs_count;

#endif
