/*
 * test_import_reader: a school's CSV export -> user_records, with the mapping filled by hand.
 * Every file in tests/data/bad/ must fail with the text of its sibling NAME.expect.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <crypt.h>
#include <dirent.h>
#include <unistd.h>

#include "import_fields.h"
#include "import_reader.h"

#define DATA SISOPI_TEST_DATA "/"

static struct csv_column_map std_map[] = {
    {(char *)"Vorname", CSV_T_FIRSTNAME, NULL, NULL, 0},
    {(char *)"Nachname", CSV_T_LASTNAME, NULL, NULL, 0},
    {(char *)"Schueler-ID", CSV_T_RECORD_UID, NULL, NULL, 0},
    {(char *)"Klassen", CSV_T_SCHOOL_CLASSES, NULL, NULL, 0},
    {(char *)"Geburtstag", CSV_T_BIRTHDAY, NULL, NULL, 0},
    {(char *)"Email", CSV_T_EMAIL, NULL, NULL, 0},
    {(char *)"Schule", CSV_T_SCHOOL, NULL, NULL, 0},
    {(char *)"Schulen", CSV_T_SCHOOLS, NULL, NULL, 0},
    {(char *)"Benutzername", CSV_T_USERNAME, NULL, NULL, 0},
    {(char *)"Passwort", CSV_T_PASSWORD, NULL, NULL, 0},
    {(char *)"Quelle", CSV_T_SOURCE_UID, NULL, NULL, 0},
    {(char *)"Telefon", CSV_T_EXTRA, (char *)"telephoneNumber", (char *)";", 0},
    {(char *)"Beschreibung", CSV_T_EXTRA, (char *)"description", NULL, 0},
    {(char *)"Bemerkung", CSV_T_IGNORE, NULL, NULL, 0},
};

static char *std_allowed[] = {(char *)"Klassen",      (char *)"Geburtstag", (char *)"Email",
                              (char *)"Schule",       (char *)"Schulen",    (char *)"Benutzername",
                              (char *)"Passwort",     (char *)"Quelle",     (char *)"Telefon",
                              (char *)"Beschreibung", (char *)"Bemerkung"};

/* The defaults of config.c, with the mapping above. */
static struct import_config std_config(void)
{
    struct import_config c;
    memset(&c, 0, sizeof(c));
    c.source_uid = (char *)"test-src";
    c.password_length = 15;
    c.class_replacement = (char *)"-";
    c.csv.delimiters = (char *)",;\t";
    c.csv.incell_delimiter = (char *)",";
    c.csv.mapping = std_map;
    c.csv.n_mapping = sizeof(std_map) / sizeof(std_map[0]);
    c.csv.allowed_missing_columns = std_allowed;
    c.csv.n_allowed_missing = sizeof(std_allowed) / sizeof(std_allowed[0]);
    c.csv.max_field_bytes = 4096;
    c.csv.max_line_bytes = 65536;
    c.csv.max_columns = 1024;
    return c;
}

static struct import_job std_job(const struct import_config *cfg)
{
    struct import_job j = {.cfg = cfg,
                           .school = "Schule1",
                           .role = ROLE_STUDENT,
                           .import_id = "imp-1",
                           .current_year = 2025};
    return j;
}

struct text {
    char *s;
    size_t len;
};

static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    t->s = realloc(t->s, t->len + (size_t)n + 1);
    assert_non_null(t->s);
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static void add_record(struct text *t, const struct user_record *r)
{
    add(t, "%lld %s %s %s", (long long)r->line, r->record_uid, r->firstname, r->lastname);
    if (r->username)
        add(t, " name=%s", r->username);
    if (r->email)
        add(t, " email=%s", r->email);
    if (r->birthday)
        add(t, " birthday=%s", r->birthday);
    if (r->classes_given) {
        add(t, " classes=[");
        for (size_t i = 0; i < r->n_classes; i++)
            add(t, "%s%s", i ? "," : "", r->classes[i]);
        add(t, "]");
    }
    for (size_t i = 0; i < r->n_extra; i++) {
        add(t, " %s=[", r->extra[i].name);
        for (size_t k = 0; k < r->extra[i].n_values; k++)
            add(t, "%s%s", k ? "," : "", r->extra[i].values[k]);
        add(t, "]");
    }
    if (r->password_hash)
        add(t, " password");
    add(t, "\n");
}

