/*
 * csv_reader: libcsv does the unquoting; a small scanner running over the same bytes mirrors
 * libcsv's strict state machine to know what libcsv cannot tell us: the physical line of every
 * row, where a row ends before libcsv has buffered it (so an oversized row can be skipped in
 * bounded memory and libcsv restarted on the next one), and where quoting breaks.
 */
#include "csv_reader.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoding.h"
#include "strutil.h"
#include "text_norm.h"

#define BUF_SIZE            65536
#define DEFAULT_DELIMITERS  ",;\t"
#define DEFAULT_MAX_FIELD   4096
#define DEFAULT_MAX_LINE    65536
#define DEFAULT_MAX_COLUMNS 1024
#define CSV_OPTIONS         (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)

enum scan_state { S_ROW_START, S_FIELD_START, S_UNQUOTED, S_QUOTED, S_QUOTE_SEEN };
enum scan_event { EV_NONE, EV_ROW_END, EV_FATAL };
enum row_problem { P_NONE, P_LINE_TOO_LONG, P_FIELD_TOO_BIG, P_TOO_MANY_COLUMNS };

struct csv_reader {
    int fd;
    int64_t size;
    enum encoding enc;
    struct encoding_decoder *dec;
    char delim;
    size_t max_field, max_line, max_columns;

    /* Decoded UTF-8; at open it holds the sniffing sample, which is then parsed like the rest. */
    unsigned char *buf;
    size_t cap, len, pos;
    bool eof;

    /* The scanner (see the top of the file). */
    enum scan_state st;
    bool space_after_quote;
    bool prev_cr;
    int bom_match;
    int64_t line;                    /* of the byte being scanned */
    int64_t row_line, row_last_line; /* row_line 0: no row begun */
    size_t row_bytes;
    size_t field_no; /* 1-based field of the byte being scanned */
    int64_t quote_line;
    size_t quote_field;
    bool skipping; /* the row is too long: scan to its end without libcsv */

    struct csv_parser csv;
    bool csv_ready;
    int rows_ended; /* row ends libcsv reported for this row: must become exactly 1 */
    size_t n_seen;  /* fields libcsv delivered for this row */
    enum row_problem problem;
    size_t problem_col, problem_len;

    /* Fields of the current row: trimmed copies, NUL-terminated, back to back. */
    /* A fatal error is final: every later call repeats it. */
    bool failed;
    struct csv_reader_error failure;

    char *arena;
    size_t arena_len, arena_cap;
    size_t *offs, *lens;
    const char **fieldv;
    size_t n_stored, fields_cap;
};

/* libcsv's field buffer may hold a password: wipe every block it gives back. */
static void *wiping_realloc(void *p, size_t n)
{
    void *q = malloc(n);
    if (!q)
        return NULL;
    if (p) {
        size_t old = malloc_usable_size(p);
        memcpy(q, p, old < n ? old : n);
        explicit_bzero(p, old);
        free(p);
    }
    return q;
}

static void wiping_free(void *p)
{
    if (p)
        explicit_bzero(p, malloc_usable_size(p));
    free(p);
}

static void parser_init(struct csv_parser *p, char delim)
{
    csv_init(p, CSV_OPTIONS);
    csv_set_delim(p, (unsigned char)delim);
    csv_set_realloc_func(p, wiping_realloc);
    csv_set_free_func(p, wiping_free);
}

__attribute__((format(printf, 4, 5))) static int fail(struct csv_reader_error *err, int64_t line,
                                                      size_t column, const char *fmt, ...)
{
    err->line = line;
    err->column = (int)column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return CSV_READER_FATAL;
}

static const char *delim_name(char d, char *buf, size_t n)
{
    if (d == '\t')
        return "TAB";
    snprintf(buf, n, "'%c'", d);
    return buf;
}

/* ---- delimiter sniffing ---- */

struct sniff {
    size_t rows, fields, header_fields, matching, hits;
    bool error;
    const struct csv_reader_options *opt;
};

static void sniff_field(void *s, size_t len, void *data)
{
    struct sniff *c = data;
    c->fields++;
    if (c->rows > 0 || !s)
        return;
    size_t off, n;
    text_norm_trim_span(s, len, &off, &n);
    for (size_t i = 0; i < c->opt->n_expected_columns; i++) {
        const char *e = c->opt->expected_columns[i];
        if (e && strlen(e) == n && memcmp(e, (char *)s + off, n) == 0) {
            c->hits++;
            break;
        }
    }
}

