/*
 * test_csv_reader: dialects, encodings, quoting, line numbers and the limits of csv_reader.
 * Fixtures: tests/data/csv/; the huge inputs are written to a temp dir at run time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <csv.h>

#include "csv_reader.h"
#include "text_norm.h"

#define DATA SISOPI_TEST_DATA "/csv/"

static char tmpdir[] = "/tmp/test_csv_reader.XXXXXX";

struct dump {
    char *text;
    size_t len;
    char delimiter;
    char encoding[32];
    size_t max_memory;
    int64_t bytes_read, bytes_total;
};

static void append(struct dump *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    d->text = realloc(d->text, d->len + (size_t)n + 1);
    assert_non_null(d->text);
    va_start(ap, fmt);
    vsnprintf(d->text + d->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    d->len += (size_t)n;
}

/* The whole file as text: "LINE[-LAST]: f1|f2|..." per row, "LINE:COL: BAD msg" per bad row,
 * "LINE:COL: FATAL msg" for a fatal error (open or read). Only the first 60 bytes of a field. */
static struct dump read_all(const char *path, const struct csv_reader_options *opt)
{
    struct dump d = {0};
    struct csv_reader_error err;
    append(&d, "%s", "");
    struct csv_reader *r = csv_reader_open(path, opt, &err);
    if (!r) {
        append(&d, "%lld:%d: FATAL %s\n", (long long)err.line, err.column, err.message);
        return d;
    }
    d.delimiter = csv_reader_delimiter(r);
    snprintf(d.encoding, sizeof(d.encoding), "%s", csv_reader_encoding(r));
    for (;;) {
        struct csv_reader_row row;
        int rc = csv_reader_next(r, &row, &err);
        size_t mem = csv_reader_memory(r);
        d.max_memory = mem > d.max_memory ? mem : d.max_memory;
        if (rc == CSV_READER_EOF)
            break;
        if (rc == CSV_READER_FATAL) {
            append(&d, "%lld:%d: FATAL %s\n", (long long)err.line, err.column, err.message);
            break;
        }
        if (rc == CSV_READER_BAD_ROW) {
            append(&d, "%lld:%d: BAD %s\n", (long long)err.line, err.column, err.message);
            continue;
        }
        if (row.last_line != row.line)
            append(&d, "%lld-%lld:", (long long)row.line, (long long)row.last_line);
        else
            append(&d, "%lld:", (long long)row.line);
        for (size_t i = 0; i < row.n_fields; i++) {
            assert_int_equal(strlen(row.fields[i]), row.lengths[i]);
            append(&d, "%s%.60s", i ? "|" : " ", row.fields[i]);
        }
        append(&d, "\n");
    }
    d.bytes_read = csv_reader_bytes_read(r);
    d.bytes_total = csv_reader_bytes_total(r);
    csv_reader_close(r);
    return d;
}

static char *tmpfile_with(const char *name, const void *data, size_t len)
{
    char *path = malloc(strlen(tmpdir) + strlen(name) + 2);
    assert_non_null(path);
    sprintf(path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static char *tmpfile_str(const char *name, const char *s)
{
    return tmpfile_with(name, s, strlen(s));
}

static const char *const simple_rows = "1: Vorname|Nachname|Schueler-ID|Klassen|Geburtstag|Email\n"
                                       "2: Anna|Muster|rid-1|1a|2010-03-04|anna@example.org\n"
                                       "3: Ben|Beispiel|rid-2|1a,1b|05.06.2011|ben@example.org\n";

static void test_dialects(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        char delimiter;
    } cases[] = {{"comma.csv", ','}, {"semicolon.csv", ';'}, {"tab.tsv", '\t'}, {"crlf.csv", ','}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), DATA "%s", cases[i].file);
        struct dump d = read_all(path, NULL);
        assert_string_equal(d.text, simple_rows);
        assert_int_equal(d.delimiter, cases[i].delimiter);
        assert_string_equal(d.encoding, "UTF-8");
        free(d.text);
    }
}

