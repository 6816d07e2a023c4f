/*
 * import_reader: header mapping and the row rules on top of csv_reader; the per-value rules
 * live in import_fields, the set of seen record_uids in uid_set.
 */
#include "import_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "csv_reader.h"
#include "import_fields.h"
#include "strutil.h"
#include "text_norm.h"
#include "uid_set.h"

#define N_TARGETS (CSV_T_EXTRA + 1)

struct import_reader {
    const struct import_config *cfg;
    char *school, *source_uid, *import_id;
    enum role role;
    bool dry_run;
    bool skip_password_hash;
    int current_year;
    struct csv_reader *csv;
    char **header;
    size_t n_header;
    int *col_map;              /* per header column: index into cfg->csv.mapping, or -1 */
    int target_col[N_TARGETS]; /* 0-based header column of each single target, or -1 */
    struct uid_set *seen;
};

/* Copies src, cut to size - 1 bytes (snprintf("%s") here made GCC's -O2 format-truncation
 * warning, an error with -Werror, fail the release build). */
static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

__attribute__((format(printf, 3, 4))) static int fatal(struct import_error *err, int64_t line,
                                                       const char *fmt, ...)
{
    err->line = line;
    err->fatal = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* A row error about header column col (0-based; -1: the whole row). Returns 2. */
__attribute__((format(printf, 4, 5))) static int
row_error(struct import_error *err, const struct import_reader *r, int col, const char *fmt, ...)
{
    err->fatal = false;
    err->column = col + 1;
    if (col >= 0 && (size_t)col < r->n_header)
        copy_str(err->column_name, sizeof(err->column_name), r->header[col]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return 2;
}

static const char *target_name(enum csv_target t)
{
    static const char *const names[N_TARGETS] = {
        "__ignore", "record_uid", "source_uid",       "firstname",      "lastname",
        "name",     "school",     "schools",          "school_classes", "email",
        "birthday", "password",   "an LDAP attribute"};
    return (unsigned)t < N_TARGETS ? names[t] : "?";
}

static int check_job(const struct import_job *job, struct import_error *err)
{
    if (!job || !job->cfg)
        return fatal(err, 0, "no import configuration");
    if (!job->school || !str_is_school_name(job->school))
        return fatal(err, 0, "\"%s\" is not a school name", job->school ? job->school : "");
    /* The ingest refuses it before opening the file; here for every other caller too. */
    if (job->cfg->limbo_ou && strcasecmp(job->school, job->cfg->limbo_ou) == 0)
        return fatal(err, 0,
                     "school \"%s\" is the limbo OU (import.limbo_ou); nothing imports there",
                     job->school);
    const char *sid = job->source_uid && *job->source_uid ? job->source_uid : job->cfg->source_uid;
    if (!sid || !*sid)
        return fatal(err, 0, "no source_uid: set import.source_uid or give --source-uid");
    if (!job->import_id)
        return fatal(err, 0, "no import_id");
    if ((unsigned)job->role >= ROLE_COUNT)
        return fatal(err, 0, "unknown role %d", (int)job->role);
    return 0;
}

static int check_mapping(const struct csv_config *cc, struct import_error *err)
{
    static const enum csv_target mandatory[] = {CSV_T_RECORD_UID, CSV_T_FIRSTNAME, CSV_T_LASTNAME};
    for (size_t i = 0; i < cc->n_mapping; i++) {
        const struct csv_column_map *m = &cc->mapping[i];
        if (!m->column || (unsigned)m->target >= N_TARGETS)
            return fatal(err, 0, "import.csv.mapping entry %zu is incomplete", i + 1);
        if (m->target == CSV_T_EXTRA &&
            (!m->attribute || config_csv_target(m->attribute) != CSV_T_EXTRA))
            return fatal(err, 0, "column \"%s\": \"%s\" is not an LDAP attribute a CSV may set",
                         m->column, m->attribute ? m->attribute : "");
        for (size_t j = 0; j < i; j++) {
            const struct csv_column_map *o = &cc->mapping[j];
            if (strcmp(o->column, m->column) == 0)
                return fatal(err, 0, "column \"%s\" is mapped twice", m->column);
            bool same = m->target == o->target && m->target != CSV_T_IGNORE &&
                        (m->target != CSV_T_EXTRA || strcasecmp(m->attribute, o->attribute) == 0);
            if (same)
                return fatal(err, 0, "columns \"%s\" and \"%s\" are both mapped to %s", o->column,
                             m->column, m->attribute ? m->attribute : target_name(m->target));
        }
    }
    for (size_t k = 0; k < sizeof(mandatory) / sizeof(mandatory[0]); k++) {
        bool found = false;
        for (size_t i = 0; i < cc->n_mapping && !found; i++)
            found = cc->mapping[i].target == mandatory[k];
        if (!found)
            return fatal(err, 0, "no column is mapped to %s in import.csv.mapping",
                         target_name(mandatory[k]));
    }
    return 0;
}

static bool allowed_missing(const struct csv_config *cc, const char *column)
{
    for (size_t i = 0; i < cc->n_allowed_missing; i++) {
        if (strcmp(cc->allowed_missing_columns[i], column) == 0)
            return true;
    }
    return false;
}

/* Finds every mapped column in the header; names all missing ones in one error. */
static int resolve_columns(struct import_reader *r, int64_t line, struct import_error *err)
{
    const struct csv_config *cc = &r->cfg->csv;
    char missing[400] = "";
    size_t n_missing = 0;
    for (int t = 0; t < N_TARGETS; t++)
        r->target_col[t] = -1;
    r->col_map = xmalloc((r->n_header ? r->n_header : 1) * sizeof(*r->col_map));
    for (size_t c = 0; c < r->n_header; c++)
        r->col_map[c] = -1;
    for (size_t i = 0; i < cc->n_mapping; i++) {
        const struct csv_column_map *m = &cc->mapping[i];
        int found = -1;
        for (size_t c = 0; c < r->n_header; c++) {
            if (strcmp(r->header[c], m->column) != 0)
                continue;
            if (found >= 0)
                return fatal(err, line,
                             "column \"%s\" appears twice in the header (columns %d "
                             "and %zu)",
                             m->column, found + 1, c + 1);
            found = (int)c;
        }
        if (found >= 0) {
            r->col_map[found] = (int)i;
            if (m->target != CSV_T_EXTRA && m->target != CSV_T_IGNORE)
                r->target_col[m->target] = found;
            continue;
        }
        bool mandatory = m->target == CSV_T_RECORD_UID || m->target == CSV_T_FIRSTNAME ||
                         m->target == CSV_T_LASTNAME;
        if (m->target == CSV_T_IGNORE || (!mandatory && allowed_missing(cc, m->column)))
            continue;
        size_t len = strlen(missing);
        snprintf(missing + len, sizeof(missing) - len, "%s\"%s\" (%s)", n_missing++ ? ", " : "",
                 m->column, m->attribute ? m->attribute : target_name(m->target));
    }
    if (n_missing)
        return fatal(err, line,
                     "the header lacks %s mapped in import.csv.mapping: %s (a column that may be "
                     "absent belongs in allowed_missing_columns; record_uid, firstname and "
                     "lastname may not be)",
                     n_missing > 1 ? "columns" : "a column", missing);
    return 0;
}

static int read_header(struct import_reader *r, struct import_error *err)
{
    struct csv_reader_row row;
    struct csv_reader_error ce;
    int rc = csv_reader_next(r->csv, &row, &ce);
    if (rc == CSV_READER_EOF) {
        /* No header means no mandatory column: refused like any file that lacks them. A file
         * that names nobody on purpose has its header (a header-only file is valid). */
        const struct csv_config *cc = &r->cfg->csv;
        char cols[300] = "";
        size_t n = 0;
        for (size_t i = 0; i < cc->n_mapping; i++) {
            enum csv_target t = cc->mapping[i].target;
            if (t != CSV_T_RECORD_UID && t != CSV_T_FIRSTNAME && t != CSV_T_LASTNAME)
                continue;
            size_t len = strlen(cols);
            snprintf(cols + len, sizeof(cols) - len, "%s\"%s\" (%s)", n++ ? ", " : "",
                     cc->mapping[i].column, target_name(t));
        }
        return fatal(err, 0,
                     "the file is empty: it has no header row, so it lacks the mandatory columns "
                     "%s (a file that imports nobody needs its header row)",
                     cols);
    }
    if (rc != CSV_READER_ROW) {
        err->column = ce.column;
        return fatal(err, ce.line, "%s%s", rc == CSV_READER_BAD_ROW ? "the header row: " : "",
                     ce.message);
    }
    r->n_header = row.n_fields;
    r->header = xcalloc(row.n_fields ? row.n_fields : 1, sizeof(*r->header));
    for (size_t i = 0; i < row.n_fields; i++)
        r->header[i] = xstrdup(row.fields[i]);
    return resolve_columns(r, row.line, err);
}

struct import_reader *import_reader_open(const char *path, const struct import_job *job,
                                         struct import_error *err)
{
    memset(err, 0, sizeof(*err));
    if (check_job(job, err) < 0 || check_mapping(&job->cfg->csv, err) < 0)
        return NULL;
    const struct csv_config *cc = &job->cfg->csv;
    struct import_reader *r = xcalloc(1, sizeof(*r));
    r->cfg = job->cfg;
    r->school = xstrdup(job->school);
    r->source_uid =
        xstrdup(job->source_uid && *job->source_uid ? job->source_uid : job->cfg->source_uid);
    r->import_id = xstrdup(job->import_id);
    r->role = job->role;
    r->dry_run = job->dry_run;
    r->skip_password_hash = job->skip_password_hash;
    r->current_year = job->current_year;
    if (!r->current_year) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        r->current_year = tm.tm_year + 1900;
    }
    r->seen = uid_set_new();
    const char **expected = xcalloc(cc->n_mapping + 1, sizeof(*expected));
    for (size_t i = 0; i < cc->n_mapping; i++)
        expected[i] = cc->mapping[i].column;
    struct csv_reader_options opt = {
        .encoding = cc->encoding,
        .delimiters = cc->delimiters,
        .max_field_bytes = cc->max_field_bytes,
        .max_line_bytes = cc->max_line_bytes,
        .max_columns = cc->max_columns,
        .expected_columns = expected,
        .n_expected_columns = cc->n_mapping,
    };
    struct csv_reader_error ce;
    r->csv = csv_reader_open(path, &opt, &ce);
    free(expected);
    if (!r->csv) {
        err->column = ce.column;
        fatal(err, ce.line, "%s", ce.message);
        goto fail;
    }
    if (read_header(r, err) < 0)
        goto fail;
    return r;
fail:
    import_reader_close(r);
    return NULL;
}

/* ---- one row ---- */

static const struct csv_column_map *map_of(const struct import_reader *r, size_t col)
{
    return r->col_map[col] >= 0 ? &r->cfg->csv.mapping[r->col_map[col]] : NULL;
}

static const char *value(const struct import_reader *r, const struct csv_reader_row *row,
                         enum csv_target t)
{
    return r->target_col[t] >= 0 ? row->fields[r->target_col[t]] : NULL;
}

static const char *incell(const struct import_reader *r, const struct csv_column_map *m)
{
    if (m && m->incell_delimiter)
        return m->incell_delimiter;
    return r->cfg->csv.incell_delimiter ? r->cfg->csv.incell_delimiter : ",";
}

static int check_controls(const struct import_reader *r, const struct csv_reader_row *row,
                          struct import_error *err)
{
    for (size_t c = 0; c < r->n_header; c++) {
        const struct csv_column_map *m = map_of(r, c);
        uint32_t cp;
        if (!m || m->target == CSV_T_IGNORE || text_norm_find_control(row->fields[c], &cp) < 0)
            continue;
        if (cp == '\n' || cp == '\r')
            return row_error(err, r, (int)c, "a line break inside the value");
        return row_error(err, r, (int)c, "control character U+%04X in the value", (unsigned)cp);
    }
    return 0;
}

static int take_record_uid(struct import_reader *r, const struct csv_reader_row *row,
                           struct user_record *rec, struct import_error *err)
{
    int col = r->target_col[CSV_T_RECORD_UID];
    const char *rid = row->fields[col];
    if (!*rid)
        return row_error(err, r, col, "record_uid is empty");
    if (!text_norm_is_printable(rid))
        return row_error(err, r, col, "record_uid has a character that is not printable");
    if (strlen(rid) > RECORD_UID_MAX_BYTES)
        return row_error(err, r, col, "record_uid has %zu bytes, more than %d", strlen(rid),
                         RECORD_UID_MAX_BYTES);
    copy_str(err->record_uid, sizeof(err->record_uid), rid);
    int64_t first = uid_set_add(r->seen, rid, row->line);
    if (first)
        return row_error(err, r, col, "duplicate record_uid \"%s\": line %lld has it already", rid,
                         (long long)first);
    rec->record_uid = xstrdup(rid);
    return 0;
}

static int check_identity(const struct import_reader *r, const struct csv_reader_row *row,
                          struct import_error *err)
{
    const char *v;
    if (!*(v = value(r, row, CSV_T_FIRSTNAME)))
        return row_error(err, r, r->target_col[CSV_T_FIRSTNAME], "firstname is empty");
    if (!*(v = value(r, row, CSV_T_LASTNAME)))
        return row_error(err, r, r->target_col[CSV_T_LASTNAME], "lastname is empty");
    if ((v = value(r, row, CSV_T_SOURCE_UID)) && *v && strcmp(v, r->source_uid) != 0)
        return row_error(err, r, r->target_col[CSV_T_SOURCE_UID],
                         "source_uid \"%s\" is not this import's \"%s\"", v, r->source_uid);
    if ((v = value(r, row, CSV_T_SCHOOL)) && *v && !import_fields_same_school(v, r->school))
        return row_error(err, r, r->target_col[CSV_T_SCHOOL],
                         "school \"%s\" is not the school of this import (\"%s\")", v, r->school);
    if ((v = value(r, row, CSV_T_SCHOOLS)) && *v) {
        int col = r->target_col[CSV_T_SCHOOLS];
        char **items;
        size_t n = import_fields_split(v, incell(r, map_of(r, (size_t)col)), &items);
        for (size_t i = 0; i < n; i++) {
            if (!import_fields_same_school(items[i], r->school)) {
                row_error(err, r, col, "school \"%s\" is not the school of this import (\"%s\")",
                          items[i], r->school);
                import_fields_free_strv(items, n);
                return 2;
            }
        }
        import_fields_free_strv(items, n);
    }
    return 0;
}

static int take_classes(const struct import_reader *r, const struct csv_reader_row *row,
                        struct user_record *rec, struct import_error *err)
{
    int col = r->target_col[CSV_T_SCHOOL_CLASSES];
    if (r->role == ROLE_STAFF || col < 0)
        return 0; /* classes_given stays false: keep what the directory has */
    const char *cell = row->fields[col];
    if (!*cell) {
        rec->classes_given = !r->cfg->school_classes_keep_if_empty;
        return 0;
    }
    char why[400];
    if (import_fields_classes(cell, incell(r, map_of(r, (size_t)col)), r->school,
                              r->cfg->class_replacement, &rec->classes, &rec->n_classes, why,
                              sizeof(why)) < 0)
        return row_error(err, r, col, "%s", why);
    rec->classes_given = true;
    return 0;
}

static int take_simple(const struct import_reader *r, const struct csv_reader_row *row,
                       struct user_record *rec, struct import_error *err)
{
    const char *v;
    char why[400];
    rec->firstname = xstrdup(value(r, row, CSV_T_FIRSTNAME));
    rec->lastname = xstrdup(value(r, row, CSV_T_LASTNAME));
    if ((v = value(r, row, CSV_T_USERNAME)) && *v)
        rec->username = xstrdup(v);
    if ((v = value(r, row, CSV_T_EMAIL)) &&
        !(rec->email = import_fields_email(v, why, sizeof(why))))
        return row_error(err, r, r->target_col[CSV_T_EMAIL], "%s", why);
    if ((v = value(r, row, CSV_T_BIRTHDAY)) && *v) {
        char day[11];
        if (import_fields_birthday(v, r->current_year, day, why, sizeof(why)) < 0)
            return row_error(err, r, r->target_col[CSV_T_BIRTHDAY], "%s", why);
        rec->birthday = xstrdup(day);
    }
    return 0;
}

static int cmp_attr(const void *a, const void *b)
{
    return strcmp(((const struct attr_values *)a)->name, ((const struct attr_values *)b)->name);
}

static void take_extra(const struct import_reader *r, const struct csv_reader_row *row,
                       struct user_record *rec)
{
    for (size_t c = 0; c < r->n_header; c++) {
        const struct csv_column_map *m = map_of(r, c);
        if (!m || m->target != CSV_T_EXTRA)
            continue;
        rec->extra = xrealloc(rec->extra, (rec->n_extra + 1) * sizeof(*rec->extra));
        struct attr_values *a = &rec->extra[rec->n_extra++];
        a->name = xstrdup(m->attribute);
        a->n_values = import_fields_split(row->fields[c], incell(r, m), &a->values);
        /* LDAP refuses a value twice in one attribute. */
        size_t k = 0;
        for (size_t i = 0; i < a->n_values; i++) {
            bool dup = false;
            for (size_t j = 0; j < k && !dup; j++)
                dup = strcmp(a->values[j], a->values[i]) == 0;
            if (dup)
                free(a->values[i]);
            else
                a->values[k++] = a->values[i];
        }
        a->n_values = k;
    }
    if (rec->n_extra > 1)
        qsort(rec->extra, rec->n_extra, sizeof(*rec->extra), cmp_attr);
}

static int take_password(const struct import_reader *r, const struct csv_reader_row *row,
                         struct user_record *rec, struct import_error *err)
{
    const char *pw = value(r, row, CSV_T_PASSWORD);
    char why[300];
    if (!pw || !*pw)
        return 0;
    int min = r->cfg->password_length;
    if (min > 0 && text_norm_utf8_length(pw) < (size_t)min)
        return row_error(err, r, r->target_col[CSV_T_PASSWORD],
                         "the password is shorter than %d characters", min);
    if (r->skip_password_hash)
        return 0;
    if (!(rec->password_hash = import_fields_hash_password(pw, why, sizeof(why))))
        return row_error(err, r, r->target_col[CSV_T_PASSWORD], "%s", why);
    return 0;
}

static int build_record(struct import_reader *r, const struct csv_reader_row *row,
                        struct user_record *rec, struct import_error *err)
{
    int rc;
    if (row->n_fields != r->n_header)
        return row_error(err, r, -1, "the row has %zu field%s, the header %zu", row->n_fields,
                         row->n_fields == 1 ? "" : "s", r->n_header);
    if ((rc = check_controls(r, row, err)) != 0 || (rc = take_record_uid(r, row, rec, err)) != 0 ||
        (rc = check_identity(r, row, err)) != 0 || (rc = take_simple(r, row, rec, err)) != 0 ||
        (rc = take_classes(r, row, rec, err)) != 0)
        goto fail;
    take_extra(r, row, rec);
    /* Last: hashing is slow, and a row that fails anyway need not pay for it. */
    if ((rc = take_password(r, row, rec, err)) != 0)
        goto fail;
    rec->import_id = xstrdup(r->import_id);
    rec->source_uid = xstrdup(r->source_uid);
    rec->school = xstrdup(r->school);
    rec->role = r->role;
    rec->line = row->line;
    rec->dry_run = r->dry_run;
    return 1;
fail:
    user_record_free(rec);
    return rc;
}

static bool all_empty(const struct csv_reader_row *row)
{
    for (size_t i = 0; i < row->n_fields; i++) {
        if (row->lengths[i])
            return false;
    }
    return true;
}

int import_reader_next(struct import_reader *r, struct user_record *out, struct import_error *err)
{
    struct csv_reader_row row;
    struct csv_reader_error ce;
    int rc;
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    /* Rows of nothing but delimiters (";;;;" that spreadsheets leave behind) carry no person:
     * they are skipped like blank lines rather than failing the import as bad rows. */
    while ((rc = csv_reader_next(r->csv, &row, &ce)) == CSV_READER_ROW && all_empty(&row))
        ;
    if (rc == CSV_READER_EOF)
        return 0;
    if (rc == CSV_READER_FATAL) {
        err->column = ce.column;
        if (ce.column > 0 && (size_t)ce.column <= r->n_header)
            copy_str(err->column_name, sizeof(err->column_name), r->header[ce.column - 1]);
        return fatal(err, ce.line, "%s", ce.message);
    }
    err->line = row.line;
    if (rc == CSV_READER_BAD_ROW)
        return row_error(err, r, ce.column - 1, "%s", ce.message);
    return build_record(r, &row, out, err);
}

const char *import_reader_encoding(const struct import_reader *r)
{
    return csv_reader_encoding(r->csv);
}

char import_reader_delimiter(const struct import_reader *r)
{
    return csv_reader_delimiter(r->csv);
}

int64_t import_reader_bytes_read(const struct import_reader *r)
{
    return csv_reader_bytes_read(r->csv);
}

int64_t import_reader_bytes_total(const struct import_reader *r)
{
    return csv_reader_bytes_total(r->csv);
}

void import_reader_close(struct import_reader *r)
{
    if (!r)
        return;
    csv_reader_close(r->csv);
    for (size_t i = 0; i < r->n_header; i++)
        free(r->header[i]);
    free(r->header);
    free(r->col_map);
    uid_set_free(r->seen);
    free(r->school);
    free(r->source_uid);
    free(r->import_id);
    free(r);
}
