/*
 * audit_report: rows keyed by record_uid (case-insensitively, as the directory matches it);
 * events decide a row, users messages fill it in.
 */
#include "audit_report.h"

#include <inttypes.h>
#include <ldap.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit_text.h"
#include "csv_write.h"
#include "json_out.h"
#include "strmap.h"
#include "strutil.h"

const char *const audit_report_columns[AUDIT_REPORT_N_COLUMNS] = {
    "line",    "success",    "error",      "action",   "role",  "username",
    "schools", "firstname",  "lastname",   "birthday", "email", "disabled",
    "classes", "source_uid", "record_uid", "error_msg"};

struct audit_report {
    char *import_id;
    struct strmap *rows;
    bool known, dry_run, has_role;
    enum role role; /* the import's */
    int64_t read;
    struct audit_report_row **sorted;
    size_t n_sorted;
};

struct audit_report *audit_report_new(const char *import_id)
{
    struct audit_report *r = xcalloc(1, sizeof(*r));
    r->import_id = xstrdup(import_id);
    r->rows = strmap_new(true);
    return r;
}

static void set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? xstrdup(src) : NULL;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The uid of a DN's first RDN ("uid=A.Alpha,cn=schueler,..." -> "A.Alpha"), or NULL. */
static char *dn_uid(const char *dn)
{
    LDAPDN parsed = NULL;
    char *uid = NULL;
    if (!dn || ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || !parsed)
        return NULL;
    for (int i = 0; parsed[0] && parsed[0][i] && !uid; i++) {
        const LDAPAVA *a = parsed[0][i];
        if (a->la_attr.bv_len == 3 && strncasecmp(a->la_attr.bv_val, "uid", 3) == 0)
            uid = xstrndup(a->la_value.bv_val, a->la_value.bv_len);
    }
    ldap_dnfree(parsed);
    return uid;
}

static bool row_kind(enum event_type t, enum audit_row_kind *k)
{
    switch (t) {
    case EVENT_REJECTED:
        *k = AUDIT_ROW_ERROR;
        return true;
    case EVENT_CREATED:
        *k = AUDIT_ROW_ADDED;
        return true;
    case EVENT_MODIFIED:
    case EVENT_SCHOOL_ADDED:
    case EVENT_REACTIVATED:
        *k = AUDIT_ROW_MODIFIED;
        return true;
    case EVENT_SCHOOL_REMOVED:
    case EVENT_MOVED_TO_LIMBO:
        *k = AUDIT_ROW_DELETED;
        return true;
    default:
        return false;
    }
}

static void add_school(struct audit_report_row *row, const char *school)
{
    if (!school)
        return;
    for (size_t i = 0; i < row->n_schools; i++) {
        if (strcasecmp(row->schools[i], school) == 0)
            return;
    }
    row->schools = xrealloc(row->schools, (row->n_schools + 1) * sizeof(char *));
    size_t i = row->n_schools++;
    /* Kept sorted as they come: a handful per person. */
    while (i > 0 && strcasecmp(row->schools[i - 1], school) > 0) {
        row->schools[i] = row->schools[i - 1];
        i--;
    }
    row->schools[i] = xstrdup(school);
}

/* The event decides the row: its kind, action, role, username and reason. */
static void decide(struct audit_report_row *row, const struct event *e, enum audit_row_kind k)
{
    static const char *const actions[] = {"", "A", "D", "M"};
    row->kind = k;
    row->event = e->type;
    row->action = k == AUDIT_ROW_ERROR ? (e->dn_before ? "M" : "A") : actions[k];
    if (e->has_role) {
        row->has_role = true;
        row->role = e->role;
    }
    char *uid = dn_uid(e->dn_after ? e->dn_after : e->dn_before);
    if (uid) {
        free(row->username);
        row->username = uid;
    }
    set_str(&row->error_msg, k == AUDIT_ROW_ERROR ? e->reason : NULL);
    row->dry_run = e->dry_run;
    row->input_partition = e->input_partition;
    row->input_offset = e->input_offset;
}

void audit_report_event(struct audit_report *r, const struct event *e)
{
    enum audit_row_kind k;
    if (!e->import_id || strcmp(e->import_id, r->import_id) != 0)
        return;
    r->known = true;
    r->dry_run |= e->dry_run;
    if (!e->record_uid) {
        if (e->has_role && !r->has_role) {
            r->has_role = true;
            r->role = e->role;
        }
        return;
    }
    if (!row_kind(e->type, &k))
        return;
    bool created;
    struct audit_report_row **slot =
        (struct audit_report_row **)strmap_slot(r->rows, e->record_uid, &created);
    if (created) {
        *slot = xcalloc(1, sizeof(**slot));
        (*slot)->record_uid = xstrdup(e->record_uid);
        (*slot)->record_offset = -1;
        decide(*slot, e, k);
    } else if (k < (*slot)->kind) {
        decide(*slot, e, k);
    } else if (!(*slot)->username) {
        (*slot)->username = dn_uid(e->dn_after ? e->dn_after : e->dn_before);
    }
    struct audit_report_row *row = *slot;
    add_school(row, e->school);
    if (!row->source_uid && e->source_uid)
        row->source_uid = xstrdup(e->source_uid);
}