static void test_encodings(void **state)
{
    (void)state;
    static const struct {
        const char *file, *encoding;
    } cases[] = {
        {"utf8_nobom.csv", "UTF-8"},     {"utf8_bom.csv", "UTF-8 with BOM"},
        {"utf16le_bom.csv", "UTF-16LE"}, {"utf16be_bom.csv", "UTF-16BE"},
        {"latin1.csv", "ISO-8859-1"},
    };
    const char *expect = "1: Vorname|Nachname|Schueler-ID|Klassen\n"
                         "2: J\xc3\xbcrgen|M\xc3\xbcller|rid-\xc3\xbc"
                         "1|Klasse \xc3\xa4\n"
                         "3: Zo\xc3\xab|\xc3\x86r\xc3\xb8|rid-2|1b\n";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), DATA "%s", cases[i].file);
        struct dump d = read_all(path, NULL);
        assert_string_equal(d.text, expect);
        assert_string_equal(d.encoding, cases[i].encoding);
        assert_int_equal(d.delimiter, ';');
        assert_int_equal(d.bytes_read, d.bytes_total);
        free(d.text);
    }
}

static void test_quoted_fields_and_lines(void **state)
{
    (void)state;
    struct dump d = read_all(DATA "quoted.csv", NULL);
    assert_string_equal(d.text, "1: Vorname|Nachname|Schueler-ID|Bemerkung\n"
                                "3-4: Anna, Maria|Muster \"AM\"|rid-1|zwei\nZeilen\n"
                                "5: Ben|Beispiel|rid-2|\n"
                                "7-9: Carl|Code|rid-3|drei\r\nZei\nlen\n"
                                "10: Dora|Dachs|rid-4|\"zitiert\"\n");
    free(d.text);
}

static void test_line_ends_and_blank_lines(void **state)
{
    (void)state;
    char *p = tmpfile_str("cr.csv", "a,b\r  \r\t\rc,d\r\n\r\ne,\"f\r\"\rg,h");
    struct dump d = read_all(p, NULL);
    assert_string_equal(d.text, "1: a|b\n4: c|d\n6-7: e|f\n8: g|h\n");
    free(d.text);
    free(p);
}

static void test_one_column_and_empty(void **state)
{
    (void)state;
    struct dump d = read_all(DATA "one_column.csv", NULL);
    assert_string_equal(d.text, "1: Schueler-ID\n2: rid-1\n3: rid-2\n");
    assert_int_equal(d.delimiter, ',');
    free(d.text);
    d = read_all(DATA "empty.csv", NULL);
    assert_string_equal(d.text, "");
    assert_int_equal(d.bytes_total, 0);
    free(d.text);
    d = read_all(DATA "bom_only.csv", NULL);
    assert_string_equal(d.text, "");
    assert_string_equal(d.encoding, "UTF-8 with BOM");
    free(d.text);
}

static void test_sniffing(void **state)
{
    (void)state;
    char *p = tmpfile_str("ambiguous.csv", "Vorname;Nachname,Extra\na;b,c\nd;e,f\n");
    struct dump d = read_all(p, NULL);
    assert_string_equal(d.text, "1:0: FATAL cannot tell the delimiter: ',' and ';' both split the "
                                "first 3 rows into 2 fields; set import.csv.delimiters to the one "
                                "the file uses\n");
    free(d.text);
    /* The expected header names settle it. */
    const char *expected[] = {"Vorname", "Nachname"};
    struct csv_reader_options opt = {.expected_columns = expected, .n_expected_columns = 2};
    d = read_all(p, &opt);
    assert_int_equal(d.delimiter, ';');
    assert_string_equal(d.text, "1: Vorname|Nachname,Extra\n2: a|b,c\n3: d|e,f\n");
    free(d.text);
    /* So does restricting the candidates. */
    struct csv_reader_options only_comma = {.delimiters = ","};
    d = read_all(p, &only_comma);
    assert_int_equal(d.delimiter, ',');
    free(d.text);
    free(p);

    /* Commas inside quotes do not count; one ragged row does not spoil the majority. */
    p = tmpfile_str("quoted_commas.csv", "a;b;c\n\"1,2,3\";x;y\n4;5\n7;8;9\n");
    d = read_all(p, NULL);
    assert_int_equal(d.delimiter, ';');
    free(d.text);
    free(p);

    p = tmpfile_str("inconsistent.csv", "a,b,c\n1;2;3\n4;5;6\n");
    d = read_all(p, NULL);
    assert_string_equal(d.text,
                        "1:0: FATAL cannot detect the delimiter from the first 8192 bytes (',': 3 "
                        "fields in the first row, but only 0 of the 2 rows after it have as many; "
                        "';': no split of the first row; TAB: no split of the first row): the rows "
                        "do not have a consistent number of fields\n");
    free(d.text);
    free(p);
}

