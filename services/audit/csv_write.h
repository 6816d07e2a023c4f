/*
 * csv_write: CSV for spreadsheets, as Python's csv module writes its "excel" dialect with
 * QUOTE_ALL (the reference's summary file), plus a guard against formula injection.
 *
 * Every field is quoted with ", an embedded " is doubled, rows end with CRLF; a NULL field is
 * written as "". A field that starts with = + - @ TAB or CR gets a leading ' (OWASP's advice on
 * CSV injection), because the files are opened in spreadsheets that would run it as a formula.
 */
#ifndef SISOPI_CSV_WRITE_H
#define SISOPI_CSV_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Whether a spreadsheet could take s for a formula: it starts with = + - @ TAB or CR. */
bool csv_write_needs_guard(const char *s);

/* Writes one row of n fields. Returns 0, or -1 when the stream reports an error. */
int csv_write_row(FILE *f, const char *const *fields, size_t n);

#endif