/* Copies the personal fields of a UserRecord into the row (never the password hash). */
static void take_record(struct audit_report_row *row, const struct user_record *u, int64_t offset,
                        bool mine)
{
    row->has_record = true;
    row->record_from_import = mine;
    row->record_offset = offset;
    row->line = mine ? u->line : 0;
    set_str(&row->firstname, u->firstname);
    set_str(&row->lastname, u->lastname);
    set_str(&row->birthday, u->birthday);
    set_str(&row->email, u->email);
    free_strv(row->classes, row->n_classes);
    row->classes = NULL;
    row->n_classes = 0;
    if (u->classes_given && u->n_classes) {
        row->classes = xcalloc(u->n_classes, sizeof(char *));
        for (size_t i = 0; i < u->n_classes; i++)
            row->classes[row->n_classes++] = xstrdup(u->classes[i]);
    }
    if (!row->source_uid)
        row->source_uid = xstrdup(u->source_uid);
    if (mine || !row->has_role) { /* the role the import listed the person in, else any */
        row->has_role = true;
        row->role = u->role;
    }
    if (!row->username && u->username)
        row->username = xstrdup(u->username);
}

static void import_role(struct audit_report *r, enum role role, bool dry_run)
{
    r->known = true;
    r->dry_run |= dry_run;
    if (!r->has_role) {
        r->has_role = true;
        r->role = role;
    }
}

void audit_report_users(struct audit_report *r, const struct users_msg *m, int32_t partition,
                        int64_t offset)
{
    if (m->type == USERS_MSG_IMPORT_END) {
        if (strcmp(m->u.end.import_id, r->import_id) == 0)
            import_role(r, m->u.end.role, m->u.end.dry_run);
        return;
    }
    if (m->type == USERS_MSG_IMPORT_RELEASE) {
        r->known |= strcmp(m->u.release.import_id, r->import_id) == 0;
        return;
    }
    if (m->type != USERS_MSG_USER_RECORD)
        return;
    const struct user_record *u = &m->u.user;
    bool mine = strcmp(u->import_id, r->import_id) == 0;
    if (mine) {
        import_role(r, u->role, u->dry_run);
        r->read++;
    }
    struct audit_report_row *row = strmap_get(r->rows, u->record_uid);
    if (!row || row->record_from_import)
        return;
    if (mine) {
        take_record(row, u, offset, true);
    } else if (partition == row->input_partition && offset < row->input_offset &&
               offset > row->record_offset) {
        /* The person's latest record before the event: what the directory held of it. */
        take_record(row, u, offset, false);
    }
}

bool audit_report_known(const struct audit_report *r)
{
    return r->known;
}

bool audit_report_dry_run(const struct audit_report *r)
{
    return r->dry_run;
}

static int cmp_row(const void *x, const void *y)
{
    const struct audit_report_row *a = *(struct audit_report_row *const *)x;
    const struct audit_report_row *b = *(struct audit_report_row *const *)y;
    if ((a->line > 0) != (b->line > 0))
        return a->line > 0 ? -1 : 1;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    int c = strcasecmp(a->record_uid, b->record_uid);
    return c ? c : strcmp(a->record_uid, b->record_uid);
}

struct audit_report_row **audit_report_rows(struct audit_report *r, size_t *n)
{
    if (!r->sorted) {
        r->sorted = (struct audit_report_row **)strmap_values(r->rows, &r->n_sorted);
        if (r->n_sorted > 1)
            qsort(r->sorted, r->n_sorted, sizeof(*r->sorted), cmp_row);
    }
    *n = r->n_sorted;
    return r->sorted;
}

static enum role row_role(const struct audit_report *r, const struct audit_report_row *row)
{
    return row->has_role ? row->role : r->has_role ? r->role : ROLE_STUDENT;
}

void audit_report_totals(struct audit_report *r, struct audit_report_totals *t)
{
    size_t n;
    struct audit_report_row **rows = audit_report_rows(r, &n);
    memset(t, 0, sizeof(*t));
    t->read = r->read;
    for (size_t i = 0; i < n; i++) {
        enum role role = row_role(r, rows[i]);
        switch (rows[i]->kind) {
        case AUDIT_ROW_ERROR:
            t->errors++;
            break;
        case AUDIT_ROW_ADDED:
            t->created[role]++;
            break;
        case AUDIT_ROW_DELETED:
            t->deleted[role]++;
            break;
        case AUDIT_ROW_MODIFIED:
            t->modified[role]++;
            break;
        }
    }
}

