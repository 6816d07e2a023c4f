/*
 * audit_report: the reference's summary of one import (who was added, modified, deleted, and
 * which records failed) rebuilt from sisopi.events, with the personal fields from the import's
 * UserRecords on sisopi.users. Pure: feed it decoded messages, then write CSV, text or JSON.
 *
 * Feed every event first (they decide the rows), then every users message (they fill the rows
 * in). One row per record_uid; several events of one person in the import give the strongest:
 * error > added > deleted > modified. Memory grows with the persons of the import.
 *
 * Rows: Rejected -> error (action "A" when the person had no DN before, else "M");
 * Created -> "A"; Modified, SchoolAdded, Reactivated -> "M"; SchoolRemoved, MovedToLimbo -> "D"
 * (sisopi never deletes on an import, but the reference counts these as deleted).
 * The personal fields come from the import's own UserRecord of the person, else (removals)
 * from its latest UserRecord before the event's input offset in the same partition. line is
 * set only from the import's own record: an earlier record's line is a line of another file.
 * schools: every school the person's events in this import name.
 */
#ifndef SISOPI_AUDIT_REPORT_H
#define SISOPI_AUDIT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "records.h"

/* Strongest first. */
enum audit_row_kind {
    AUDIT_ROW_ERROR = 0,
    AUDIT_ROW_ADDED,
    AUDIT_ROW_DELETED,
    AUDIT_ROW_MODIFIED,
};

struct audit_report_row {
    char *record_uid;
    enum audit_row_kind kind;
    enum event_type event; /* the event that decided kind */
    const char *action;    /* "A", "M", "D" (static) */
    bool has_role;
    enum role role;
    char *username; /* uid of the RDN of dn_after, else dn_before; NULL if none */
    char **schools; /* sorted, unique (case-insensitively) */
    size_t n_schools;
    char *source_uid;
    char *error_msg; /* Rejected: the reason */
    bool dry_run;
    /* From the UserRecord (NULL/0 when none was found). */
    bool has_record;
    bool record_from_import; /* the import's own record, not an earlier one */
    int64_t line;            /* 0: none */
    char *firstname, *lastname, *birthday, *email;
    char **classes;
    size_t n_classes;
    /* internal */
    int32_t input_partition;
    int64_t input_offset, record_offset;
};

/* Counts like the reference's log: per role, and errors. */
struct audit_report_totals {
    int64_t read; /* UserRecords of the import on the topic */
    int64_t created[ROLE_COUNT], modified[ROLE_COUNT], deleted[ROLE_COUNT];
    int64_t errors;
};

/* The CSV columns, in order (the reference's). */
extern const char *const audit_report_columns[];
#define AUDIT_REPORT_N_COLUMNS 16

struct audit_report;

struct audit_report *audit_report_new(const char *import_id);

/* Every event of sisopi.events (other imports' are ignored). */
void audit_report_event(struct audit_report *r, const struct event *e);

/* Every message of sisopi.users with its partition and offset, after all events. */
void audit_report_users(struct audit_report *r, const struct users_msg *m, int32_t partition,
                        int64_t offset);

/* Whether any message or event names the import. */
bool audit_report_known(const struct audit_report *r);

/* Whether the import's messages were a dry run. */
bool audit_report_dry_run(const struct audit_report *r);

/* The rows sorted by line, rows without a line last by record_uid; owned by r. */
struct audit_report_row **audit_report_rows(struct audit_report *r, size_t *n);

void audit_report_totals(struct audit_report *r, struct audit_report_totals *t);

/* The 16 fields of a row as the CSV has them: v[] points into the row and into the cells'
 * own strings, released with audit_report_cells_free(). */
struct audit_report_cells {
    const char *v[AUDIT_REPORT_N_COLUMNS];
    char line[24];
    char *schools, *classes;
};
void audit_report_cells(const struct audit_report_row *row, struct audit_report_cells *c);
void audit_report_cells_free(struct audit_report_cells *c);

/* The CSV (header included; excel dialect, formula guard: see csv_write.h). 0 or -1. */
int audit_report_write_csv(struct audit_report *r, FILE *f);
/* A table for people, then the totals. */
void audit_report_write_text(struct audit_report *r, FILE *f);
/* One JSON object per row ("kind":"row", the CSV's column names), then a totals object
 * ("kind":"totals"). */
void audit_report_write_json(struct audit_report *r, FILE *f);
/* Only the totals, as text or as one JSON object. */
void audit_report_write_totals(struct audit_report *r, FILE *f, bool json);

void audit_report_free(struct audit_report *r);

#endif
