/*
 * records: names of roles and event types, and the release of message structs.
 */
#include "records.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partitioner.h"
#include "text_norm.h"

static const char *const role_names[ROLE_COUNT] = {"student", "teacher", "staff",
                                                   "teacher_and_staff"};

static const char *const event_names[EVENT_TYPE_COUNT] = {
    "Created",         "Modified",    "SchoolAdded",      "SchoolRemoved",
    "MovedToLimbo",    "Reactivated", "Deleted",          "Rejected",
    "ImportCompleted", "ImportHeld",  "ImportIncomplete", "ImportReleased"};

const char *role_name(enum role r)
{
    if ((unsigned)r >= ROLE_COUNT)
        return "?";
    return role_names[r];
}

int role_parse(const char *s, enum role *out)
{
    for (int i = 0; s && i < ROLE_COUNT; i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (enum role)i;
            return 0;
        }
    }
    return -1;
}

const char *event_type_name(enum event_type t)
{
    if ((unsigned)t >= EVENT_TYPE_COUNT)
        return "?";
    return event_names[t];
}

int event_type_parse(const char *s, enum event_type *out)
{
    for (int i = 0; s && i < EVENT_TYPE_COUNT; i++) {
        if (strcmp(s, event_names[i]) == 0) {
            *out = (enum event_type)i;
            return 0;
        }
    }
    return -1;
}

/* ---- the rules a schema cannot say ---- */

enum str_rule {
    STR_IDENT, /* must be there and not empty; no control character */
    STR_PLAIN, /* may be absent; no control character */
    STR_TEXT,  /* may be absent; line breaks and tabs allowed (a description) */
};

/* Returns why (filled) when v breaks rule, else NULL. */
static const char *check_str(const char *field, const char *v, enum str_rule rule, char *why,
                             size_t n)
{
    if (!v || !*v) {
        if (rule != STR_IDENT)
            return NULL;
        snprintf(why, n, "%s is %s", field, v ? "empty" : "missing");
        return why;
    }
    size_t len = strlen(v);
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)v[i];
        if (c >= 0x20 && c < 0x7f) { /* printable ASCII, most of every record: no decoding */
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = text_norm_utf8_next(v + i, len - i, &cp);
        bool allowed = rule == STR_TEXT && (cp == '\t' || cp == '\n' || cp == '\r');
        if (text_norm_is_control(cp) && !allowed) {
            snprintf(why, n, "%s has the control character U+%04X at byte %zu", field, (unsigned)cp,
                     i);
            return why;
        }
        i += k;
    }
    return NULL;
}

static const char *check_strv(const char *field, char *const *v, size_t count, enum str_rule rule,
                              char *why, size_t n)
{
    for (size_t i = 0; i < count; i++) {
        if (check_str(field, v[i], rule, why, n))
            return why;
    }
    return NULL;
}

static const char *user_invalid(const struct user_record *r, char *why, size_t n)
{
    if (check_str("UserRecord.import_id", r->import_id, STR_IDENT, why, n) ||
        check_str("UserRecord.source_uid", r->source_uid, STR_IDENT, why, n) ||
        check_str("UserRecord.school", r->school, STR_IDENT, why, n) ||
        check_str("UserRecord.record_uid", r->record_uid, STR_IDENT, why, n) ||
        check_str("UserRecord.firstname", r->firstname, STR_PLAIN, why, n) ||
        check_str("UserRecord.lastname", r->lastname, STR_PLAIN, why, n) ||
        check_str("UserRecord.username", r->username, STR_PLAIN, why, n) ||
        check_str("UserRecord.email", r->email, STR_PLAIN, why, n) ||
        check_str("UserRecord.birthday", r->birthday, STR_PLAIN, why, n) ||
        check_str("UserRecord.password_hash", r->password_hash, STR_PLAIN, why, n) ||
        check_strv("UserRecord.classes", r->classes, r->n_classes, STR_IDENT, why, n))
        return why;
    for (size_t i = 0; i < r->n_extra; i++) {
        if (check_str("UserRecord.extra.name", r->extra[i].name, STR_IDENT, why, n) ||
            check_strv("UserRecord.extra.values", r->extra[i].values, r->extra[i].n_values,
                       STR_TEXT, why, n))
            return why;
    }
    if (r->line < 0) {
        snprintf(why, n, "UserRecord.line %" PRId64 " is negative", r->line);
        return why;
    }
    return NULL;
}

static const char *end_invalid(const struct import_end *e, char *why, size_t n)
{
    if (check_str("ImportEnd.import_id", e->import_id, STR_IDENT, why, n) ||
        check_str("ImportEnd.source_uid", e->source_uid, STR_IDENT, why, n) ||
        check_str("ImportEnd.school", e->school, STR_IDENT, why, n) ||
        check_strv("ImportEnd.kept_record_uids", e->kept_record_uids, e->n_kept, STR_IDENT, why, n))
        return why;
    if (e->record_count < 0 || e->total_records < 0)
        snprintf(why, n, "ImportEnd.%s %" PRId64 " is negative",
                 e->record_count < 0 ? "record_count" : "total_records",
                 e->record_count < 0 ? e->record_count : e->total_records);
    else if (e->first_offset < -1)
        snprintf(why, n, "ImportEnd.first_offset %" PRId64 " is below -1", e->first_offset);
    else
        return NULL;
    return why;
}