void audit_report_cells(const struct audit_report_row *row, struct audit_report_cells *c)
{
    memset(c, 0, sizeof(*c));
    bool err = row->kind == AUDIT_ROW_ERROR;
    if (row->line > 0)
        snprintf(c->line, sizeof(c->line), "%" PRId64, row->line);
    c->schools = audit_text_join(row->schools, row->n_schools, " ");
    c->classes = audit_text_join(row->classes, row->n_classes, ",");
    const char *v[AUDIT_REPORT_N_COLUMNS] = {
        c->line,
        err ? "0" : "1",
        err ? "1" : "0",
        row->action,
        row->has_role ? role_name(row->role) : "",
        row->username,
        c->schools,
        row->firstname,
        row->lastname,
        row->birthday,
        row->email,
        row->event == EVENT_MOVED_TO_LIMBO ? "1" : "0",
        c->classes,
        row->source_uid,
        row->record_uid,
        row->error_msg,
    };
    for (size_t i = 0; i < AUDIT_REPORT_N_COLUMNS; i++)
        c->v[i] = v[i] ? v[i] : "";
}

void audit_report_cells_free(struct audit_report_cells *c)
{
    free(c->schools);
    free(c->classes);
    memset(c, 0, sizeof(*c));
}

int audit_report_write_csv(struct audit_report *r, FILE *f)
{
    size_t n;
    struct audit_report_row **rows = audit_report_rows(r, &n);
    int rc = csv_write_row(f, audit_report_columns, AUDIT_REPORT_N_COLUMNS);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct audit_report_cells c;
        audit_report_cells(rows[i], &c);
        rc = csv_write_row(f, c.v, AUDIT_REPORT_N_COLUMNS);
        audit_report_cells_free(&c);
    }
    return rc;
}

/* ---- text and JSON ---- */

/* The roles the totals name: the import's, and any other with a count. */
static bool role_shown(const struct audit_report *r, const struct audit_report_totals *t, int k)
{
    return (r->has_role && (int)r->role == k) || t->created[k] || t->modified[k] || t->deleted[k];
}

static void totals_text(struct audit_report *r, FILE *f)
{
    struct audit_report_totals t;
    audit_report_totals(r, &t);
    fprintf(f, "Read users from input data: %" PRId64 "\n", t.read);
    static const char *const verbs[] = {"Created", "Modified", "Deleted"};
    const int64_t *counts[] = {t.created, t.modified, t.deleted};
    for (int v = 0; v < 3; v++) {
        for (int k = 0; k < ROLE_COUNT; k++) {
            if (role_shown(r, &t, k))
                fprintf(f, "%s %s: %" PRId64 "\n", verbs[v], role_name((enum role)k), counts[v][k]);
        }
    }
    fprintf(f, "Errors: %" PRId64 "\n", t.errors);
}

static void totals_json(struct audit_report *r, FILE *f)
{
    struct audit_report_totals t;
    struct json_out j;
    audit_report_totals(r, &t);
    json_out_init(&j, f);
    json_out_begin_object(&j);
    json_out_key(&j, "kind");
    json_out_string(&j, "totals");
    json_out_key(&j, "import_id");
    json_out_string(&j, r->import_id);
    json_out_key(&j, "dry_run");
    json_out_bool(&j, r->dry_run);
    json_out_key(&j, "read");
    json_out_int(&j, t.read);
    static const char *const keys[] = {"created", "modified", "deleted"};
    const int64_t *counts[] = {t.created, t.modified, t.deleted};
    for (int v = 0; v < 3; v++) {
        json_out_key(&j, keys[v]);
        json_out_begin_object(&j);
        for (int k = 0; k < ROLE_COUNT; k++) {
            json_out_key(&j, role_name((enum role)k));
            json_out_int(&j, counts[v][k]);
        }
        json_out_end_object(&j);
    }
    json_out_key(&j, "errors");
    json_out_int(&j, t.errors);
    json_out_end_object(&j);
    fputc('\n', f);
}

void audit_report_write_totals(struct audit_report *r, FILE *f, bool json)
{
    if (json)
        totals_json(r, f);
    else
        totals_text(r, f);
}

/* The table's columns: LINE ACTION ROLE USERNAME SCHOOLS NAME CLASSES RECORD_UID ERROR. */
enum { T_LINE, T_ACTION, T_ROLE, T_USER, T_SCHOOLS, T_NAME, T_CLASSES, T_RID, T_ERROR, T_N };