static void sniff_row(int ch, void *data)
{
    struct sniff *c = data;
    (void)ch;
    if (c->rows == 0)
        c->header_fields = c->fields;
    else if (c->fields == c->header_fields)
        c->matching++;
    c->rows++;
    c->fields = 0;
}

static void sniff_one(const unsigned char *s, size_t n, bool whole, char d, struct sniff *c)
{
    struct csv_parser p;
    parser_init(&p, d);
    /* Only complete rows count; a quoting error ends the sample for this candidate. */
    if (csv_parse(&p, s, n, sniff_field, sniff_row, c) < n || csv_error(&p) != CSV_SUCCESS)
        c->error = true;
    else if (whole)
        csv_fini(&p, sniff_field, sniff_row, c);
    csv_free(&p);
}

/* >0 when a is the better candidate, <0 when b is, 0 for a tie. */
static int sniff_cmp(const struct sniff *a, const struct sniff *b)
{
    if (a->hits != b->hits)
        return a->hits > b->hits ? 1 : -1;
    if (a->error != b->error)
        return a->error ? -1 : 1;
    if (a->matching != b->matching)
        return a->matching > b->matching ? 1 : -1;
    if (a->header_fields != b->header_fields)
        return a->header_fields > b->header_fields ? 1 : -1;
    return 0;
}

static void sniff_explain(char d, const struct sniff *c, char *out, size_t n)
{
    char nb[8];
    size_t len = strlen(out);
    const char *sep = len ? "; " : "";
    if (c->header_fields <= 1)
        snprintf(out + len, n - len, "%s%s: no split of the first row", sep,
                 delim_name(d, nb, sizeof(nb)));
    else
        snprintf(out + len, n - len,
                 "%s%s: %zu fields in the first row, but only %zu of the %zu "
                 "rows after it have as many%s",
                 sep, delim_name(d, nb, sizeof(nb)), c->header_fields, c->matching, c->rows - 1,
                 c->error ? " (and a quoting error)" : "");
}

static int sniff_delimiter(struct csv_reader *r, const char *cands,
                           const struct csv_reader_options *opt, const unsigned char *s, size_t n,
                           bool whole, struct csv_reader_error *err)
{
    size_t nc = strlen(cands);
    struct sniff c[8], none = {0};
    int best = -1, tie = -1;
    bool any_split = false;
    for (size_t i = 0; i < nc; i++) {
        c[i] = none;
        c[i].opt = opt;
        sniff_one(s, n, whole, cands[i], &c[i]);
        bool fits =
            c[i].header_fields > 1 && (c[i].rows == 1 || c[i].matching * 2 >= c[i].rows - 1);
        any_split |= c[i].header_fields > 1;
        int cmp = best < 0 ? 1 : sniff_cmp(&c[i], &c[best]);
        if (fits && cmp > 0) {
            best = (int)i;
            tie = -1;
        } else if (fits && cmp == 0) {
            tie = (int)i;
        }
    }
    if (best >= 0 && tie < 0) {
        r->delim = cands[best];
        return 0;
    }
    if (!any_split) { /* a one-column file */
        r->delim = cands[0];
        return 0;
    }
    char why[300] = "", b1[8], b2[8];
    if (best >= 0)
        return fail(err, 1, 0,
                    "cannot tell the delimiter: %s and %s both split the first %zu "
                    "rows into %zu fields; set import.csv.delimiters to the one the file uses",
                    delim_name(cands[best], b1, sizeof(b1)), delim_name(cands[tie], b2, sizeof(b2)),
                    c[best].rows, c[best].header_fields);
    for (size_t i = 0; i < nc; i++)
        sniff_explain(cands[i], &c[i], why, sizeof(why));
    return fail(err, 1, 0,
                "cannot detect the delimiter from the first %d bytes (%s): the rows "
                "do not have a consistent number of fields",
                CSV_READER_SNIFF_BYTES, why);
}

/* ---- reading and scanning ---- */