static void test_long_header(void **state)
{
    (void)state;
    /* A first row longer than the 8 KiB sample: the sample grows to its end. */
    size_t cols = 1000;
    char *buf = malloc(cols * 16 + 64 + 3), *o = buf;
    assert_non_null(buf);
    for (size_t i = 0; i < cols; i++)
        o += sprintf(o, "%sColumn%04zu", i ? ";" : "", i);
    o += sprintf(o, "\n");
    for (size_t i = 0; i < cols; i++)
        o += sprintf(o, "%s%zu", i ? ";" : "", i);
    o += sprintf(o, "\n");
    char *p = tmpfile_with("long_header.csv", buf, (size_t)(o - buf));
    /* Blank lines before it do not cut the sample short. */
    memmove(buf + 3, buf, (size_t)(o - buf));
    memcpy(buf, "\n \n", 3);
    char *p2 = tmpfile_with("long_header_blank.csv", buf, (size_t)(o - buf) + 3);
    struct dump d = read_all(p2, NULL);
    assert_int_equal(d.delimiter, ';');
    assert_non_null(strstr(d.text, "3: Column0000|Column0001|"));
    free(d.text);
    free(p2);
    struct csv_reader_error err;
    struct csv_reader *r = csv_reader_open(p, NULL, &err);
    assert_non_null(r);
    assert_int_equal(csv_reader_delimiter(r), ';');
    struct csv_reader_row row;
    assert_int_equal(csv_reader_next(r, &row, &err), CSV_READER_ROW);
    assert_int_equal(row.n_fields, cols);
    assert_string_equal(row.fields[999], "Column0999");
    assert_int_equal(csv_reader_next(r, &row, &err), CSV_READER_ROW);
    assert_string_equal(row.fields[999], "999");
    assert_int_equal(csv_reader_next(r, &row, &err), CSV_READER_EOF);
    csv_reader_close(r);
    free(buf);
    free(p);
}

/* Writes a file: "h1,h2,h3\n" "a,b,c\n" then `big` (generated by fill) then "x,y,z\n". */
static char *big_file(const char *name, void (*fill)(FILE *), const char *tail)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("h1,h2,h3\na,b,c\n", f);
    fill(f);
    fputs(tail, f);
    fclose(f);
    return strdup(path);
}

static void fill_10mb_field(FILE *f)
{
    fputs("p,", f);
    for (int i = 0; i < 10 * 1024 * 1024 / 64; i++)
        fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", f);
    fputs(",q\n", f);
}

static void fill_10mb_quoted(FILE *f)
{
    fputs("p,\"", f);
    for (int i = 0; i < 10 * 1024 * 1024 / 64; i++)
        fputs("0123456789abcdef0123456789abcdef0123456789abcd,f012345\n789abcdef", f);
    fputs("\",q\n", f);
}

static void fill_million_columns(FILE *f)
{
    for (int i = 0; i < 1000000; i++)
        fputs(i ? ",c" : "c", f);
    fputs("\n", f);
}

static void test_ten_megabyte_line(void **state)
{
    (void)state;
    char *p = big_file("big_line.csv", fill_10mb_field, "x,y,z\n");
    struct dump d = read_all(p, NULL);
    assert_string_equal(d.text, "1: h1|h2|h3\n2: a|b|c\n"
                                "3:2: BAD the row is longer than 65536 bytes "
                                "(import.csv.max_line_bytes); skipped\n"
                                "4: x|y|z\n");
    assert_true(d.max_memory < 4 * 65536 + 65536);
    free(d.text);
    free(p);

    /* The same inside quotes, with line breaks: the row still ends where the quote closes. */
    p = big_file("big_quoted.csv", fill_10mb_quoted, "x,y,z\n");
    d = read_all(p, NULL);
    char expect[256];
    snprintf(expect, sizeof(expect),
             "1: h1|h2|h3\n2: a|b|c\n3:2: BAD the row is longer than 65536 bytes "
             "(import.csv.max_line_bytes); skipped\n%d: x|y|z\n",
             3 + 10 * 1024 * 1024 / 64 + 1);
    assert_string_equal(d.text, expect);
    assert_true(d.max_memory < 4 * 65536 + 65536);
    free(d.text);
    free(p);

    /* Never closed: fatal, at the line and column where the quote opened. */
    p = big_file("big_unterminated.csv", fill_10mb_quoted, "");
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), 3 * 1024 * 1024), 0);
    fclose(f);
    d = read_all(p, NULL);
    assert_string_equal(d.text, "1: h1|h2|h3\n2: a|b|c\n"
                                "3:2: FATAL the quoted field opened here is never closed: the "
                                "quote runs to the end of the file\n");
    assert_true(d.max_memory < 4 * 65536 + 65536);
    free(d.text);
    free(p);
}