static void table_cells(const struct audit_report_cells *c, const char *name, const char *v[T_N])
{
    v[T_LINE] = c->v[0];
    v[T_ACTION] = strcmp(c->v[2], "1") == 0 ? "error" : c->v[3];
    v[T_ROLE] = c->v[4];
    v[T_USER] = c->v[5];
    v[T_SCHOOLS] = c->v[6];
    v[T_NAME] = name;
    v[T_CLASSES] = c->v[12];
    v[T_RID] = c->v[14];
    v[T_ERROR] = c->v[15];
}

void audit_report_write_text(struct audit_report *r, FILE *f)
{
    static const char *const head[T_N] = {"LINE", "ACTION",  "ROLE",       "USERNAME", "SCHOOLS",
                                          "NAME", "CLASSES", "RECORD_UID", "ERROR"};
    int w[T_N];
    size_t n;
    struct audit_report_row **rows = audit_report_rows(r, &n);
    struct audit_report_cells *cells = xcalloc(n + 1, sizeof(*cells));
    char **names = xcalloc(n + 1, sizeof(char *));
    for (int k = 0; k < T_N; k++)
        w[k] = audit_text_width(head[k]);
    for (size_t i = 0; i < n; i++) {
        const char *v[T_N];
        audit_report_cells(rows[i], &cells[i]);
        names[i] = xasprintf("%s %s", cells[i].v[7], cells[i].v[8]);
        table_cells(&cells[i], names[i], v);
        for (int k = 0; k < T_N; k++) {
            int cw = audit_text_width(v[k]);
            w[k] = cw > w[k] ? (cw > 40 ? 40 : cw) : w[k];
        }
    }
    fprintf(f, "Import %s%s\n", r->import_id, r->dry_run ? " (dry run: nothing was written)" : "");
    for (size_t i = 0; i <= n; i++) {
        const char *v[T_N];
        if (i == 0)
            memcpy(v, head, sizeof(v));
        else
            table_cells(&cells[i - 1], names[i - 1], v);
        int last = T_N - 1; /* no trailing blanks after the last non-empty cell */
        while (last > 0 && !*v[last])
            last--;
        for (int k = 0; k <= last; k++) {
            audit_text_put(f, v[k], k < last ? w[k] : 0);
            fputs(k < last ? "  " : "\n", f);
        }
    }
    for (size_t i = 0; i < n; i++) {
        audit_report_cells_free(&cells[i]);
        free(names[i]);
    }
    free(cells);
    free(names);
    totals_text(r, f);
}

static void row_json(const struct audit_report_row *row, FILE *f)
{
    struct audit_report_cells c;
    struct json_out j;
    audit_report_cells(row, &c);
    json_out_init(&j, f);
    json_out_begin_object(&j);
    json_out_key(&j, "kind");
    json_out_string(&j, "row");
    for (size_t i = 0; i < AUDIT_REPORT_N_COLUMNS; i++) {
        const char *k = audit_report_columns[i];
        if (strcmp(k, "schools") == 0) {
            json_out_string_array(&j, k, row->schools, row->n_schools);
        } else if (strcmp(k, "classes") == 0) {
            json_out_string_array(&j, k, row->classes, row->n_classes);
        } else if (i == 0 || i == 1 || i == 2 || i == 11) { /* line, success, error, disabled */
            json_out_key(&j, k);
            if (*c.v[i])
                json_out_int(&j, strtoll(c.v[i], NULL, 10));
            else
                json_out_null(&j);
        } else {
            json_out_key(&j, k);
            json_out_string(&j, *c.v[i] ? c.v[i] : NULL);
        }
    }
    json_out_key(&j, "event");
    json_out_string(&j, event_type_name(row->event));
    json_out_key(&j, "dry_run");
    json_out_bool(&j, row->dry_run);
    json_out_end_object(&j);
    fputc('\n', f);
    audit_report_cells_free(&c);
}

void audit_report_write_json(struct audit_report *r, FILE *f)
{
    size_t n;
    struct audit_report_row **rows = audit_report_rows(r, &n);
    for (size_t i = 0; i < n; i++)
        row_json(rows[i], f);
    totals_json(r, f);
}

static void row_free(void *v)
{
    struct audit_report_row *row = v;
    free(row->record_uid);
    free(row->username);
    free_strv(row->schools, row->n_schools);
    free(row->source_uid);
    free(row->error_msg);
    free(row->firstname);
    free(row->lastname);
    free(row->birthday);
    free(row->email);
    free_strv(row->classes, row->n_classes);
    free(row);
}

void audit_report_free(struct audit_report *r)
{
    if (!r)
        return;
    strmap_free(r->rows, row_free);
    free(r->sorted);
    free(r->import_id);
    free(r);
}