static int refill(struct csv_reader *r, struct csv_reader_error *err)
{
    char why[300];
    if (r->eof)
        return 0;
    explicit_bzero(r->buf, r->len);
    r->len = r->pos = 0;
    ssize_t n = encoding_decoder_read(r->dec, r->buf, r->cap, why, sizeof(why));
    if (n < 0)
        return fail(err, r->line, r->row_line ? r->field_no : 0, "%s", why);
    if (n == 0)
        r->eof = true;
    r->len = (size_t)n;
    return n > 0;
}

/* Bytes up to and including the line break that ends the first non-blank line; 0 if s[0..n)
 * does not hold one. */
static size_t first_line_end(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    for (; i < n; i++) {
        if (s[i] == '\r' || s[i] == '\n')
            return i + 1;
    }
    return 0;
}

/* Reads the sniffing sample: CSV_READER_SNIFF_BYTES, and at least the first non-blank line. */
static int read_sample(struct csv_reader *r, struct csv_reader_error *err)
{
    char why[300];
    size_t limit = CSV_READER_SNIFF_BYTES + r->max_line + 16;
    while (!r->eof && r->len < limit) {
        if (r->len >= CSV_READER_SNIFF_BYTES && first_line_end(r->buf, r->len))
            break;
        if (r->cap - r->len < 16) {
            unsigned char *nb = xmalloc(r->cap * 2);
            memcpy(nb, r->buf, r->len);
            explicit_bzero(r->buf, r->cap);
            free(r->buf);
            r->buf = nb;
            r->cap *= 2;
        }
        ssize_t n =
            encoding_decoder_read(r->dec, r->buf + r->len, r->cap - r->len, why, sizeof(why));
        if (n < 0 && r->len > 0)
            break; /* the rows before the error are read first; the error comes on refill */
        if (n < 0)
            return fail(err, 1, 0, "%s", why);
        if (n == 0)
            r->eof = true;
        r->len += (size_t)n;
    }
    return 0;
}

static bool is_blank(const struct csv_reader *r, unsigned char c)
{
    return (c == ' ' || c == '\t') && c != (unsigned char)r->delim;
}

static void begin_row(struct csv_reader *r)
{
    r->row_line = r->line;
    r->row_bytes = 0;
    r->field_no = 1;
}

static int scan_quoted_end(struct csv_reader *r, unsigned char c, bool term,
                           struct csv_reader_error *err)
{
    if (c == (unsigned char)r->delim) {
        r->field_no++;
        r->st = S_FIELD_START;
    } else if (term) {
        return EV_ROW_END;
    } else if (c == ' ' || c == '\t') {
        r->space_after_quote = true;
    } else if (c == '"' && !r->space_after_quote) {
        r->st = S_QUOTED; /* a doubled quote */
    } else {
        fail(err, r->line, r->field_no,
             "text after the closing quote of a quoted field (inside quotes, write a quote as "
             "two quotes: \"a \"\"b\"\" c\")");
        return EV_FATAL;
    }
    return EV_NONE;
}

/* One byte through the scanner. Mirrors libcsv 3.0.3 in strict mode. */
static int scan_fields(struct csv_reader *r, unsigned char c, bool term,
                       struct csv_reader_error *err)
{
    switch (r->st) {
    case S_ROW_START:
        if (term || is_blank(r, c))
            return EV_NONE;
        begin_row(r);
        r->st = S_FIELD_START; /* the byte is the start of the first field */
        return scan_fields(r, c, term, err);
    case S_FIELD_START:
        if (is_blank(r, c))
            return EV_NONE;
        if (term)
            return EV_ROW_END;
        if (c == (unsigned char)r->delim) {
            r->field_no++;
        } else if (c == '"') {
            r->st = S_QUOTED;
            r->quote_line = r->line;
            r->quote_field = r->field_no;
        } else {
            r->st = S_UNQUOTED;
        }
        return EV_NONE;
    case S_UNQUOTED:
        if (c == (unsigned char)r->delim) {
            r->field_no++;
            r->st = S_FIELD_START;
        } else if (term) {
            return EV_ROW_END;
        } else if (c == '"') {
            fail(err, r->line, r->field_no,
                 "a quote inside an unquoted field (quote the whole field and write the quote "
                 "as two quotes: \"a \"\"b\"\" c\")");
            return EV_FATAL;
        }
        return EV_NONE;
    case S_QUOTED:
        if (c == '"') {
            r->st = S_QUOTE_SEEN;
            r->space_after_quote = false;
        }
        return EV_NONE;
    case S_QUOTE_SEEN:
        return scan_quoted_end(r, c, term, err);
    }
    return EV_NONE;
}