static void test_million_columns(void **state)
{
    (void)state;
    char *p = big_file("million.csv", fill_million_columns, "x,y,z\n");
    struct dump d = read_all(p, NULL);
    assert_string_equal(d.text, "1: h1|h2|h3\n2: a|b|c\n"
                                "3:32769: BAD the row is longer than 65536 bytes "
                                "(import.csv.max_line_bytes); skipped\n"
                                "4: x|y|z\n");
    free(d.text);
    /* With room for the line, the column limit stops it, still in bounded memory. */
    struct csv_reader_options opt = {.max_line_bytes = 4 << 20};
    d = read_all(p, &opt);
    assert_string_equal(d.text, "1: h1|h2|h3\n2: a|b|c\n"
                                "3:1025: BAD the row has 1000000 fields, more than 1024 "
                                "(import.csv.max_columns)\n"
                                "4: x|y|z\n");
    assert_true(d.max_memory < 256 * 1024);
    free(d.text);
    free(p);
}

static void test_field_limit(void **state)
{
    (void)state;
    char *p = tmpfile_str("field.csv", "a,b,c\n1,22,333\n1,\"4444\",1\n1,2,3\n");
    struct csv_reader_options opt = {.max_field_bytes = 3};
    struct dump d = read_all(p, &opt);
    assert_string_equal(d.text, "1: a|b|c\n2: 1|22|333\n"
                                "3:2: BAD the field has 4 bytes, more than 3 "
                                "(import.csv.max_field_bytes)\n"
                                "4: 1|2|3\n");
    free(d.text);
    free(p);
}

static void test_fatal_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *data, *expect;
    } cases[] = {
        {"q1.csv", "a,b\nc,d\"e\n", "2:2: FATAL a quote inside an unquoted field"},
        {"q2.csv", "a,b\n\"c\" x,d\n", "2:1: FATAL text after the closing quote"},
        {"q3.csv", "a,b\n\"c\" \",d\n", "2:1: FATAL text after the closing quote"},
        {"q4.csv", "a,b\nc,\"d\ne\n", "2:2: FATAL the quoted field opened here is never closed"},
        {"bom.csv",
         "a,b\nc,\xef\xbb\xbf"
         "d\n",
         "2:2: FATAL a byte order mark (U+FEFF) inside the file"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *p = tmpfile_str(cases[i].name, cases[i].data);
        struct dump d = read_all(p, NULL);
        assert_non_null(strstr(d.text, cases[i].expect));
        free(d.text);
        free(p);
    }
}

static void test_fatal_is_final(void **state)
{
    (void)state;
    char *p = tmpfile_str("final.csv", "a,b\nc,d\"e\nf,g\n");
    struct csv_reader_error err;
    struct csv_reader_row row;
    struct csv_reader *r = csv_reader_open(p, NULL, &err);
    assert_non_null(r);
    assert_int_equal(csv_reader_next(r, &row, &err), CSV_READER_ROW);
    for (int i = 0; i < 2; i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(csv_reader_next(r, &row, &err), CSV_READER_FATAL);
        assert_int_equal(err.line, 2);
        assert_int_equal(err.column, 2);
        assert_non_null(strstr(err.message, "a quote inside an unquoted field"));
    }
    csv_reader_close(r);
    free(p);
}

