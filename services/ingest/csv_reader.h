/*
 * csv_reader: the bytes of a CSV file -> rows of trimmed UTF-8 fields, each row with the
 * physical line it starts on. Streaming (libcsv fed in chunks), memory bounded by the limits.
 *
 * Encoding: see encoding.h (detected over the whole file before the first row; a regular file
 * is required). Delimiter: sniffed from the first 8 KiB among the candidates (see
 * csv_reader_open). Quoting: RFC 4180 as libcsv's strict mode reads it; blank lines are skipped;
 * CR, LF and CRLF all end a line.
 *
 * Errors come in two kinds:
 *  - a bad row (CSV_READER_BAD_ROW): the row is dropped, reading goes on with the next row.
 *    A row longer than max_line_bytes, a field longer than max_field_bytes, more than
 *    max_columns fields. Memory never grows past these limits.
 *  - fatal (CSV_READER_FATAL): the file cannot be read on. Encoding problems, a NUL character,
 *    a byte order mark inside the file, broken quoting (a quote inside an unquoted field, text
 *    after a closing quote, a quoted field still open at the end of the file): after a quoting
 *    error nobody can tell where the following rows begin, and a guess could turn part of a
 *    field into a valid-looking row, so the file is refused rather than half-read.
 */
#ifndef SISOPI_CSV_READER_H
#define SISOPI_CSV_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CSV_READER_SNIFF_BYTES 8192

struct csv_reader_options {
    const char *encoding;   /* an iconv name the file is declared to be in; NULL or "auto":
                               detected (encoding.h says how, and what a declaration changes) */
    const char *delimiters; /* candidates, e.g. ",;\t"; NULL or "" = ",;\t" */
    size_t max_field_bytes; /* 0 = 4096 */
    size_t max_line_bytes;  /* one row, all its physical lines and delimiters; 0 = 65536 */
    size_t max_columns;     /* 0 = 1024 */
    /* Header names the caller expects (may be NULL): when several delimiters split the
     * sample consistently, the one whose header holds more of these names wins. */
    const char *const *expected_columns;
    size_t n_expected_columns;
};

/* Where and what. column is the 1-based field number (0: not about one field). */
struct csv_reader_error {
    int64_t line;
    int column;
    char message[400]; /* without file name and line: the caller adds them */
};

/* A row. Everything it points to belongs to the reader and stays valid until the next
 * csv_reader_next() or csv_reader_close(); the reader wipes it then. */
struct csv_reader_row {
    int64_t line;        /* physical line of the row's first character, 1-based */
    int64_t last_line;   /* physical line of its last character (> line: quoted line breaks) */
    size_t n_fields;     /* fields in the row (for a bad row: as far as counted) */
    const char **fields; /* fields[i] is column i + 1, trimmed, NUL-terminated; NULL if bad */
    const size_t *lengths;
};

enum {
    CSV_READER_FATAL = -1,
    CSV_READER_EOF = 0,
    CSV_READER_ROW = 1,
    CSV_READER_BAD_ROW = 2,
};

struct csv_reader;

/*
 * Opens path, detects its encoding and delimiter. Returns NULL with *err filled on failure
 * (unreadable, not a regular file, encoding refused, no delimiter fits). An empty file is
 * fine (the first csv_reader_next() says EOF).
 *
 * Delimiter detection: among the candidates, over the complete rows of the first 8 KiB (at
 * least the first row): a candidate fits when it splits the first row into more than one
 * field and at least half of the other rows into as many. Several fit: the one with more
 * expected_columns in its first row, then fewer quoting errors, then more matching rows, then
 * more fields wins; a tie is an error. No candidate splits the first row: a one-column file,
 * reported with the first candidate as its delimiter.
 */
struct csv_reader *csv_reader_open(const char *path, const struct csv_reader_options *opt,
                                   struct csv_reader_error *err);

/* The next row: CSV_READER_ROW (row filled), CSV_READER_BAD_ROW (row->line and err filled;
 * call again for the next row), CSV_READER_EOF, or CSV_READER_FATAL (err filled; every later
 * call returns the same error). */
int csv_reader_next(struct csv_reader *r, struct csv_reader_row *row, struct csv_reader_error *err);

/* "UTF-8", "UTF-16LE", ... (see encoding_name), or the declared encoding's name. */
const char *csv_reader_encoding(const struct csv_reader *r);
char csv_reader_delimiter(const struct csv_reader *r);
int64_t csv_reader_bytes_read(const struct csv_reader *r);
int64_t csv_reader_bytes_total(const struct csv_reader *r);

/* Bytes the reader holds in buffers right now (decoded input, libcsv's field buffer, the row).
 * Stays within a small multiple of max_line_bytes whatever the file holds. */
size_t csv_reader_memory(const struct csv_reader *r);

/* Wipes every buffer (a row may have held a password) and frees the reader. NULL is fine. */
void csv_reader_close(struct csv_reader *r);

#endif