static int scan_byte(struct csv_reader *r, unsigned char c, struct csv_reader_error *err)
{
    size_t col = r->row_line ? r->field_no : 0;
    bool term = c == '\r' || c == '\n';
    if (c == 0) {
        fail(err, r->line, col, "NUL character: this is not a text file");
        return EV_FATAL;
    }
    /* U+FEFF is EF BB BF; the file's own BOM was consumed by the decoder. */
    if (c == 0xEF)
        r->bom_match = 1;
    else if ((c == 0xBB && r->bom_match == 1) || (c == 0xBF && r->bom_match == 2))
        r->bom_match++;
    else
        r->bom_match = 0;
    if (r->bom_match == 3) {
        fail(err, r->line, col,
             "a byte order mark (U+FEFF) inside the file: were two files joined into one?");
        return EV_FATAL;
    }
    int ev = scan_fields(r, c, term, err);
    if (ev == EV_ROW_END) {
        r->row_last_line = r->line;
        r->st = S_ROW_START;
    }
    if (c == '\r' || (c == '\n' && !r->prev_cr))
        r->line++;
    r->prev_cr = c == '\r';
    return ev;
}

static void start_skipping(struct csv_reader *r)
{
    r->skipping = true;
    r->problem = P_LINE_TOO_LONG;
    r->problem_col = r->field_no;
    /* Drop what libcsv buffered of this row; it restarts clean on the next row. */
    csv_free(&r->csv);
    parser_init(&r->csv, r->delim);
}

static void on_field(void *s, size_t len, void *data);
static void on_row(int c, void *data);

/* Scans buffered bytes up to the end of the current row and feeds them to libcsv.
 * Returns 1 when a row ended, 0 when the buffer is used up, CSV_READER_FATAL on error. */
static int advance(struct csv_reader *r, struct csv_reader_error *err)
{
    const unsigned char *s = r->buf + r->pos;
    size_t n = r->len - r->pos, i = 0;
    int ev = EV_NONE;
    while (i < n && ev == EV_NONE) {
        ev = scan_byte(r, s[i++], err);
        if (ev == EV_FATAL)
            return CSV_READER_FATAL;
        if (r->row_line && !r->skipping && ++r->row_bytes > r->max_line)
            start_skipping(r);
    }
    if (!r->skipping) {
        size_t used = csv_parse(&r->csv, s, i, on_field, on_row, r);
        if (used != i || csv_error(&r->csv) != CSV_SUCCESS)
            return fail(err, r->line, r->field_no, "cannot parse the row: %s",
                        csv_strerror(csv_error(&r->csv)));
        /* The scanner and libcsv must agree on where a row ends, or fields would be
         * attributed to the wrong row: a disagreement is a bug, never silently tolerated. */
        if (r->rows_ended != (ev == EV_ROW_END ? 1 : 0))
            return fail(err, r->row_line, 0, "internal error: the row end was not recognised");
    }
    r->pos += i;
    return ev == EV_ROW_END;
}

static void set_problem(struct csv_reader *r, enum row_problem p, size_t col, size_t len)
{
    r->problem = p;
    r->problem_col = col;
    r->problem_len = len;
}

static void arena_reserve(struct csv_reader *r, size_t more)
{
    if (r->arena_len + more <= r->arena_cap)
        return;
    size_t cap = r->arena_cap ? r->arena_cap : 1024;
    while (cap < r->arena_len + more)
        cap *= 2;
    char *a = xmalloc(cap);
    if (r->arena) {
        memcpy(a, r->arena, r->arena_len);
        explicit_bzero(r->arena, r->arena_cap);
        free(r->arena);
    }
    r->arena = a;
    r->arena_cap = cap;
}