static void test_utf16_errors(void **state)
{
    (void)state;
    /* "a,b\nc,<unpaired high surrogate>d\n" in UTF-16LE. */
    static const unsigned char bad[] = {0xFF, 0xFE, 'a', 0, ',',  0,    'b', 0, '\n', 0,
                                        'c',  0,    ',', 0, 0x00, 0xD8, 'd', 0, '\n', 0};
    char *p = tmpfile_with("surrogate16.csv", bad, sizeof(bad));
    struct dump d = read_all(p, NULL);
    assert_string_equal(d.text, "1: a|b\n2:2: FATAL invalid UTF-16LE (an unpaired surrogate) at "
                                "byte offset 14\n");
    free(d.text);
    free(p);
    static const unsigned char odd[] = {0xFE, 0xFF, 0, 'a', 0, ',', 0, 'b', 0, '\n', 0};
    p = tmpfile_with("odd16.csv", odd, sizeof(odd));
    d = read_all(p, NULL);
    assert_string_equal(d.text, "1: a|b\n2:0: FATAL UTF-16BE file ends in the middle of a "
                                "character\n");
    free(d.text);
    free(p);
}

/* import.csv.encoding: Windows-1252 declared. Its C1 bytes (0x80-0x9F: curly quotes, the
 * euro, S with caron) are letters there; detection alone refuses them. */
static void test_declared_encoding(void **state)
{
    (void)state;
    static const char cp1252[] = "id;name\n1;\x93Ren\xe9"
                                 "e\x94 \x8a"
                                 "imek \x80\n";
    char *p = tmpfile_str("cp1252.csv", cp1252);
    struct dump d = read_all(p, NULL);
    assert_non_null(strstr(d.text, "FATAL"));
    assert_non_null(strstr(d.text, "Windows-1252"));
    free(d.text);
    struct csv_reader_options w1252 = {.encoding = "WINDOWS-1252"};
    d = read_all(p, &w1252);
    assert_string_equal(d.text, "1: id|name\n"
                                "2: 1|\xe2\x80\x9cRen\xc3\xa9"
                                "e\xe2\x80\x9d \xc5\xa0"
                                "imek "
                                "\xe2\x82\xac\n");
    assert_string_equal(d.encoding, "WINDOWS-1252");
    assert_int_equal(d.bytes_read, d.bytes_total);
    free(d.text);
    free(p);
    /* "auto" is no declaration. */
    struct csv_reader_options autodetect = {.encoding = "auto"};
    d = read_all(DATA "latin1.csv", &autodetect);
    assert_string_equal(d.encoding, "ISO-8859-1");
    free(d.text);

    /* What the bytes prove wins over the declaration: UTF-8 with umlauts, a BOM, NUL. */
    d = read_all(DATA "utf8_nobom.csv", &w1252);
    assert_non_null(
        strstr(d.text, "2:0: FATAL character 2: the file is valid UTF-8 with non-ASCII"));
    free(d.text);
    d = read_all(DATA "utf8_bom.csv", &w1252);
    assert_non_null(strstr(d.text, "UTF-8 byte order mark: it is UTF-8, not WINDOWS-1252"));
    free(d.text);
    d = read_all(DATA "utf16le_bom.csv", &w1252);
    assert_non_null(strstr(d.text, "UTF-16LE byte order mark"));
    free(d.text);
    static const char nul[] = {'a', ';', 'b', '\n', 'c', 0, ';', 'd', '\n'};
    p = tmpfile_with("nul1252.csv", nul, sizeof(nul));
    d = read_all(p, &w1252);
    assert_non_null(strstr(d.text, "NUL byte"));
    free(d.text);
    free(p);
    /* Pure ASCII is the same in both: accepted as declared. */
    d = read_all(DATA "comma.csv", &w1252);
    assert_string_equal(d.text, simple_rows);
    free(d.text);
    /* 0x81 is no character in Windows-1252: an error at its offset, after the rows before. */
    static const char undefined[] = "a;b\nc;d\x81\n";
    p = tmpfile_str("undef1252.csv", undefined);
    d = read_all(p, &w1252);
    assert_non_null(strstr(d.text, "byte 0x81 at byte offset 7 is no character in WINDOWS-1252"));
    free(d.text);
    free(p);
}

static void test_not_a_file(void **state)
{
    (void)state;
    struct dump d = read_all(tmpdir, NULL);
    assert_non_null(strstr(d.text, "FATAL not a regular file"));
    free(d.text);
    d = read_all(DATA "does-not-exist.csv", NULL);
    assert_string_equal(d.text, "0:0: FATAL cannot open: No such file or directory\n");
    free(d.text);
}

/* Reference: libcsv alone over the whole buffer, rows as "f1|f2\n". */
struct ref {
    struct dump d;
    size_t fields;
};