/* Everything an import of path says, one line each: records, "row L:C: msg", "fatal L:C: msg". */
static char *run(const char *path, const struct import_job *job)
{
    struct text t = {0};
    struct import_error err;
    add(&t, "%s", "");
    struct import_reader *r = import_reader_open(path, job, &err);
    if (!r) {
        assert_true(err.fatal);
        add(&t, "fatal %lld:%d: %s\n", (long long)err.line, err.column, err.message);
        return t.s;
    }
    for (;;) {
        struct user_record rec;
        int rc = import_reader_next(r, &rec, &err);
        if (rc == 0)
            break;
        if (rc == 1) {
            /* What the ingest relies on: identity copied into every record. */
            assert_string_equal(rec.import_id, job->import_id);
            assert_string_equal(rec.school, job->school);
            assert_int_equal(rec.role, job->role);
            assert_int_equal(rec.dry_run, job->dry_run);
            assert_string_equal(rec.source_uid,
                                job->source_uid ? job->source_uid : job->cfg->source_uid);
            add_record(&t, &rec);
            user_record_free(&rec);
            continue;
        }
        assert_null(rec.record_uid);
        add(&t, "%s %lld:%d: %s\n", rc < 0 ? "fatal" : "row", (long long)err.line, err.column,
            err.message);
        if (rc < 0)
            break;
    }
    import_reader_close(r);
    return t.s;
}

static char *run_std(const char *name)
{
    struct import_config cfg = std_config();
    struct import_job job = std_job(&cfg);
    char path[512];
    snprintf(path, sizeof(path), DATA "%s", name);
    return run(path, &job);
}

static void test_bad_files(void **state)
{
    (void)state;
    DIR *dir = opendir(DATA "bad");
    assert_non_null(dir);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(dir))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".csv") != 0)
            continue;
        char path[512], expect[512] = "";
        snprintf(path, sizeof(path), DATA "bad/%s.expect", de->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(expect, sizeof(expect), f));
        fclose(f);
        expect[strcspn(expect, "\n")] = '\0';
        snprintf(path, sizeof(path), "bad/%s", de->d_name);
        char *out = run_std(path);
        if (!strstr(out, expect))
            fail_msg("%s:\n  expected: %s\n  got:      %s", de->d_name, expect, out);
        /* Never echo a password. */
        assert_null(strstr(out, "geheim123"));
        free(out);
        files++;
    }
    closedir(dir);
    assert_int_equal(files, 66);
}

static void test_dialects(void **state)
{
    (void)state;
    static const char *const files[] = {"csv/comma.csv", "csv/semicolon.csv", "csv/tab.tsv",
                                        "csv/crlf.csv"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *out = run_std(files[i]);
        assert_string_equal(out, "2 rid-1 Anna Muster email=anna@example.org birthday=2010-03-04 "
                                 "classes=[Schule1-1a]\n"
                                 "3 rid-2 Ben Beispiel email=ben@example.org birthday=2011-06-05 "
                                 "classes=[Schule1-1a,Schule1-1b]\n");
        free(out);
    }
}

static void test_encodings(void **state)
{
    (void)state;
    static const char *const files[] = {"csv/utf8_bom.csv", "csv/utf16le_bom.csv",
                                        "csv/utf16be_bom.csv", "csv/latin1.csv",
                                        "csv/utf8_nobom.csv"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *out = run_std(files[i]);
        assert_string_equal(out, "2 rid-\xc3\xbc"
                                 "1 J\xc3\xbcrgen M\xc3\xbcller classes=[Schule1-Klasse ae]\n"
                                 "3 rid-2 Zo\xc3\xab \xc3\x86r\xc3\xb8 classes=[Schule1-1b]\n");
        free(out);
    }
}