static void on_field(void *s, size_t len, void *data)
{
    struct csv_reader *r = data;
    size_t col = ++r->n_seen;
    if (r->problem != P_NONE)
        return;
    if (col > r->max_columns) {
        set_problem(r, P_TOO_MANY_COLUMNS, col, 0);
        return;
    }
    if (len > r->max_field) {
        set_problem(r, P_FIELD_TOO_BIG, col, len);
        return;
    }
    size_t off = 0, n = 0;
    if (s)
        text_norm_trim_span(s, len, &off, &n);
    if (r->n_stored == r->fields_cap) {
        r->fields_cap = r->fields_cap ? r->fields_cap * 2 : 32;
        r->offs = xrealloc(r->offs, r->fields_cap * sizeof(*r->offs));
        r->lens = xrealloc(r->lens, r->fields_cap * sizeof(*r->lens));
        r->fieldv = xrealloc(r->fieldv, r->fields_cap * sizeof(*r->fieldv));
    }
    arena_reserve(r, n + 1);
    if (n)
        memcpy(r->arena + r->arena_len, (char *)s + off, n);
    r->arena[r->arena_len + n] = '\0';
    r->offs[r->n_stored] = r->arena_len;
    r->lens[r->n_stored++] = n;
    r->arena_len += n + 1;
}

static void on_row(int c, void *data)
{
    struct csv_reader *r = data;
    (void)c;
    r->rows_ended++;
}

static int deliver(struct csv_reader *r, struct csv_reader_row *row, struct csv_reader_error *err)
{
    row->line = r->row_line;
    row->last_line = r->row_last_line;
    row->n_fields = r->n_seen;
    r->row_line = 0;
    r->skipping = false;
    if (r->problem == P_NONE) {
        for (size_t i = 0; i < r->n_stored; i++)
            r->fieldv[i] = r->arena + r->offs[i];
        row->fields = r->fieldv;
        row->lengths = r->lens;
        return CSV_READER_ROW;
    }
    err->line = row->line;
    err->column = (int)r->problem_col;
    if (r->problem == P_LINE_TOO_LONG)
        snprintf(err->message, sizeof(err->message),
                 "the row is longer than %zu bytes (import.csv.max_line_bytes); skipped",
                 r->max_line);
    else if (r->problem == P_FIELD_TOO_BIG)
        snprintf(err->message, sizeof(err->message),
                 "the field has %zu bytes, more than %zu (import.csv.max_field_bytes)",
                 r->problem_len, r->max_field);
    else
        snprintf(err->message, sizeof(err->message),
                 "the row has %zu fields, more than %zu (import.csv.max_columns)", r->n_seen,
                 r->max_columns);
    return CSV_READER_BAD_ROW;
}

static int at_eof(struct csv_reader *r, struct csv_reader_row *row, struct csv_reader_error *err)
{
    if (r->st == S_QUOTED)
        return fail(err, r->quote_line, r->quote_field,
                    "the quoted field opened here is never closed: the quote runs to the end of "
                    "the file");
    if (!r->row_line)
        return CSV_READER_EOF;
    r->row_last_line = r->line; /* the file ends without a line break */
    r->st = S_ROW_START;
    if (!r->skipping && (csv_fini(&r->csv, on_field, on_row, r) != 0 || r->rows_ended != 1))
        return fail(err, r->row_line, 0, "cannot parse the last row: %s",
                    csv_strerror(csv_error(&r->csv)));
    return deliver(r, row, err);
}

static int next_row(struct csv_reader *r, struct csv_reader_row *row, struct csv_reader_error *err)
{
    if (r->arena)
        explicit_bzero(r->arena, r->arena_len);
    r->arena_len = r->n_stored = r->n_seen = 0;
    r->rows_ended = 0;
    r->problem = P_NONE;
    for (;;) {
        if (r->pos == r->len) {
            int rc = refill(r, err);
            if (rc < 0)
                return CSV_READER_FATAL;
            if (rc == 0)
                return at_eof(r, row, err);
        }
        int rc = advance(r, err);
        if (rc < 0)
            return CSV_READER_FATAL;
        if (rc == 1)
            return deliver(r, row, err);
    }
}

static int check_options(const char *cands, struct csv_reader_error *err)
{
    if (strlen(cands) > 8)
        return fail(err, 0, 0, "at most 8 delimiter candidates");
    for (const char *c = cands; *c; c++) {
        if (*c == '"' || *c == '\r' || *c == '\n' || (unsigned char)*c >= 0x80)
            return fail(err, 0, 0, "'%c' cannot be a delimiter", *c);
    }
    return 0;
}

