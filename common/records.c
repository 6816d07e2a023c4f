/*
 * records: names of roles and event types, and the release of message structs.
 */
#include "records.h"

#include <stdlib.h>
#include <string.h>

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

void import_end_free(struct import_end *e)
{
    if (!e)
        return;
    free(e->import_id);
    free(e->source_uid);
    free(e->school);
    free_strv(e->kept_record_uids, e->n_kept);
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