static void test_full_row(void **state)
{
    (void)state;
    struct import_config cfg = std_config();
    struct import_job job = std_job(&cfg);
    job.dry_run = true;
    job.source_uid = "test-src";
    struct import_error err;
    struct import_reader *r = import_reader_open(DATA "csv/full.csv", &job, &err);
    assert_non_null(r);
    assert_string_equal(import_reader_encoding(r), "UTF-8");
    assert_int_equal(import_reader_delimiter(r), ';');
    struct user_record rec;
    assert_int_equal(import_reader_next(r, &rec, &err), 1);
    assert_int_equal(rec.line, 2);
    assert_string_equal(rec.import_id, "imp-1");
    assert_string_equal(rec.source_uid, "test-src");
    assert_string_equal(rec.school, "Schule1");
    assert_int_equal(rec.role, ROLE_STUDENT);
    assert_true(rec.dry_run);
    assert_string_equal(rec.record_uid, "rid-1");
    assert_string_equal(rec.firstname, "Anna");
    assert_string_equal(rec.lastname, "Muster");
    assert_string_equal(rec.username, "anna.m");
    assert_string_equal(rec.email, "anna@example.org");
    assert_string_equal(rec.birthday, "2010-03-04");
    assert_true(rec.classes_given);
    assert_int_equal(rec.n_classes, 1);
    assert_string_equal(rec.classes[0], "Schule1-1a");
    assert_int_equal(rec.n_extra, 1);
    assert_string_equal(rec.extra[0].name, "telephoneNumber");
    assert_int_equal(rec.extra[0].n_values, 2);
    assert_string_equal(rec.extra[0].values[0], "+49 1");
    assert_string_equal(rec.extra[0].values[1], "+49 2");
    /* The hash verifies against the password, and the password went nowhere else. */
    assert_non_null(rec.password_hash);
    assert_memory_equal(rec.password_hash, "{CRYPT}$6$", 10);
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    const char *h = crypt_r("correct-horse-battery", rec.password_hash + 7, &cd);
    assert_non_null(h);
    assert_string_equal(h, rec.password_hash + 7);
    user_record_free(&rec);

    /* Empty cells: email "" removes the address; the rest is "not given". */
    assert_int_equal(import_reader_next(r, &rec, &err), 1);
    assert_int_equal(rec.line, 3);
    assert_string_equal(rec.record_uid, "rid-2");
    assert_null(rec.username);
    assert_string_equal(rec.email, "");
    assert_null(rec.birthday);
    assert_null(rec.password_hash);
    assert_true(rec.classes_given);
    assert_int_equal(rec.n_classes, 0);
    assert_int_equal(rec.n_extra, 1);
    assert_int_equal(rec.extra[0].n_values, 0); /* clear the attribute */
    user_record_free(&rec);
    assert_int_equal(import_reader_next(r, &rec, &err), 0);
    assert_int_equal(import_reader_bytes_read(r), import_reader_bytes_total(r));
    import_reader_close(r);
}

static void test_classes(void **state)
{
    (void)state;
    char *out = run_std("csv/classes.csv");
    assert_string_equal(out, "2 rid-1 Anna Muster classes=[Schule1-1a,Schule1-1b]\n"
                             "3 rid-2 Ben Beispiel classes=[Schule1-Klaesse 5-ae,Schule1-Oelberg]\n"
                             "4 rid-3 Carl Code classes=[]\n"
                             "5 rid-4 Dora Dachs classes=[Schule1-1 a.b_c,Schule1-2c]\n");
    free(out);

    struct import_config cfg = std_config();
    struct import_job job = std_job(&cfg);
    /* Staff: the class column is ignored. */
    job.role = ROLE_STAFF;
    out = run(DATA "csv/classes.csv", &job);
    assert_string_equal(out, "2 rid-1 Anna Muster\n3 rid-2 Ben Beispiel\n4 rid-3 Carl Code\n"
                             "5 rid-4 Dora Dachs\n");
    free(out);
    /* Teachers and staff keep classes; an empty cell keeps the old ones on request. */
    job.role = ROLE_TEACHER_AND_STAFF;
    cfg.school_classes_keep_if_empty = true;
    cfg.class_replacement = (char *)"";
    out = run(DATA "csv/classes.csv", &job);
    assert_string_equal(out, "2 rid-1 Anna Muster classes=[Schule1-1a,Schule1-1b]\n"
                             "3 rid-2 Ben Beispiel classes=[Schule1-Klaesse 5/ae,Schule1-Oelberg]\n"
                             "4 rid-3 Carl Code\n"
                             "5 rid-4 Dora Dachs classes=[Schule1-1 a.b_c,Schule1-2c]\n");
    free(out);
    /* The class column not mapped at all: classes not given. */
    struct csv_column_map map[3] = {std_map[0], std_map[1], std_map[2]};
    cfg.csv.mapping = map;
    cfg.csv.n_mapping = 3;
    out = run(DATA "csv/classes.csv", &job);
    assert_string_equal(out, "2 rid-1 Anna Muster\n3 rid-2 Ben Beispiel\n4 rid-3 Carl Code\n"
                             "5 rid-4 Dora Dachs\n");
    free(out);
}