static int open_file(struct csv_reader *r, const char *path, const char *declared,
                     struct csv_reader_error *err)
{
    struct stat st;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return fail(err, 0, 0, "cannot open: %s", strerror(errno));
    if (fstat(r->fd, &st) < 0)
        return fail(err, 0, 0, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(err, 0, 0,
                    "not a regular file (the encoding is checked over the whole "
                    "file before reading, so a pipe cannot be read)");
    r->size = st.st_size;
    struct encoding_problem prob;
    size_t bom_len;
    if (declared && (!*declared || strcmp(declared, "auto") == 0))
        declared = NULL;
    if (encoding_detect(r->fd, declared, &r->enc, &bom_len, &prob) < 0)
        return fail(err, prob.line, 0, "%s", prob.message);
    r->dec = encoding_decoder_new(r->fd, r->enc, declared, bom_len);
    return 0;
}

struct csv_reader *csv_reader_open(const char *path, const struct csv_reader_options *opt,
                                   struct csv_reader_error *err)
{
    static const struct csv_reader_options none;
    memset(err, 0, sizeof(*err));
    if (!opt)
        opt = &none;
    const char *cands = opt->delimiters && *opt->delimiters ? opt->delimiters : DEFAULT_DELIMITERS;
    struct csv_reader *r = xcalloc(1, sizeof(*r));
    r->fd = -1;
    r->line = 1;
    r->max_field = opt->max_field_bytes ? opt->max_field_bytes : DEFAULT_MAX_FIELD;
    r->max_line = opt->max_line_bytes ? opt->max_line_bytes : DEFAULT_MAX_LINE;
    r->max_columns = opt->max_columns ? opt->max_columns : DEFAULT_MAX_COLUMNS;
    r->cap = BUF_SIZE;
    r->buf = xmalloc(r->cap);
    if (check_options(cands, err) < 0 || open_file(r, path, opt->encoding, err) < 0 ||
        read_sample(r, err) < 0)
        goto fail;
    /* The sample: 8 KiB, extended to the end of the first non-blank line. */
    size_t n = r->len;
    if (n > CSV_READER_SNIFF_BYTES) {
        size_t first = first_line_end(r->buf, n);
        n = first > CSV_READER_SNIFF_BYTES ? first : first ? CSV_READER_SNIFF_BYTES : n;
    }
    if (sniff_delimiter(r, cands, opt, r->buf, n, r->eof && n == r->len, err) < 0)
        goto fail;
    parser_init(&r->csv, r->delim);
    r->csv_ready = true;
    return r;
fail:
    csv_reader_close(r);
    return NULL;
}

int csv_reader_next(struct csv_reader *r, struct csv_reader_row *row, struct csv_reader_error *err)
{
    memset(row, 0, sizeof(*row));
    if (r->failed) {
        *err = r->failure;
        return CSV_READER_FATAL;
    }
    int rc = next_row(r, row, err);
    if (rc == CSV_READER_FATAL) {
        r->failed = true;
        r->failure = *err;
    }
    return rc;
}

const char *csv_reader_encoding(const struct csv_reader *r)
{
    return r->dec ? encoding_decoder_name(r->dec) : encoding_name(r->enc);
}

char csv_reader_delimiter(const struct csv_reader *r)
{
    return r->delim;
}

int64_t csv_reader_bytes_read(const struct csv_reader *r)
{
    return r->dec ? encoding_decoder_offset(r->dec) : 0;
}

int64_t csv_reader_bytes_total(const struct csv_reader *r)
{
    return r->size;
}

size_t csv_reader_memory(const struct csv_reader *r)
{
    size_t n = r->cap + r->arena_cap;
    n += r->fields_cap * (sizeof(*r->offs) + sizeof(*r->lens) + sizeof(*r->fieldv));
    if (r->csv_ready)
        n += r->csv.entry_size;
    return n;
}

void csv_reader_close(struct csv_reader *r)
{
    if (!r)
        return;
    if (r->csv_ready)
        csv_free(&r->csv);
    encoding_decoder_free(r->dec);
    if (r->fd >= 0)
        close(r->fd);
    if (r->buf)
        explicit_bzero(r->buf, r->cap);
    free(r->buf);
    if (r->arena)
        explicit_bzero(r->arena, r->arena_cap);
    free(r->arena);
    free(r->offs);
    free(r->lens);
    free(r->fieldv);
    free(r);
}