const char *users_msg_invalid(const struct users_msg *m, char *why, size_t n)
{
    switch (m->type) {
    case USERS_MSG_USER_RECORD:
        return user_invalid(&m->u.user, why, n);
    case USERS_MSG_IMPORT_END:
        return end_invalid(&m->u.end, why, n);
    case USERS_MSG_PURGE_DUE:
        return check_str("PurgeDue.record_uid", m->u.purge.record_uid, STR_IDENT, why, n);
    case USERS_MSG_IMPORT_RELEASE:
        if (check_str("ImportRelease.import_id", m->u.release.import_id, STR_IDENT, why, n) ||
            check_str("ImportRelease.released_by", m->u.release.released_by, STR_PLAIN, why, n))
            return why;
        return NULL;
    }
    snprintf(why, n, "unknown message type %d", (int)m->type);
    return why;
}

const char *users_msg_misplaced(const struct users_msg *m, const void *key, size_t key_len,
                                int32_t partition, int32_t partition_count, char *why, size_t n)
{
    const char *want_key = NULL, *what = NULL, *person = NULL;
    switch (m->type) {
    case USERS_MSG_USER_RECORD:
        want_key = person = m->u.user.record_uid, what = "record_uid";
        break;
    case USERS_MSG_PURGE_DUE:
        want_key = person = m->u.purge.record_uid, what = "record_uid";
        break;
    case USERS_MSG_IMPORT_END:
        want_key = m->u.end.import_id, what = "import_id";
        break;
    case USERS_MSG_IMPORT_RELEASE:
        want_key = m->u.release.import_id, what = "import_id";
        break;
    }
    if (!want_key)
        return NULL;
    size_t wl = strlen(want_key);
    if (!key) {
        snprintf(why, n, "the message has no key; it must be the %s", what);
        return why;
    }
    if (key_len != wl || memcmp(key, want_key, wl) != 0) {
        snprintf(why, n, "the key \"%.*s\" is not the %s \"%s\"",
                 (int)(key_len > 64 ? 64 : key_len), (const char *)key, what, want_key);
        return why;
    }
    if (person && partition_count > 0) {
        int32_t home = partitioner_partition(person, wl, partition_count);
        if (home != partition) {
            snprintf(why, n,
                     "record_uid \"%s\" belongs to partition %" PRId32 " of %" PRId32
                     ", not %" PRId32,
                     person, home, partition_count, partition);
            return why;
        }
    }
    if (m->type == USERS_MSG_IMPORT_END && m->u.end.partition != partition) {
        snprintf(why, n, "the ImportEnd for partition %" PRId32 " is in partition %" PRId32,
                 m->u.end.partition, partition);
        return why;
    }
    return NULL;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void user_record_free(struct user_record *r)
{
    if (!r)
        return;
    if (r->arena) { /* the strings live in it; only the arrays are apart */
        free(r->arena);
        free(r->classes);
        for (size_t i = 0; i < r->n_extra; i++)
            free(r->extra[i].values);
        free(r->extra);
        memset(r, 0, sizeof(*r));
        return;
    }
    free(r->import_id);
    free(r->source_uid);
    free(r->school);
    free(r->record_uid);
    free(r->firstname);
    free(r->lastname);
    free(r->username);
    free(r->email);
    free(r->birthday);
    free(r->password_hash);
    free_strv(r->classes, r->n_classes);
    for (size_t i = 0; i < r->n_extra; i++) {
        free(r->extra[i].name);
        free_strv(r->extra[i].values, r->extra[i].n_values);
    }
    free(r->extra);
    memset(r, 0, sizeof(*r));
}

void import_counts_add(struct import_counts *sum, const struct import_counts *c)
{
    sum->records += c->records;
    sum->created += c->created;
    sum->modified += c->modified;
    sum->unchanged += c->unchanged;
    sum->removed += c->removed;
    sum->limbo += c->limbo;
    sum->errors += c->errors;
}

void import_end_free(struct import_end *e)
{
    if (!e)
        return;
    free(e->import_id);
    free(e->source_uid);
    free(e->school);
    free_strv(e->kept_record_uids, e->n_kept);
    free(e->guard.reason);
    memset(e, 0, sizeof(*e));
}

void purge_due_free(struct purge_due *p)
{
    if (!p)
        return;
    free(p->record_uid);
    memset(p, 0, sizeof(*p));
}

void import_release_free(struct import_release *r)
{
    if (!r)
        return;
    free(r->import_id);
    free(r->released_by);
    memset(r, 0, sizeof(*r));
}

void users_msg_free(struct users_msg *m)
{
    if (!m)
        return;
    switch (m->type) {
    case USERS_MSG_USER_RECORD:
        user_record_free(&m->u.user);
        break;
    case USERS_MSG_IMPORT_END:
        import_end_free(&m->u.end);
        break;
    case USERS_MSG_PURGE_DUE:
        purge_due_free(&m->u.purge);
        break;
    case USERS_MSG_IMPORT_RELEASE:
        import_release_free(&m->u.release);
        break;
    }
}

void event_free(struct event *e)
{
    if (!e)
        return;
    free(e->record_uid);
    free(e->import_id);
    free(e->cause);
    free(e->source_uid);
    free(e->school);
    free(e->input_topic);
    free(e->dn_before);
    free(e->dn_after);
    free_strv(e->changed, e->n_changed);
    free(e->reason);
    memset(e, 0, sizeof(*e));
}