static void test_birthdays(void **state)
{
    (void)state;
    char *out = run_std("csv/birthdays.csv");
    assert_string_equal(out, "2 rid-1 A A birthday=2010-03-04\n"
                             "3 rid-2 B B birthday=2010-03-04\n"
                             "4 rid-3 C C birthday=2010-03-04\n"
                             "5 rid-4 D D birthday=2010-03-04\n"
                             "6 rid-5 E E birthday=1999-03-04\n"
                             "7 rid-6 F F birthday=2012-02-29\n"
                             "8 rid-7 G G\n");
    free(out);
}

static void test_multivalue_and_quoted(void **state)
{
    (void)state;
    char *out = run_std("csv/multivalue.csv");
    assert_string_equal(out, "2 rid-1 Anna Muster classes=[Schule1-1a,Schule1-2b] "
                             "description=[Eins] telephoneNumber=[+49 1,+49 2]\n"
                             "3 rid-2 Ben Beispiel classes=[] description=[] "
                             "telephoneNumber=[]\n");
    free(out);
    /* Line breaks in an __ignore'd column do not matter; line numbers are the first line. */
    out = run_std("csv/quoted.csv");
    assert_string_equal(out, "3 rid-1 Anna, Maria Muster \"AM\"\n5 rid-2 Ben Beispiel\n"
                             "7 rid-3 Carl Code\n10 rid-4 Dora Dachs\n");
    free(out);
}

static void test_empty_and_header_only(void **state)
{
    (void)state;
    struct import_config cfg = std_config();
    struct import_job job = std_job(&cfg);
    /* No header (0 bytes, only a BOM): the mandatory columns are missing, the file is
     * refused at open (tests/data/bad/ has more). */
    static const char *const empties[] = {DATA "csv/empty.csv", DATA "csv/bom_only.csv"};
    for (size_t i = 0; i < 2; i++) {
        struct import_error err;
        assert_null(import_reader_open(empties[i], &job, &err));
        assert_true(err.fatal);
        assert_int_equal(err.line, 0);
        assert_non_null(strstr(err.message, "the file is empty: it has no header row"));
        assert_non_null(strstr(err.message, "\"Schueler-ID\" (record_uid)"));
    }
    struct import_error err;
    struct import_reader *r = import_reader_open(DATA "csv/header_only.csv", &job, &err);
    assert_non_null(r);
    struct user_record rec;
    assert_int_equal(import_reader_next(r, &rec, &err), 0);
    import_reader_close(r);
    /* A header-only file is still checked against the mapping. */
    char *out = run_std("csv/one_column.csv");
    assert_string_equal(out, "fatal 1:0: the header lacks columns mapped in import.csv.mapping: "
                             "\"Vorname\" (firstname), \"Nachname\" (lastname) (a column that "
                             "may be absent belongs in allowed_missing_columns; record_uid, "
                             "firstname and lastname may not be)\n");
    free(out);
}

static void test_job_and_mapping_errors(void **state)
{
    (void)state;
    struct import_config cfg = std_config();
    struct import_job job = std_job(&cfg);
    char *out;
    cfg.source_uid = NULL;
    out = run(DATA "csv/comma.csv", &job);
    assert_string_equal(out,
                        "fatal 0:0: no source_uid: set import.source_uid or give --source-uid\n");
    free(out);
    cfg.source_uid = (char *)"test-src";
    job.school = "Schule 1";
    out = run(DATA "csv/comma.csv", &job);
    assert_string_equal(out, "fatal 0:0: \"Schule 1\" is not a school name\n");
    free(out);
    /* The limbo OU is no school to import into, in any case. */
    cfg.limbo_ou = (char *)"Abgang";
    job.school = "aBgAnG";
    out = run(DATA "csv/comma.csv", &job);
    assert_string_equal(out, "fatal 0:0: school \"aBgAnG\" is the limbo OU (import.limbo_ou); "
                             "nothing imports there\n");
    free(out);
    job.school = "limbo"; /* an ordinary name when the limbo OU is called otherwise */
    out = run(DATA "csv/comma.csv", &job);
    assert_null(strstr(out, "fatal"));
    free(out);
    job.school = "Schule1";

    struct csv_column_map map[4] = {std_map[0], std_map[1], std_map[2], std_map[3]};
    cfg.csv.mapping = map;
    cfg.csv.n_mapping = 4;
    map[3].target = CSV_T_FIRSTNAME;
    out = run(DATA "csv/comma.csv", &job);
    assert_string_equal(out, "fatal 0:0: columns \"Vorname\" and \"Klassen\" are both mapped to "
                             "firstname\n");
    free(out);
    map[3] = std_map[3];
    map[3].column = (char *)"Vorname";
    out = run(DATA "csv/comma.csv", &job);
    assert_string_equal(out, "fatal 0:0: column \"Vorname\" is mapped twice\n");
    free(out);
    map[3].column = (char *)"Klassen";
    map[3].target = CSV_T_EXTRA;
    map[3].attribute = (char *)"userPassword";
    out = run(DATA "csv/comma.csv", &job);
    assert_string_equal(out, "fatal 0:0: column \"Klassen\": \"userPassword\" is not an LDAP "
                             "attribute a CSV may set\n");
    free(out);
    map[2].target = CSV_T_IGNORE;
    map[3] = std_map[3];
    out = run(DATA "csv/comma.csv", &job);
    assert_string_equal(out,
                        "fatal 0:0: no column is mapped to record_uid in import.csv.mapping\n");
    free(out);
}

