/*
 * json_out: JSON text for people and scripts reading the topics. Output is always valid
 * JSON whatever bytes the strings hold: an audit report must not break on one bad name.
 */
#include "json_out.h"

#include <inttypes.h>
#include <string.h>

void json_out_init(struct json_out *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
}

/* Every value and key goes through here: a comma before all but the first in a container. */
static void before_value(struct json_out *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth])
        fputc(',', j->f);
    j->need_comma[j->depth] = true;
}

static void begin(struct json_out *j, int c)
{
    before_value(j);
    fputc(c, j->f);
    if (j->depth < JSON_OUT_MAX_DEPTH)
        j->depth++;
    j->need_comma[j->depth] = false;
}

static void end(struct json_out *j, int c)
{
    fputc(c, j->f);
    if (j->depth > 0)
        j->depth--;
}

void json_out_begin_object(struct json_out *j)
{
    begin(j, '{');
}

void json_out_end_object(struct json_out *j)
{
    end(j, '}');
}

void json_out_begin_array(struct json_out *j)
{
    begin(j, '[');
}

void json_out_end_array(struct json_out *j)
{
    end(j, ']');
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t k;
    uint32_t cp, min;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0)
        k = 2, cp = s[0] & 0x1f, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0)
        k = 3, cp = s[0] & 0x0f, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0)
        k = 4, cp = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

void json_write_stringn(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;

    if (!str) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    while (n > 0) {
        size_t k = utf8_seq(s, n);
        if (k == 0) {
            fputs("\\ufffd", f);
            k = 1;
        } else if (k > 1) {
            fwrite(s, 1, k, f);
        } else if (*s == '"' || *s == '\\') {
            fputc('\\', f);
            fputc(*s, f);
        } else if (*s == '\n') {
            fputs("\\n", f);
        } else if (*s == '\r') {
            fputs("\\r", f);
        } else if (*s == '\t') {
            fputs("\\t", f);
        } else if (*s < 0x20 || *s == 0x7f) {
            fprintf(f, "\\u%04x", *s);
        } else {
            fputc(*s, f);
        }
        s += k;
        n -= k;
    }
    fputc('"', f);
}

void json_write_string(FILE *f, const char *s)
{
    if (s)
        json_write_stringn(f, s, strlen(s));
    else
        fputs("null", f);
}

void json_out_key(struct json_out *j, const char *key)
{
    before_value(j);
    json_write_string(j->f, key);
    fputc(':', j->f);
    j->after_key = true;
}

void json_out_string(struct json_out *j, const char *s)
{
    before_value(j);
    json_write_string(j->f, s);
}

void json_out_int(struct json_out *j, int64_t v)
{
    before_value(j);
    fprintf(j->f, "%" PRId64, v);
}

void json_out_bool(struct json_out *j, bool v)
{
    before_value(j);
    fputs(v ? "true" : "false", j->f);
}

void json_out_null(struct json_out *j)
{
    before_value(j);
    fputs("null", j->f);
}

static void kv_str(struct json_out *j, const char *k, const char *v)
{
    json_out_key(j, k);
    json_out_string(j, v);
}

static void kv_int(struct json_out *j, const char *k, int64_t v)
{
    json_out_key(j, k);
    json_out_int(j, v);
}

static void kv_bool(struct json_out *j, const char *k, bool v)
{
    json_out_key(j, k);
    json_out_bool(j, v);
}

void json_out_string_array(struct json_out *j, const char *k, char *const *v, size_t n)
{
    json_out_key(j, k);
    json_out_begin_array(j);
    for (size_t i = 0; i < n; i++)
        json_out_string(j, v[i]);
    json_out_end_array(j);
}

static void user_record_json(struct json_out *j, const struct user_record *r)
{
    kv_str(j, "type", "UserRecord");
    kv_str(j, "import_id", r->import_id);
    kv_str(j, "source_uid", r->source_uid);
    kv_str(j, "school", r->school);
    kv_str(j, "role", role_name(r->role));
    kv_str(j, "record_uid", r->record_uid);
    kv_str(j, "firstname", r->firstname);
    kv_str(j, "lastname", r->lastname);
    kv_str(j, "username", r->username);
    kv_str(j, "email", r->email);
    kv_str(j, "birthday", r->birthday);
    /* A hash is still crackable offline: it stays on the topic, out of reports and logs. */
    kv_str(j, "password_hash", r->password_hash ? "(redacted)" : NULL);
    if (r->classes_given) {
        json_out_string_array(j, "classes", r->classes, r->n_classes);
    } else {
        json_out_key(j, "classes");
        json_out_null(j);
    }
    /* extra is sorted and unique by name, so an object keeps all of it. */
    json_out_key(j, "extra");
    json_out_begin_object(j);
    for (size_t i = 0; i < r->n_extra; i++)
        json_out_string_array(j, r->extra[i].name ? r->extra[i].name : "", r->extra[i].values,
                              r->extra[i].n_values);
    json_out_end_object(j);
    kv_int(j, "line", r->line);
    kv_bool(j, "dry_run", r->dry_run);
}