static void ref_field(void *s, size_t len, void *data)
{
    struct ref *r = data;
    size_t off = 0, n = 0;
    if (s)
        text_norm_trim_span(s, len, &off, &n);
    append(&r->d, "%s%.*s", r->fields++ ? "|" : "", (int)n, s ? (char *)s + off : "");
}

static void ref_row(int c, void *data)
{
    struct ref *r = data;
    (void)c;
    append(&r->d, "\n");
    r->fields = 0;
}

/* Returns the reference rows; *error: libcsv refused the input somewhere. */
static char *ref_parse(const char *in, size_t len, bool *error)
{
    struct ref r = {0};
    struct csv_parser p;
    append(&r.d, "%s", "");
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
    *error = csv_parse(&p, in, len, ref_field, ref_row, &r) != len || csv_error(&p) != 0;
    if (!*error)
        *error = csv_fini(&p, ref_field, ref_row, &r) != 0;
    csv_free(&p);
    return r.d.text;
}

/* The reader's rows in the reference's format; *fatal: it stopped with a fatal error. */
static char *reader_rows(const char *path, const struct csv_reader_options *opt, bool *fatal,
                         bool *opened)
{
    struct dump d = {0};
    struct csv_reader_error err;
    struct csv_reader_row row;
    append(&d, "%s", "");
    *fatal = false;
    struct csv_reader *r = csv_reader_open(path, opt, &err);
    *opened = r != NULL;
    if (!r)
        return d.text;
    int rc;
    while ((rc = csv_reader_next(r, &row, &err)) != CSV_READER_EOF) {
        assert_int_equal(rc, rc == CSV_READER_FATAL ? CSV_READER_FATAL : CSV_READER_ROW);
        if (rc == CSV_READER_FATAL) {
            if (strstr(err.message, "internal error"))
                fail_msg("%s", err.message);
            *fatal = true;
            break;
        }
        for (size_t i = 0; i < row.n_fields; i++)
            append(&d, "%s%s", i ? "|" : "", row.fields[i]);
        append(&d, "\n");
    }
    csv_reader_close(r);
    return d.text;
}

/* The scanner that finds lines and row ends must agree with libcsv on every input: where
 * libcsv sees rows, the reader returns the same rows; where libcsv fails, the reader fails
 * after the same rows, and never with an internal error. */
static void test_scanner_matches_libcsv(void **state)
{
    (void)state;
    static const char alphabet[] = "ab,,\"\" \t\r\n\n";
    struct csv_reader_options opt = {.delimiters = ","};
    char in[48];
    int compared = 0, failing = 0;
    srand(20240521);
    for (int iter = 0; iter < 4000; iter++) {
        size_t len = 1 + (size_t)rand() % (sizeof(in) - 1);
        for (size_t i = 0; i < len; i++)
            in[i] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
        char *p = tmpfile_with("fuzz.csv", in, len);
        bool fatal, opened, ref_error;
        char *got = reader_rows(p, &opt, &fatal, &opened);
        free(p);
        char *ref = ref_parse(in, len, &ref_error);
        if (!opened) { /* the sniffer refused it: nothing to compare */
            free(got);
            free(ref);
            continue;
        }
        if (ref_error != fatal || (!ref_error && strcmp(got, ref) != 0) ||
            strncmp(got, ref, strlen(got)) != 0)
            fail_msg("input %d:\n--- input\n%.*s\n--- libcsv%s\n%s--- reader%s\n%s", iter, (int)len,
                     in, ref_error ? " (error)" : "", ref, fatal ? " (fatal)" : "", got);
        ref_error ? failing++ : compared++;
        free(got);
        free(ref);
    }
    assert_true(compared > 500);
    assert_true(failing > 200);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dialects),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_quoted_fields_and_lines),
        cmocka_unit_test(test_line_ends_and_blank_lines),
        cmocka_unit_test(test_one_column_and_empty),
        cmocka_unit_test(test_sniffing),
        cmocka_unit_test(test_long_header),
        cmocka_unit_test(test_ten_megabyte_line),
        cmocka_unit_test(test_million_columns),
        cmocka_unit_test(test_field_limit),
        cmocka_unit_test(test_fatal_errors),
        cmocka_unit_test(test_fatal_is_final),
        cmocka_unit_test(test_scanner_matches_libcsv),
        cmocka_unit_test(test_utf16_errors),
        cmocka_unit_test(test_declared_encoding),
        cmocka_unit_test(test_not_a_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
