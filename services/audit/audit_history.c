/*
 * audit_history: a growing array of the person's items, sorted once at the end.
 */
#include "audit_history.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit_text.h"
#include "json_out.h"
#include "strutil.h"

void audit_history_init(struct audit_history *h, const char *record_uid)
{
    memset(h, 0, sizeof(*h));
    h->record_uid = xstrdup(record_uid);
}

void audit_history_free(struct audit_history *h)
{
    for (size_t i = 0; i < h->n; i++) {
        struct audit_history_item *it = &h->items[i];
        free(it->topic);
        if (it->is_event)
            event_free(&it->event);
        else
            users_msg_free(&it->msg);
    }
    free(h->items);
    free(h->record_uid);
    memset(h, 0, sizeof(*h));
}

bool audit_history_key_matches(const struct audit_history *h, const void *key, size_t len)
{
    return key && len == strlen(h->record_uid) && strncasecmp(key, h->record_uid, len) == 0;
}

static struct audit_history_item *add(struct audit_history *h, const char *topic, int32_t partition,
                                      int64_t offset, int64_t timestamp_ms)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 32;
        h->items = xrealloc(h->items, h->cap * sizeof(*h->items));
    }
    struct audit_history_item *it = &h->items[h->n++];
    memset(it, 0, sizeof(*it));
    it->topic = xstrdup(topic);
    it->partition = partition;
    it->offset = offset;
    it->timestamp_ms = timestamp_ms;
    return it;
}

bool audit_history_add_users(struct audit_history *h, const char *topic, int32_t partition,
                             int64_t offset, int64_t timestamp_ms, struct users_msg *m)
{
    const char *rid = m->type == USERS_MSG_USER_RECORD ? m->u.user.record_uid
                      : m->type == USERS_MSG_PURGE_DUE ? m->u.purge.record_uid
                                                       : NULL;
    if (!rid || strcasecmp(rid, h->record_uid) != 0)
        return false;
    struct audit_history_item *it = add(h, topic, partition, offset, timestamp_ms);
    it->msg = *m;
    memset(m, 0, sizeof(*m));
    return true;
}

bool audit_history_add_event(struct audit_history *h, const char *topic, int32_t partition,
                             int64_t offset, int64_t timestamp_ms, struct event *e)
{
    if (!e->record_uid || strcasecmp(e->record_uid, h->record_uid) != 0)
        return false;
    struct audit_history_item *it = add(h, topic, partition, offset, timestamp_ms);
    it->is_event = true;
    it->event = *e;
    memset(e, 0, sizeof(*e));
    return true;
}