void json_out_users_msg(struct json_out *j, const struct users_msg *m)
{
    json_out_begin_object(j);
    switch (m->type) {
    case USERS_MSG_USER_RECORD:
        user_record_json(j, &m->u.user);
        break;
    case USERS_MSG_IMPORT_END:
        kv_str(j, "type", "ImportEnd");
        kv_str(j, "import_id", m->u.end.import_id);
        kv_str(j, "source_uid", m->u.end.source_uid);
        kv_str(j, "school", m->u.end.school);
        kv_str(j, "role", role_name(m->u.end.role));
        kv_int(j, "produced_at", m->u.end.produced_at_ms);
        kv_int(j, "record_count", m->u.end.record_count);
        kv_int(j, "first_offset", m->u.end.first_offset);
        kv_int(j, "partition", m->u.end.partition);
        kv_int(j, "partition_count", m->u.end.partition_count);
        kv_int(j, "total_records", m->u.end.total_records);
        json_out_string_array(j, "kept_record_uids", m->u.end.kept_record_uids, m->u.end.n_kept);
        kv_bool(j, "dry_run", m->u.end.dry_run);
        json_out_key(j, "guard");
        if (m->u.end.has_guard) {
            json_out_begin_object(j);
            kv_bool(j, "held", m->u.end.guard.held);
            kv_int(j, "removals", m->u.end.guard.removals);
            kv_int(j, "members", m->u.end.guard.members);
            kv_str(j, "reason", m->u.end.guard.reason);
            json_out_end_object(j);
        } else {
            json_out_null(j);
        }
        break;
    case USERS_MSG_PURGE_DUE:
        kv_str(j, "type", "PurgeDue");
        kv_str(j, "record_uid", m->u.purge.record_uid);
        kv_int(j, "purge_at", m->u.purge.purge_at_ms);
        kv_int(j, "produced_at", m->u.purge.produced_at_ms);
        break;
    case USERS_MSG_IMPORT_RELEASE:
        kv_str(j, "type", "ImportRelease");
        kv_str(j, "import_id", m->u.release.import_id);
        kv_str(j, "released_by", m->u.release.released_by);
        kv_int(j, "produced_at", m->u.release.produced_at_ms);
        break;
    default:
        kv_str(j, "type", "?");
        break;
    }
    json_out_end_object(j);
}

void users_msg_to_json(const struct users_msg *m, FILE *f)
{
    struct json_out j;
    json_out_init(&j, f);
    json_out_users_msg(&j, m);
    fputc('\n', f);
}

static void counts_json(struct json_out *j, const struct import_counts *c)
{
    json_out_begin_object(j);
    kv_int(j, "records", c->records);
    kv_int(j, "created", c->created);
    kv_int(j, "modified", c->modified);
    kv_int(j, "unchanged", c->unchanged);
    kv_int(j, "removed", c->removed);
    kv_int(j, "limbo", c->limbo);
    kv_int(j, "errors", c->errors);
    json_out_end_object(j);
}

void json_out_event(struct json_out *j, const struct event *e)
{
    json_out_begin_object(j);
    kv_str(j, "type", event_type_name(e->type));
    kv_int(j, "produced_at", e->produced_at_ms);
    kv_str(j, "record_uid", e->record_uid);
    kv_str(j, "import_id", e->import_id);
    kv_str(j, "cause", e->cause);
    kv_str(j, "source_uid", e->source_uid);
    kv_str(j, "school", e->school);
    kv_str(j, "role", e->has_role ? role_name(e->role) : NULL);
    kv_str(j, "input_topic", e->input_topic);
    kv_int(j, "input_partition", e->input_partition);
    kv_int(j, "input_offset", e->input_offset);
    kv_str(j, "dn_before", e->dn_before);
    kv_str(j, "dn_after", e->dn_after);
    json_out_string_array(j, "changed", e->changed, e->n_changed);
    kv_str(j, "reason", e->reason);
    json_out_key(j, "purge_at");
    if (e->purge_at_ms)
        json_out_int(j, e->purge_at_ms);
    else
        json_out_null(j);
    json_out_key(j, "counts");
    if (e->has_counts)
        counts_json(j, &e->counts);
    else
        json_out_null(j);
    kv_bool(j, "dry_run", e->dry_run);
    json_out_end_object(j);
}

void event_to_json(const struct event *e, FILE *f)
{
    struct json_out j;
    json_out_init(&j, f);
    json_out_event(&j, e);
    fputc('\n', f);
}
