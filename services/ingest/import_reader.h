/*
 * import_reader: one school's CSV export -> validated struct user_records, one per row, streaming.
 * Applies the header mapping and every row rule of docs/reference.md §1 / SiSoPi §2.3 before a
 * record leaves; plaintext passwords never leave it (they are hashed here, SHA-512 crypt).
 *
 * The file: see csv_reader.h (encoding, delimiter, quoting, limits). The first non-blank row
 * is the header; header names are trimmed and compared case-sensitively with the mapping.
 *
 * Fatal (import_reader_open returns NULL, or import_reader_next -1): the job or the mapping is
 * incomplete, a mapped column is missing from the header (and not __ignore or in
 * allowed_missing_columns; all missing ones are named), a mapped column appears twice in the
 * header, a mandatory column (record_uid, firstname, lastname) is missing, the header row is
 * itself bad, and every fatal csv_reader error (encoding, quoting, NUL, inner BOM).
 *
 * Row errors (import_reader_next 2; reading goes on), one per row, the first found:
 * a field count other than the header's; a row over the csv limits; a control character
 * (U+0000..U+001F, U+007F..U+009F) in a mapped value; an empty record_uid, or one with
 * non-printable characters; a record_uid already seen in this file (ASCII case-insensitively,
 * as the directory compares it; the row that had it first keeps it, whether or not that row was
 * valid); an empty firstname or lastname; a source_uid other than the job's (compared exactly);
 * a school or schools value other than the job's school (import_fields_same_school; an empty
 * cell means the job's); a bad class (import_fields_classes); a bad birthday or
 * email; a password shorter than password_length characters. Unmapped columns are not looked at.
 * A row whose fields are all empty (";;;;", left behind by spreadsheets) is skipped like a
 * blank line: it names nobody, and failing the import over it would help no one.
 *
 * The empty file: a file with no row at all (0 bytes, only a BOM, only blank lines) has no
 * header, so it lacks the mandatory columns: import_reader_open refuses it (line 0). A
 * header-only file is checked like any other and gives 0 records: the caller must guard it
 * (it would remove every person of the school/role).
 */
#ifndef SISOPI_IMPORT_READER_H
#define SISOPI_IMPORT_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "records.h"

/* What is imported. Nothing is copied out of cfg: it must outlive the reader. The strings
 * are copied at open. */
struct import_job {
    const struct import_config *cfg;
    const char *school; /* required: the job school (str_is_school_name) */
    enum role role;
    const char *source_uid; /* NULL or "": cfg->source_uid; one of them is required */
    const char *import_id;  /* required, copied into every record */
    bool dry_run;
    int current_year; /* decides two-digit birthday years; 0 = this year, local time */
    /* Validation only: check passwords but do not hash them (SHA-512 crypt costs ~2 ms a
     * row); records then carry no password_hash. */
    bool skip_password_hash;
};

struct import_error {
    int64_t line;          /* physical line of the row (its first line); 0: not about a line */
    int column;            /* 1-based CSV column; 0: not about one column */
    char column_name[128]; /* header name of that column, if known */
    char record_uid[128];  /* of the row, when it was read before the error */
    char message[400];     /* what is wrong; no file name or line (the caller adds them) */
    bool fatal;
};

struct import_reader;

/* Opens path for job, reads its header and checks the mapping. NULL with *err on failure. */
struct import_reader *import_reader_open(const char *path, const struct import_job *job,
                                         struct import_error *err);

/*
 * The next row. *out is overwritten (it must not own anything); on 1 the caller owns its
 * members and frees them with user_record_free(). Returns 1 = a record, 0 = end of file,
 * 2 = this row is bad (*err filled, *out left empty; call again for the next row),
 * -1 = fatal (*err filled; stop).
 */
int import_reader_next(struct import_reader *r, struct user_record *out, struct import_error *err);

const char *import_reader_encoding(const struct import_reader *r); /* "UTF-8", ... */
char import_reader_delimiter(const struct import_reader *r);
int64_t import_reader_bytes_read(const struct import_reader *r);
int64_t import_reader_bytes_total(const struct import_reader *r);

/* Frees the reader and wipes its buffers. NULL is fine. */
void import_reader_close(struct import_reader *r);

#endif