static int cmp_item(const void *x, const void *y)
{
    const struct audit_history_item *a = x, *b = y;
    if (a->timestamp_ms != b->timestamp_ms)
        return a->timestamp_ms < b->timestamp_ms ? -1 : 1;
    if (a->is_event != b->is_event)
        return a->is_event ? 1 : -1; /* the input before what it caused */
    if (a->partition != b->partition)
        return a->partition < b->partition ? -1 : 1;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

void audit_history_sort(struct audit_history *h)
{
    if (h->n > 1)
        qsort(h->items, h->n, sizeof(*h->items), cmp_item);
}

/* ---- the item's columns ---- */

static const char *item_type(const struct audit_history_item *it)
{
    if (it->is_event)
        return event_type_name(it->event.type);
    return it->msg.type == USERS_MSG_USER_RECORD ? "UserRecord" : "PurgeDue";
}

/* The import, else the cause ("purge" for a PurgeDue order). */
static const char *item_cause(const struct audit_history_item *it)
{
    if (it->is_event)
        return it->event.import_id ? it->event.import_id : it->event.cause;
    return it->msg.type == USERS_MSG_USER_RECORD ? it->msg.u.user.import_id : "purge";
}

static bool item_dry_run(const struct audit_history_item *it)
{
    if (it->is_event)
        return it->event.dry_run;
    return it->msg.type == USERS_MSG_USER_RECORD && it->msg.u.user.dry_run;
}

static void put_list(FILE *f, const char *label, char *const *v, size_t n)
{
    char *s = audit_text_join(v, n, ",");
    fprintf(f, " %s=", label);
    audit_text_put(f, s, 0);
    free(s);
}

static void record_text(const struct user_record *r, FILE *f)
{
    fputs("school=", f);
    audit_text_put(f, r->school, 0);
    fprintf(f, " role=%s", role_name(r->role));
    if (r->classes_given)
        put_list(f, "classes", r->classes, r->n_classes);
    else
        fputs(" classes=(not given)", f);
    if (r->line > 0)
        fprintf(f, " line=%" PRId64, r->line);
}

static void event_text(const struct event *e, FILE *f)
{
    char t[AUDIT_TIME_SIZE];
    if (e->school) {
        fputs("school=", f);
        audit_text_put(f, e->school, 0);
        fputc(' ', f);
    }
    fputs("dn: ", f);
    audit_text_put(f, e->dn_before ? e->dn_before : "(none)", 0);
    fputs(" -> ", f);
    audit_text_put(f, e->dn_after ? e->dn_after : "(none)", 0);
    if (e->n_changed)
        put_list(f, "changed", e->changed, e->n_changed);
    if (e->purge_at_ms) {
        audit_text_time_ms(e->purge_at_ms, t);
        fprintf(f, " purge_at=%s", t);
    }
    if (e->reason) {
        fputs(" reason=\"", f);
        audit_text_put(f, e->reason, 0);
        fputc('"', f);
    }
}

void audit_history_write_text(const struct audit_history *h, FILE *f)
{
    char t[AUDIT_TIME_SIZE], where[160];
    for (size_t i = 0; i < h->n; i++) {
        const struct audit_history_item *it = &h->items[i];
        audit_text_time_ms(it->timestamp_ms, t);
        snprintf(where, sizeof(where), "%.100s[%" PRId32 "]@%" PRId64, it->topic, it->partition,
                 it->offset);
        fprintf(f, "%s  ", t);
        audit_text_put(f, where, 24);
        fputs("  ", f);
        audit_text_put(f, item_cause(it) ? item_cause(it) : "-", 36);
        fputs("  ", f);
        audit_text_put(f, item_type(it), 15);
        fputs("  ", f);
        if (it->is_event) {
            event_text(&it->event, f);
        } else if (it->msg.type == USERS_MSG_USER_RECORD) {
            record_text(&it->msg.u.user, f);
        } else {
            audit_text_time_ms(it->msg.u.purge.purge_at_ms, t);
            fprintf(f, "purge_at=%s", t);
        }
        fputs(item_dry_run(it) ? "  (dry run)\n" : "\n", f);
    }
}

void audit_history_write_json(const struct audit_history *h, FILE *f)
{
    char t[AUDIT_TIME_SIZE];
    for (size_t i = 0; i < h->n; i++) {
        const struct audit_history_item *it = &h->items[i];
        struct json_out j;
        json_out_init(&j, f);
        json_out_begin_object(&j);
        audit_text_time_ms(it->timestamp_ms, t);
        json_out_key(&j, "time");
        json_out_string(&j, t);
        json_out_key(&j, "timestamp");
        json_out_int(&j, it->timestamp_ms);
        json_out_key(&j, "topic");
        json_out_string(&j, it->topic);
        json_out_key(&j, "partition");
        json_out_int(&j, it->partition);
        json_out_key(&j, "offset");
        json_out_int(&j, it->offset);
        json_out_key(&j, "import_id");
        json_out_string(&j, it->is_event                            ? it->event.import_id
                            : it->msg.type == USERS_MSG_USER_RECORD ? it->msg.u.user.import_id
                                                                    : NULL);
        json_out_key(&j, "cause");
        json_out_string(&j, it->is_event                          ? it->event.cause
                            : it->msg.type == USERS_MSG_PURGE_DUE ? "purge"
                                                                  : NULL);
        json_out_key(&j, "type");
        json_out_string(&j, item_type(it));
        json_out_key(&j, "dry_run");
        json_out_bool(&j, item_dry_run(it));
        if (it->is_event) {
            json_out_key(&j, "event");
            json_out_event(&j, &it->event);
        } else {
            json_out_key(&j, "message");
            json_out_users_msg(&j, &it->msg);
        }
        json_out_end_object(&j);
        fputc('\n', f);
    }
}