static void test_reading_goes_on(void **state)
{
    (void)state;
    char *out = run_std("bad/duplicate_uid.csv");
    /* An empty Email cell is "" (remove the address), not "not given". */
    assert_string_equal(out, "2 rid-1 Anna Muster email= classes=[Schule1-1a]\n"
                             "3 rid-2 Ben Beispiel email= classes=[Schule1-1a]\n"
                             "row 4:3: duplicate record_uid \"RID-1\": line 2 has it already\n");
    free(out);
    out = run_std("bad/too_few_fields.csv");
    assert_string_equal(out, "2 rid-1 Anna Muster email= classes=[Schule1-1a]\n"
                             "row 3:0: the row has 4 fields, the header 6\n"
                             "4 rid-3 Carl Code email= classes=[Schule1-1a]\n");
    free(out);
    /* Rows of nothing but delimiters are no rows at all. */
    out = run_std("csv/empty_rows.csv");
    assert_string_equal(out, "3 rid-1 Anna Muster\n6 rid-2 Ben Beispiel\n");
    free(out);
    /* A quoting error ends the file: nothing after it can be trusted. */
    out = run_std("bad/broken_quote_unquoted.csv");
    assert_string_equal(out, "2 rid-1 Anna Muster email= classes=[Schule1-1a]\n"
                             "fatal 3:2: a quote inside an unquoted field (quote the whole field "
                             "and write the quote as two quotes: \"a \"\"b\"\" c\")\n");
    free(out);
}

static void test_error_fields(void **state)
{
    (void)state;
    struct import_config cfg = std_config();
    struct import_job job = std_job(&cfg);
    struct import_error err;
    struct import_reader *r = import_reader_open(DATA "bad/bad_birthday.csv", &job, &err);
    assert_non_null(r);
    struct user_record rec;
    assert_int_equal(import_reader_next(r, &rec, &err), 2);
    assert_false(err.fatal);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 5);
    assert_string_equal(err.column_name, "Geburtstag");
    assert_string_equal(err.record_uid, "rid-1");
    assert_string_equal(err.message, "birthday \"31.02.2010\": there is no day 31 of month 02 in "
                                     "2010");
    assert_int_equal(import_reader_next(r, &rec, &err), 0);
    import_reader_close(r);
}

static void test_many_rows(void **state)
{
    (void)state;
    char path[] = "/tmp/test_import_reader.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("Vorname;Nachname;Schueler-ID;Klassen\n", f);
    for (int i = 0; i < 20000; i++)
        fprintf(f, "V%d;N%d;id-%d;%dA\n", i, i, i, i % 13);
    fputs("X;Y;ID-777;1a\n", f);
    fclose(f);
    struct import_config cfg = std_config();
    struct import_job job = std_job(&cfg);
    struct import_error err;
    struct import_reader *r = import_reader_open(path, &job, &err);
    assert_non_null(r);
    struct user_record rec;
    int rc, records = 0, bad = 0;
    while ((rc = import_reader_next(r, &rec, &err)) != 0) {
        assert_true(rc == 1 || rc == 2);
        if (rc == 1) {
            assert_int_equal(rec.line, records + 2);
            records++;
            user_record_free(&rec);
        } else {
            bad++;
            assert_int_equal(err.line, 20002);
            assert_string_equal(err.message,
                                "duplicate record_uid \"ID-777\": line 779 has it already");
        }
    }
    assert_int_equal(records, 20000);
    assert_int_equal(bad, 1);
    import_reader_close(r);
    unlink(path);
}

static void test_fields(void **state)
{
    (void)state;
    char day[11], why[400];
    assert_int_equal(import_fields_birthday("01.01.25", 2025, day, why, sizeof(why)), 0);
    assert_string_equal(day, "2025-01-01");
    assert_int_equal(import_fields_birthday("01.01.26", 2025, day, why, sizeof(why)), 0);
    assert_string_equal(day, "1926-01-01");
    assert_int_equal(import_fields_birthday("12/31/1999", 2025, day, why, sizeof(why)), 0);
    assert_string_equal(day, "1999-12-31");
    assert_int_equal(import_fields_birthday("29.02.2000", 2025, day, why, sizeof(why)), 0);
    static const char *const bad_days[] = {"29.02.1900", "2010-3-04",   "2010-03-4",  "31.04.2010",
                                           "1.2.201",    "00.01.2010",  "2010-13-01", "01.01.1899",
                                           "01.01.2026", "01.01.2010x", "",           "1.1.",
                                           "13/13/2010"};
    for (size_t i = 0; i < sizeof(bad_days) / sizeof(bad_days[0]); i++) {
        if (import_fields_birthday(bad_days[i], 2025, day, why, sizeof(why)) == 0)
            fail_msg("birthday \"%s\" was accepted as %s", bad_days[i], day);
    }

    static const struct {
        const char *in, *out;
    } emails[] = {
        {"a@b.c", "a@b.c"}, {" a @ b.c\t", "a@b.c"}, {"a@.b.c", "a@.b.c"}, {"a@b@c.d", "a@b@c.d"},
        {"", ""},           {"@b.c", NULL},          {"a@b", NULL},        {"a@.b", NULL},
        {"a@b.", NULL},     {"a.b@c", NULL},
    };
    for (size_t i = 0; i < sizeof(emails) / sizeof(emails[0]); i++) {
        char *e = import_fields_email(emails[i].in, why, sizeof(why));
        if (emails[i].out)
            assert_string_equal(e, emails[i].out);
        else if (e)
            fail_msg("email \"%s\" was accepted", emails[i].in);
        free(e);
    }

    char **v;
    size_t n = import_fields_split(" a ,, b,\xc2\xa0,c ", ",", &v);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[2], "c");
    import_fields_free_strv(v, n);
    n = import_fields_split("a||b", "||", &v);
    assert_int_equal(n, 2);
    import_fields_free_strv(v, n);
    assert_int_equal(import_fields_split("   ", ",", &v), 0);
    assert_null(v);

    assert_true(import_fields_same_school("schule1", "Schule1"));
    assert_true(import_fields_same_school("Sch\xc3\xbcle", "Schuele"));
    assert_false(import_fields_same_school("Schule12", "Schule1"));

    /* The reference's quirk: "5-a" is class "a" of school "5" - here an error that says so. */
    size_t nc;
    char **cls;
    assert_int_equal(import_fields_classes("5-a", ",", "Schule1", "-", &cls, &nc, why, sizeof(why)),
                     -1);
    assert_non_null(strstr(why, "belongs to school \"5\""));
    assert_int_equal(import_fields_classes("-1a", ",", "Schule1", "-", &cls, &nc, why, sizeof(why)),
                     -1);
    assert_string_equal(why, "class \"-1a\": no school before the \"-\"");
    assert_int_equal(
        import_fields_classes(" , ,", ",", "Schule1", "-", &cls, &nc, why, sizeof(why)), 0);
    assert_int_equal(nc, 0);
    assert_null(cls);

    char *h1 = import_fields_hash_password("x", why, sizeof(why));
    char *h2 = import_fields_hash_password("x", why, sizeof(why));
    assert_non_null(h1);
    assert_non_null(h2);
    assert_string_not_equal(h1, h2); /* fresh salt each time */
    free(h1);
    free(h2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_dialects),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_full_row),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_birthdays),
        cmocka_unit_test(test_multivalue_and_quoted),
        cmocka_unit_test(test_empty_and_header_only),
        cmocka_unit_test(test_job_and_mapping_errors),
        cmocka_unit_test(test_reading_goes_on),
        cmocka_unit_test(test_error_fields),
        cmocka_unit_test(test_many_rows),
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
