/*
 * test_avro_codec: every message type survives encode/decode, older writers decode with
 * defaults, and bad bytes of any kind give an error (never a crash or a huge allocation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "avro_codec.h"
#include "schema_registry.h"

#define USERS_V1_FP  UINT64_C(0xdd5e9b72e8603888)
#define USERS_V2_FP  UINT64_C(0xf5659e0c01ecde51)
#define EVENTS_V1_FP UINT64_C(0x09fb35bc12194c61)

static char err[512];

static int setup(void **state)
{
    (void)state;
    return schema_registry_init(err, sizeof(err));
}

/* Every test starts from the embedded schemas only, whatever the previous one registered. */
static int teardown(void **state)
{
    (void)state;
    schema_registry_shutdown();
    return 0;
}

static char **strv(size_t n, ...)
{
    va_list ap;
    char **v = calloc(n, sizeof(char *));
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        v[i] = strdup(va_arg(ap, const char *));
    va_end(ap);
    return v;
}

static void fill_full_user(struct users_msg *m)
{
    struct user_record *r = &m->u.user;
    memset(m, 0, sizeof(*m));
    m->type = USERS_MSG_USER_RECORD;
    r->import_id = strdup("imp-20240901-0001");
    r->source_uid = strdup("sis");
    r->school = strdup("gsm");
    r->role = ROLE_TEACHER_AND_STAFF;
    r->record_uid = strdup("F-12345");
    r->firstname = strdup("Zoë Ünal");
    r->lastname = strdup("O'Brien, \"Jr\" \\ 李");
    r->username = strdup("zunal");
    r->email = strdup("");
    r->birthday = strdup("2001-02-03");
    r->password_hash = strdup("{CRYPT}$6$salt$hash");
    r->classes_given = true;
    r->classes = strv(2, "gsm-5a", "gsm-6b");
    r->n_classes = 2;
    r->n_extra = 2;
    r->extra = calloc(2, sizeof(*r->extra));
    r->extra[0].name = strdup("description");
    r->extra[0].values = strv(1, "line one\nline two");
    r->extra[0].n_values = 1;
    r->extra[1].name = strdup("telephoneNumber");
    r->extra[1].values = strv(2, "+49 1", "+49 2");
    r->extra[1].n_values = 2;
    r->line = 4242;
    r->dry_run = true;
}

static void fill_min_user(struct users_msg *m)
{
    struct user_record *r = &m->u.user;
    memset(m, 0, sizeof(*m));
    m->type = USERS_MSG_USER_RECORD;
    r->import_id = strdup("i");
    r->source_uid = strdup("s");
    r->school = strdup("x");
    r->role = ROLE_STUDENT;
    r->record_uid = strdup("r");
    r->firstname = strdup("");
    r->lastname = strdup("L");
}

static void fill_end(struct users_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->type = USERS_MSG_IMPORT_END;
    m->u.end.import_id = strdup("imp");
    m->u.end.source_uid = strdup("sis");
    m->u.end.school = strdup("gsm");
    m->u.end.role = ROLE_STAFF;
    m->u.end.produced_at_ms = 1725148800123;
    m->u.end.record_count = 17;
    m->u.end.first_offset = 123456789012LL;
    m->u.end.partition = 3;
    m->u.end.partition_count = 12;
    m->u.end.total_records = 200;
    m->u.end.n_kept = 2;
    m->u.end.kept_record_uids = calloc(2, sizeof(char *));
    m->u.end.kept_record_uids[0] = strdup("bad-row-1");
    m->u.end.kept_record_uids[1] = strdup("Müller-2");
    m->u.end.dry_run = true;
}

static void fill_purge(struct users_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->type = USERS_MSG_PURGE_DUE;
    m->u.purge.record_uid = strdup("F-1");
    m->u.purge.purge_at_ms = INT64_MAX;
    m->u.purge.produced_at_ms = -1;
}

static void fill_release(struct users_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->type = USERS_MSG_IMPORT_RELEASE;
    m->u.release.import_id = strdup("imp-held");
    m->u.release.released_by = strdup("admin äöü");
    m->u.release.produced_at_ms = 1725148800777;
}

static void fill_full_event(struct event *e)
{
    memset(e, 0, sizeof(*e));
    e->type = EVENT_IMPORT_HELD;
    e->produced_at_ms = 1725148800999;
    e->record_uid = strdup("F-1");
    e->import_id = strdup("imp");
    e->cause = strdup("release");
    e->source_uid = strdup("sis");
    e->school = strdup("gsm");
    e->has_role = true;
    e->role = ROLE_TEACHER;
    e->input_topic = strdup("sisopi.users");
    e->input_partition = 7;
    e->input_offset = 123456789012;
    e->dn_before = strdup("uid=a,cn=lehrer,cn=users,ou=gsm,dc=ex");
    e->dn_after = strdup("uid=a,cn=users,ou=limbo,dc=ex");
    e->changed = strv(3, "givenName", "sn", "ucsschoolSchool");
    e->n_changed = 3;
    e->reason = strdup("would remove 40% of members");
    e->purge_at_ms = 1727740800000;
    e->has_counts = true;
    e->counts = (struct import_counts){100, 1, 2, 3, 4, 5, 6};
    e->dry_run = true;
}

static void fill_min_event(struct event *e)
{
    memset(e, 0, sizeof(*e));
    e->type = EVENT_CREATED;
    e->input_partition = -1;
    e->input_offset = -1;
}

static void assert_str_same(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_strv_same(char **a, size_t na, char **b, size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++)
        assert_string_equal(a[i], b[i]);
}

static void assert_users_same(const struct users_msg *a, const struct users_msg *b)
{
    assert_int_equal(a->type, b->type);
    if (a->type == USERS_MSG_USER_RECORD) {
        const struct user_record *x = &a->u.user, *y = &b->u.user;
        assert_str_same(x->import_id, y->import_id);
        assert_str_same(x->source_uid, y->source_uid);
        assert_str_same(x->school, y->school);
        assert_int_equal(x->role, y->role);
        assert_str_same(x->record_uid, y->record_uid);
        assert_str_same(x->firstname, y->firstname);
        assert_str_same(x->lastname, y->lastname);
        assert_str_same(x->username, y->username);
        assert_str_same(x->email, y->email);
        assert_str_same(x->birthday, y->birthday);
        assert_str_same(x->password_hash, y->password_hash);
        assert_int_equal(x->classes_given, y->classes_given);
        assert_strv_same(x->classes, x->n_classes, y->classes, y->n_classes);
        assert_int_equal(x->n_extra, y->n_extra);
        for (size_t i = 0; i < x->n_extra; i++) {
            assert_string_equal(x->extra[i].name, y->extra[i].name);
            assert_strv_same(x->extra[i].values, x->extra[i].n_values, y->extra[i].values,
                             y->extra[i].n_values);
        }
        assert_int_equal(x->line, y->line);
        assert_int_equal(x->dry_run, y->dry_run);
    } else if (a->type == USERS_MSG_IMPORT_END) {
        const struct import_end *x = &a->u.end, *y = &b->u.end;
        assert_str_same(x->import_id, y->import_id);
        assert_str_same(x->source_uid, y->source_uid);
        assert_str_same(x->school, y->school);
        assert_int_equal(x->role, y->role);
        assert_int_equal(x->produced_at_ms, y->produced_at_ms);
        assert_int_equal(x->record_count, y->record_count);
        assert_int_equal(x->first_offset, y->first_offset);
        assert_int_equal(x->partition, y->partition);
        assert_int_equal(x->partition_count, y->partition_count);
        assert_int_equal(x->total_records, y->total_records);
        assert_strv_same(x->kept_record_uids, x->n_kept, y->kept_record_uids, y->n_kept);
        assert_int_equal(x->dry_run, y->dry_run);
        assert_int_equal(x->has_guard, y->has_guard);
        assert_int_equal(x->guard.held, y->guard.held);
        assert_int_equal(x->guard.removals, y->guard.removals);
        assert_int_equal(x->guard.members, y->guard.members);
        assert_str_same(x->guard.reason, y->guard.reason);
    } else if (a->type == USERS_MSG_IMPORT_RELEASE) {
        assert_str_same(a->u.release.import_id, b->u.release.import_id);
        assert_str_same(a->u.release.released_by, b->u.release.released_by);
        assert_int_equal(a->u.release.produced_at_ms, b->u.release.produced_at_ms);
    } else {
        assert_str_same(a->u.purge.record_uid, b->u.purge.record_uid);
        assert_int_equal(a->u.purge.purge_at_ms, b->u.purge.purge_at_ms);
        assert_int_equal(a->u.purge.produced_at_ms, b->u.purge.produced_at_ms);
    }
}

static void assert_events_same(const struct event *a, const struct event *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->produced_at_ms, b->produced_at_ms);
    assert_str_same(a->record_uid, b->record_uid);
    assert_str_same(a->import_id, b->import_id);
    assert_str_same(a->cause, b->cause);
    assert_str_same(a->source_uid, b->source_uid);
    assert_str_same(a->school, b->school);
    assert_int_equal(a->has_role, b->has_role);
    if (a->has_role)
        assert_int_equal(a->role, b->role);
    assert_str_same(a->input_topic, b->input_topic);
    assert_int_equal(a->input_partition, b->input_partition);
    assert_int_equal(a->input_offset, b->input_offset);
    assert_str_same(a->dn_before, b->dn_before);
    assert_str_same(a->dn_after, b->dn_after);
    assert_strv_same(a->changed, a->n_changed, b->changed, b->n_changed);
    assert_str_same(a->reason, b->reason);
    assert_int_equal(a->purge_at_ms, b->purge_at_ms);
    assert_int_equal(a->has_counts, b->has_counts);
    assert_memory_equal(&a->counts, &b->counts, sizeof(a->counts));
    assert_int_equal(a->dry_run, b->dry_run);
}

static uint64_t header_fp(const void *buf)
{
    uint64_t fp = 0;
    assert_int_equal(avro_codec_peek_fingerprint(buf, AVRO_CODEC_HEADER_SIZE, &fp), 0);
    return fp;
}

static void users_round_trip(struct users_msg *m)
{
    void *buf;
    size_t len;
    struct users_msg d;

    if (users_msg_encode(m, &buf, &len, err, sizeof(err)) != 0)
        fail_msg("encode: %s", err);
    assert_true(header_fp(buf) == USERS_V2_FP);
    if (users_msg_decode(buf, len, &d, err, sizeof(err)) != 0)
        fail_msg("decode: %s", err);
    assert_users_same(m, &d);
    users_msg_free(&d);
    users_msg_free(m);
    free(buf);
}

static void event_round_trip(struct event *e)
{
    void *buf;
    size_t len;
    struct event d;

    if (event_encode(e, &buf, &len, err, sizeof(err)) != 0)
        fail_msg("encode: %s", err);
    assert_true(header_fp(buf) == EVENTS_V1_FP);
    if (event_decode(buf, len, &d, err, sizeof(err)) != 0)
        fail_msg("decode: %s", err);
    assert_events_same(e, &d);
    event_free(&d);
    event_free(e);
    free(buf);
}

/* Editing a released schema would make every message already on the topics unreadable. */
static void test_released_fingerprints(void **state)
{
    (void)state;
    const struct schema_entry *u = schema_registry_find("users", 1);
    const struct schema_entry *u2 = schema_registry_find("users", 2);
    const struct schema_entry *e = schema_registry_find("events", 1);
    assert_non_null(u);
    assert_non_null(u2);
    assert_non_null(e);
    assert_true(u->fingerprint == USERS_V1_FP);
    assert_true(u2->fingerprint == USERS_V2_FP);
    assert_ptr_equal(schema_registry_current("users"), u2);
    assert_true(e->fingerprint == EVENTS_V1_FP);
    assert_ptr_equal(schema_registry_by_fingerprint(USERS_V1_FP), u);
    assert_null(schema_registry_find("nope", 1));
    assert_null(schema_registry_current("nope"));
}

static void test_round_trip_users(void **state)
{
    (void)state;
    struct users_msg m;

    fill_full_user(&m);
    users_round_trip(&m);
    fill_min_user(&m);
    users_round_trip(&m);
    /* Classes given but empty ("remove from all classes") differs from not given. */
    fill_min_user(&m);
    m.u.user.classes_given = true;
    users_round_trip(&m);
    fill_end(&m);
    users_round_trip(&m);
    fill_end(&m);
    m.u.end.dry_run = false;
    m.u.end.partition = INT32_MIN;
    users_round_trip(&m);
    /* The deletion guard's decision: held with its reason, and passed without one. */
    fill_end(&m);
    m.u.end.has_guard = true;
    m.u.end.guard = (struct guard_decision){true, 12, 30, strdup("would take gsm from 12")};
    users_round_trip(&m);
    fill_end(&m);
    m.u.end.has_guard = true;
    m.u.end.guard = (struct guard_decision){false, 1, 30, NULL};
    users_round_trip(&m);
    fill_purge(&m);
    users_round_trip(&m);
    fill_release(&m);
    users_round_trip(&m);
    for (int r = 0; r < ROLE_COUNT; r++) {
        fill_min_user(&m);
        m.u.user.role = (enum role)r;
        users_round_trip(&m);
    }
}

static void test_round_trip_events(void **state)
{
    (void)state;
    struct event e;

    fill_full_event(&e);
    event_round_trip(&e);
    fill_min_event(&e);
    event_round_trip(&e);
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        fill_min_event(&e);
        e.type = (enum event_type)t;
        e.has_role = true;
        e.role = (enum role)(t % ROLE_COUNT);
        event_round_trip(&e);
    }
}

static void test_encode_rejects_bad_structs(void **state)
{
    (void)state;
    struct users_msg m;
    struct event e;
    void *buf = (void *)1;
    size_t len = 1;

    fill_min_user(&m);
    free(m.u.user.lastname);
    m.u.user.lastname = NULL;
    assert_int_equal(users_msg_encode(&m, &buf, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "lastname"));
    assert_null(buf);
    users_msg_free(&m);

    fill_min_user(&m);
    m.u.user.role = (enum role)99;
    assert_int_equal(users_msg_encode(&m, &buf, &len, err, sizeof(err)), -1);
    users_msg_free(&m);

    fill_min_user(&m);
    free(m.u.user.firstname);
    m.u.user.firstname = strdup("bad \xff utf8");
    assert_int_equal(users_msg_encode(&m, &buf, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "UTF-8"));
    users_msg_free(&m);

    memset(&m, 0, sizeof(m));
    m.type = (enum users_msg_type)7;
    assert_int_equal(users_msg_encode(&m, &buf, &len, err, sizeof(err)), -1);

    fill_min_event(&e);
    e.type = (enum event_type)EVENT_TYPE_COUNT;
    assert_int_equal(event_encode(&e, &buf, &len, err, sizeof(err)), -1);
    assert_null(buf);
    assert_int_equal(len, 0);
}

/* ---- Older and newer writers --------------------------------------------------------------- */

/* users v0: a UserRecord without any of the optional fields and with one role v1 lacks, and an
 * ImportEnd without total_records (required in v1, no default). */
static const char users_v0[] =
    "{\"type\":\"record\",\"name\":\"UsersMessage\",\"namespace\":\"org.sisopi\",\"fields\":["
    "{\"name\":\"body\",\"type\":["
    "{\"type\":\"record\",\"name\":\"UserRecord\",\"fields\":["
    "{\"name\":\"import_id\",\"type\":\"string\"},{\"name\":\"source_uid\",\"type\":\"string\"},"
    "{\"name\":\"school\",\"type\":\"string\"},"
    "{\"name\":\"role\",\"type\":{\"type\":\"enum\",\"name\":\"Role\",\"symbols\":"
    "[\"guest\",\"student\",\"teacher\",\"staff\",\"teacher_and_staff\"]}},"
    "{\"name\":\"record_uid\",\"type\":\"string\"},{\"name\":\"firstname\",\"type\":\"string\"},"
    "{\"name\":\"lastname\",\"type\":\"string\"}]},"
    "{\"type\":\"record\",\"name\":\"ImportEnd\",\"fields\":["
    "{\"name\":\"import_id\",\"type\":\"string\"},{\"name\":\"source_uid\",\"type\":\"string\"},"
    "{\"name\":\"school\",\"type\":\"string\"},{\"name\":\"role\",\"type\":\"Role\"},"
    "{\"name\":\"produced_at\",\"type\":\"long\"},{\"name\":\"record_count\",\"type\":\"long\"},"
    "{\"name\":\"partition\",\"type\":\"int\"},{\"name\":\"partition_count\",\"type\":\"int\"}"
    "]}]}]}";

/* events v0: few fields, and its enum in another order (symbols map by name, not index). */
static const char events_v0[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"org.sisopi\",\"fields\":["
    "{\"name\":\"type\",\"type\":{\"type\":\"enum\",\"name\":\"EventType\",\"symbols\":"
    "[\"Deleted\",\"Created\"]}},"
    "{\"name\":\"produced_at\",\"type\":\"int\"},"
    "{\"name\":\"record_uid\",\"type\":[\"null\",\"string\"]}]}";

static void set_str(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f;
    assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL), 0);
    assert_int_equal(avro_value_set_string(&f, s), 0);
}

static void set_sym(avro_value_t *rec, const char *name, const char *sym)
{
    avro_value_t f;
    assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL), 0);
    avro_schema_t s = avro_value_get_schema(&f);
    while (is_avro_link(s))
        s = avro_schema_link_target(s);
    assert_int_equal(avro_value_set_enum(&f, avro_schema_enum_get_by_name(s, sym)), 0);
}

static void set_num(avro_value_t *rec, const char *name, int64_t v)
{
    avro_value_t f;
    assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL), 0);
    if (avro_value_get_type(&f) == AVRO_INT32)
        assert_int_equal(avro_value_set_int(&f, (int32_t)v), 0);
    else
        assert_int_equal(avro_value_set_long(&f, v), 0);
}

/* Writes a users message with the generic API: body branch, then the fields common to
 * UserRecord and ImportEnd. The caller sets the rest on *rec and calls finish(). */
static void v0_begin(const struct schema_entry *e, avro_value_t *root, int branch,
                     avro_value_t *rec, const char *role)
{
    avro_value_t body;
    assert_int_equal(avro_generic_value_new(e->iface, root), 0);
    assert_int_equal(avro_value_get_by_name(root, "body", &body, NULL), 0);
    assert_int_equal(avro_value_set_branch(&body, branch, rec), 0);
    set_str(rec, "import_id", "imp0");
    set_str(rec, "source_uid", "sis");
    set_str(rec, "school", "gsm");
    set_sym(rec, "role", role);
}

static void finish(const struct schema_entry *e, avro_value_t *root, void **buf, size_t *len)
{
    if (avro_codec_write_value(e->fingerprint, root, buf, len, err, sizeof(err)) != 0)
        fail_msg("write: %s", err);
    avro_value_decref(root);
}

static const struct schema_entry *add_schema(const char *family, int version, const char *json)
{
    if (schema_registry_add(family, version, json, err, sizeof(err)) != 0)
        fail_msg("add %s v%d: %s", family, version, err);
    return schema_registry_find(family, version);
}

static void test_older_writer_gets_defaults(void **state)
{
    (void)state;
    const struct schema_entry *v0 = add_schema("users", 0, users_v0);
    avro_value_t root, rec;
    struct users_msg d;
    void *buf;
    size_t len;

    assert_int_equal(schema_registry_current("users")->version, 2);
    v0_begin(v0, &root, 0, &rec, "teacher");
    set_str(&rec, "record_uid", "F-9");
    set_str(&rec, "firstname", "Ada");
    set_str(&rec, "lastname", "Lovelace");
    finish(v0, &root, &buf, &len);
    assert_true(header_fp(buf) == v0->fingerprint);

    if (users_msg_decode(buf, len, &d, err, sizeof(err)) != 0)
        fail_msg("decode: %s", err);
    assert_int_equal(d.type, USERS_MSG_USER_RECORD);
    assert_string_equal(d.u.user.import_id, "imp0");
    assert_int_equal(d.u.user.role, ROLE_TEACHER);
    assert_string_equal(d.u.user.record_uid, "F-9");
    assert_string_equal(d.u.user.lastname, "Lovelace");
    assert_null(d.u.user.username);
    assert_null(d.u.user.email);
    assert_null(d.u.user.birthday);
    assert_null(d.u.user.password_hash);
    assert_false(d.u.user.classes_given);
    assert_int_equal(d.u.user.n_classes, 0);
    assert_int_equal(d.u.user.n_extra, 0);
    assert_int_equal(d.u.user.line, 0);
    assert_false(d.u.user.dry_run);
    users_msg_free(&d);
    free(buf);
}

static void test_older_writer_missing_required(void **state)
{
    (void)state;
    const struct schema_entry *v0 = add_schema("users", 0, users_v0);
    avro_value_t root, rec;
    struct users_msg d;
    void *buf;
    size_t len;

    v0_begin(v0, &root, 1, &rec, "staff");
    set_num(&rec, "produced_at", 5);
    set_num(&rec, "record_count", 1);
    set_num(&rec, "partition", 0);
    set_num(&rec, "partition_count", 1);
    finish(v0, &root, &buf, &len);
    assert_int_equal(users_msg_decode(buf, len, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "total_records"));
    free(buf);
}

static void test_unknown_enum_symbol(void **state)
{
    (void)state;
    const struct schema_entry *v0 = add_schema("users", 0, users_v0);
    avro_value_t root, rec;
    struct users_msg d;
    void *buf;
    size_t len;

    v0_begin(v0, &root, 0, &rec, "guest");
    set_str(&rec, "record_uid", "F-9");
    set_str(&rec, "firstname", "A");
    set_str(&rec, "lastname", "B");
    finish(v0, &root, &buf, &len);
    assert_int_equal(users_msg_decode(buf, len, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "guest"));
    free(buf);
}

static void test_older_event_writer(void **state)
{
    (void)state;
    const struct schema_entry *v0 = add_schema("events", 0, events_v0);
    avro_value_t root, f, b;
    struct event d;
    void *buf;
    size_t len;

    assert_int_equal(avro_generic_value_new(v0->iface, &root), 0);
    set_sym(&root, "type", "Deleted");
    set_num(&root, "produced_at", 77);
    assert_int_equal(avro_value_get_by_name(&root, "record_uid", &f, NULL), 0);
    assert_int_equal(avro_value_set_branch(&f, 1, &b), 0);
    assert_int_equal(avro_value_set_string(&b, "F-3"), 0);
    finish(v0, &root, &buf, &len);

    if (event_decode(buf, len, &d, err, sizeof(err)) != 0)
        fail_msg("decode: %s", err);
    assert_int_equal(d.type, EVENT_DELETED);
    assert_int_equal(d.produced_at_ms, 77);
    assert_string_equal(d.record_uid, "F-3");
    assert_null(d.import_id);
    assert_false(d.has_role);
    assert_int_equal(d.input_partition, -1);
    assert_int_equal(d.input_offset, -1);
    assert_int_equal(d.n_changed, 0);
    assert_int_equal(d.purge_at_ms, 0);
    assert_false(d.has_counts);
    assert_false(d.dry_run);
    event_free(&d);
    free(buf);
}

/* Returns a copy of the canonical form of the current users schema with `from` replaced by
 * `to`. */
static char *users_current_edited(const char *from, const char *to)
{
    const char *c = schema_registry_current("users")->canonical;
    const char *at = strstr(c, from);
    assert_non_null(at);
    char *out = malloc(strlen(c) - strlen(from) + strlen(to) + 1);
    sprintf(out, "%.*s%s%s", (int)(at - c), c, to, at + strlen(from));
    return out;
}

/* An operator registers a newer version: writers switch to it, filling the fields this build
 * does not know with null; readers of this build read it. */
static void test_newer_current_writer(void **state)
{
    (void)state;
    char *v3 = users_current_edited("{\"name\":\"dry_run\",\"type\":\"boolean\"}]}",
                                    "{\"name\":\"dry_run\",\"type\":\"boolean\"},"
                                    "{\"name\":\"nickname\",\"type\":[\"null\",\"string\"]}]}");
    const struct schema_entry *e = add_schema("users", 3, v3);
    struct users_msg m, d;
    void *buf;
    size_t len;

    assert_ptr_equal(schema_registry_current("users"), e);
    fill_full_user(&m);
    if (users_msg_encode(&m, &buf, &len, err, sizeof(err)) != 0)
        fail_msg("encode: %s", err);
    assert_true(header_fp(buf) == e->fingerprint);
    if (users_msg_decode(buf, len, &d, err, sizeof(err)) != 0)
        fail_msg("decode: %s", err);
    assert_users_same(&m, &d);
    users_msg_free(&d);
    users_msg_free(&m);
    free(buf);
    free(v3);
}

/* A current schema without a field this build must write is refused, not silently lossy. */
static void test_current_writer_lacks_field(void **state)
{
    (void)state;
    char *v3 = users_current_edited("{\"name\":\"email\",\"type\":[\"null\",\"string\"]},", "");
    struct users_msg m;
    void *buf;
    size_t len;

    add_schema("users", 3, v3);
    fill_full_user(&m);
    assert_int_equal(users_msg_encode(&m, &buf, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "email"));
    users_msg_free(&m);
    free(v3);
}

static void test_registry_add_rules(void **state)
{
    (void)state;
    const char *v1 = schema_registry_find("users", 1)->canonical;
    char *copy = strdup(v1);

    /* The same schema again is a no-op; under another version or family it is a conflict. */
    assert_int_equal(schema_registry_add("users", 1, copy, err, sizeof(err)), 0);
    assert_int_equal(schema_registry_add("users", 5, copy, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "dd5e9b72e8603888"));
    assert_int_equal(schema_registry_add("events", 1, copy, err, sizeof(err)), -1);
    assert_int_equal(schema_registry_add("users", 0, "{\"type\":", err, sizeof(err)), -1);
    assert_int_equal(schema_registry_add("Users!", 3, copy, err, sizeof(err)), -1);
    assert_int_equal(schema_registry_add("users", 3, "\"string\"", err, sizeof(err)), -1);
    assert_int_equal(schema_registry_add("users", 3, NULL, err, sizeof(err)), -1);
    assert_int_equal(schema_registry_current("users")->version, 2);
    free(copy);
}

/* ---- Bad bytes ----------------------------------------------------------------------------- */

static void *encode_full_user(size_t *len)
{
    struct users_msg m;
    void *buf;
    fill_full_user(&m);
    if (users_msg_encode(&m, &buf, len, err, sizeof(err)) != 0)
        fail_msg("encode: %s", err);
    users_msg_free(&m);
    return buf;
}

static void *encode_full_event(size_t *len)
{
    struct event e;
    void *buf;
    fill_full_event(&e);
    if (event_encode(&e, &buf, len, err, sizeof(err)) != 0)
        fail_msg("encode: %s", err);
    event_free(&e);
    return buf;
}

/* A header for fp followed by body. */
static unsigned char *frame(uint64_t fp, const void *body, size_t blen, size_t *len)
{
    unsigned char *b = malloc(AVRO_CODEC_HEADER_SIZE + blen + 1);
    b[0] = 0xc3;
    b[1] = 0x01;
    for (int i = 0; i < 8; i++)
        b[2 + i] = (unsigned char)(fp >> (8 * i));
    memcpy(b + AVRO_CODEC_HEADER_SIZE, body, blen);
    *len = AVRO_CODEC_HEADER_SIZE + blen;
    return b;
}

static void expect_users_error(const void *buf, size_t len, const char *needle)
{
    struct users_msg d;
    assert_int_equal(users_msg_decode(buf, len, &d, err, sizeof(err)), -1);
    if (needle && !strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
    /* A failed decode leaves nothing to free. */
    assert_null(d.u.user.import_id);
}

static void test_header_errors(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = encode_full_user(&len);
    struct event ev;

    for (size_t l = 0; l < AVRO_CODEC_HEADER_SIZE; l++)
        expect_users_error(buf, l, "shorter");
    expect_users_error(NULL, 0, "shorter");
    buf[0] = 0xc2;
    expect_users_error(buf, len, "c2 01");
    buf[0] = 0xc3;
    buf[1] = 0x02;
    expect_users_error(buf, len, "c3 02");
    buf[1] = 0x01;
    /* A users message handed to the events decoder names what it is. */
    assert_int_equal(event_decode(buf, len, &ev, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "users v2"));
    free(buf);

    size_t flen;
    unsigned char *f = frame(UINT64_C(0x0123456789abcdef), "\0", 1, &flen);
    expect_users_error(f, flen, "unknown schema fingerprint 0123456789abcdef");
    free(f);
}

static void test_truncated_at_every_length(void **state)
{
    (void)state;
    size_t len, elen;
    unsigned char *buf = encode_full_user(&len);
    unsigned char *ebuf = encode_full_event(&elen);
    struct event ev;

    for (size_t l = 0; l < len; l++)
        expect_users_error(buf, l, NULL);
    for (size_t l = 0; l < elen; l++)
        assert_int_equal(event_decode(ebuf, l, &ev, err, sizeof(err)), -1);
    free(buf);
    free(ebuf);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = encode_full_user(&len);
    unsigned char *longer = calloc(1, len + 100);

    memcpy(longer, buf, len);
    expect_users_error(longer, len + 1, "1 trailing bytes");
    expect_users_error(longer, len + 100, "100 trailing bytes");
    free(longer);
    free(buf);
}

static size_t put_varint(unsigned char *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (unsigned char)z;
    return n;
}

/* Lengths and counts that would make avro-c allocate terabytes are refused up front. */
static void test_crafted_huge_lengths(void **state)
{
    (void)state;
    unsigned char body[64];
    size_t n = 0, len;
    struct event ev;

    /* UserRecord whose import_id claims 2^40 bytes. */
    body[n++] = 0x00;
    n += put_varint(body + n, INT64_C(1) << 40);
    unsigned char *f = frame(USERS_V1_FP, body, n, &len);
    expect_users_error(f, len, "exceeds");
    free(f);

    /* Negative length. */
    n = 0;
    body[n++] = 0x00;
    n += put_varint(body + n, -5);
    f = frame(USERS_V1_FP, body, n, &len);
    expect_users_error(f, len, "exceeds");
    free(f);

    /* An Event whose "changed" array announces 2^50 items. */
    n = 0;
    body[n++] = 0x00; /* type Created */
    body[n++] = 0x00; /* produced_at */
    for (int i = 0; i < 6; i++)
        body[n++] = 0x00; /* record_uid .. role: null */
    body[n++] = 0x00;     /* input_topic null */
    body[n++] = 0x01;     /* input_partition -1 */
    body[n++] = 0x01;     /* input_offset -1 */
    body[n++] = 0x00;     /* dn_before */
    body[n++] = 0x00;     /* dn_after */
    n += put_varint(body + n, INT64_C(1) << 50);
    f = frame(EVENTS_V1_FP, body, n, &len);
    assert_int_equal(event_decode(f, len, &ev, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "exceeds"));
    free(f);

    /* A varint that never ends. */
    memset(body, 0xff, sizeof(body));
    f = frame(USERS_V1_FP, body, sizeof(body), &len);
    expect_users_error(f, len, "varint");
    free(f);
}

static void test_bad_indexes(void **state)
{
    (void)state;
    unsigned char body[4];
    size_t len;
    struct event ev;

    body[0] = 0x08; /* body union branch 4 of 4 */
    unsigned char *f = frame(USERS_V1_FP, body, 1, &len);
    expect_users_error(f, len, "union branch 4 out of range");
    free(f);

    body[0] = 0x18; /* EventType index 12 of 12 */
    body[1] = 0x00;
    f = frame(EVENTS_V1_FP, body, 2, &len);
    assert_int_equal(event_decode(f, len, &ev, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "enum index 12"));
    free(f);
}

/* Strings avro-c accepts but a C string or UTF-8 consumer cannot. */
static void test_bad_strings(void **state)
{
    (void)state;
    const struct schema_entry *e = schema_registry_current("users");
    const char *bad[] = {"\xc3\x28", "\xed\xa0\x80", "\xc0\xaf", "abc\xf4\x90\x80\x80"};
    avro_value_t root, rec, f;
    void *buf;
    size_t len;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        avro_value_t body;
        assert_int_equal(avro_generic_value_new(e->iface, &root), 0);
        assert_int_equal(avro_value_get_by_name(&root, "body", &body, NULL), 0);
        assert_int_equal(avro_value_set_branch(&body, 2, &rec), 0);
        set_str(&rec, "record_uid", bad[i]);
        finish(e, &root, &buf, &len);
        expect_users_error(buf, len, "UTF-8");
        free(buf);
    }

    avro_value_t body;
    assert_int_equal(avro_generic_value_new(e->iface, &root), 0);
    assert_int_equal(avro_value_get_by_name(&root, "body", &body, NULL), 0);
    assert_int_equal(avro_value_set_branch(&body, 2, &rec), 0);
    assert_int_equal(avro_value_get_by_name(&rec, "record_uid", &f, NULL), 0);
    assert_int_equal(avro_value_set_string_len(&f, "a\0b", 4), 0);
    finish(e, &root, &buf, &len);
    expect_users_error(buf, len, "NUL");
    free(buf);
}

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void decode_any(const void *buf, size_t len)
{
    struct users_msg m;
    struct event e;
    if (users_msg_decode(buf, len, &m, err, sizeof(err)) == 0)
        users_msg_free(&m);
    else
        assert_true(err[0] != '\0');
    if (event_decode(buf, len, &e, err, sizeof(err)) == 0)
        event_free(&e);
}

/* Random bodies behind valid headers, and random mutations of valid messages: decoding must
 * return (either way) without a sanitizer report. */
static void test_garbage(void **state)
{
    (void)state;
    unsigned char buf[512];
    size_t ulen, elen;
    unsigned char *user = encode_full_user(&ulen);
    unsigned char *ev = encode_full_event(&elen);
    uint64_t fps[] = {USERS_V1_FP, EVENTS_V1_FP, rng()};

    for (int i = 0; i < 4000; i++) {
        size_t len = rng() % 300, blen;
        for (size_t k = 0; k < len; k++)
            buf[k] = (unsigned char)rng();
        if (i % 4 != 0) {
            unsigned char *f = frame(fps[rng() % 3], buf, len, &blen);
            decode_any(f, blen);
            free(f);
        } else {
            decode_any(buf, len);
        }
    }
    for (int i = 0; i < 4000; i++) {
        const unsigned char *src = i % 2 ? user : ev;
        size_t len = i % 2 ? ulen : elen;
        memcpy(buf, src, len);
        for (int k = 0, flips = 1 + (int)(rng() % 4); k < flips; k++) {
            size_t at = AVRO_CODEC_HEADER_SIZE + rng() % (len - AVRO_CODEC_HEADER_SIZE);
            buf[at] = (unsigned char)rng();
        }
        decode_any(buf, len - (rng() % 3 == 0 ? rng() % len : 0));
    }
    free(user);
    free(ev);
}

struct thread_arg {
    int failures;
};

static void *worker(void *p)
{
    struct thread_arg *a = p;
    char terr[256];
    for (int i = 0; i < 300; i++) {
        struct users_msg m, d;
        void *buf;
        size_t len;
        fill_full_user(&m);
        if (users_msg_encode(&m, &buf, &len, terr, sizeof(terr)) != 0 ||
            users_msg_decode(buf, len, &d, terr, sizeof(terr)) != 0 ||
            strcmp(d.u.user.lastname, m.u.user.lastname) != 0)
            a->failures++;
        else
            users_msg_free(&d);
        users_msg_free(&m);
        free(buf);
    }
    return NULL;
}

/* The registry and avro-c's shared value classes are used from several threads at once. */
static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    struct thread_arg a[4] = {{0}};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
}

/* What the direct path (users_wire) reads must be what the generic path reads: the same rc,
 * the same error, and structs that encode to the same bytes. */
static void expect_paths_agree(const void *buf, size_t len)
{
    char e1[256] = "", e2[256] = "";
    struct users_msg a, g;
    int ra = users_msg_decode(buf, len, &a, e1, sizeof(e1));
    int rg = users_msg_decode_generic(buf, len, &g, e2, sizeof(e2));
    assert_int_equal(ra, rg);
    if (ra != 0) {
        assert_string_equal(e1, e2);
        return;
    }
    void *x, *y;
    size_t nx, ny;
    assert_int_equal(users_msg_encode_generic(&a, &x, &nx, err, sizeof(err)), 0);
    assert_int_equal(users_msg_encode_generic(&g, &y, &ny, err, sizeof(err)), 0);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    free(x);
    free(y);
    users_msg_free(&a);
    users_msg_free(&g);
}

/* UserRecords are written and read directly: byte for byte what avro-c writes, read back the
 * same, every mutation answered the same way. */
static void test_direct_path_matches_generic(void **state)
{
    (void)state;
    struct users_msg variants[6];
    fill_full_user(&variants[0]);
    fill_min_user(&variants[1]);
    fill_min_user(&variants[2]);
    variants[2].u.user.classes_given = true; /* given, empty */
    fill_full_user(&variants[3]);
    variants[3].u.user.dry_run = true;
    variants[3].u.user.line = INT64_MIN;
    fill_full_user(&variants[4]);
    variants[4].u.user.line = INT64_MAX;
    variants[4].u.user.role = ROLE_TEACHER_AND_STAFF;
    fill_min_user(&variants[5]);
    free(variants[5].u.user.firstname);
    variants[5].u.user.firstname = strdup("bad \xc3\x28 UTF-8"); /* both refuse to write it */
    for (size_t v = 0; v < sizeof(variants) / sizeof(*variants); v++) {
        void *direct = NULL, *generic = NULL;
        size_t nd = 0, ng = 0;
        char e1[256] = "", e2[256] = "";
        int rd = users_msg_encode(&variants[v], &direct, &nd, e1, sizeof(e1));
        int rg = users_msg_encode_generic(&variants[v], &generic, &ng, e2, sizeof(e2));
        assert_int_equal(rd, rg);
        assert_string_equal(e1, e2);
        if (rd == 0) {
            assert_int_equal(nd, ng);
            assert_memory_equal(direct, generic, nd);
            expect_paths_agree(direct, nd);
            /* Every single-byte change and every truncation, read both ways. */
            unsigned char *m = malloc(nd);
            assert_non_null(m);
            for (size_t at = AVRO_CODEC_HEADER_SIZE; at < nd; at++) {
                for (int k = 0; k < 8; k++) {
                    memcpy(m, direct, nd);
                    m[at] = (unsigned char)(k < 4 ? m[at] ^ (1u << (k * 2)) : rng());
                    expect_paths_agree(m, nd);
                }
                expect_paths_agree(direct, at);
            }
            free(m);
        }
        free(direct);
        free(generic);
        users_msg_free(&variants[v]);
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_released_fingerprints),
        T(test_round_trip_users),
        T(test_round_trip_events),
        T(test_encode_rejects_bad_structs),
        T(test_older_writer_gets_defaults),
        T(test_older_writer_missing_required),
        T(test_unknown_enum_symbol),
        T(test_older_event_writer),
        T(test_newer_current_writer),
        T(test_current_writer_lacks_field),
        T(test_registry_add_rules),
        T(test_header_errors),
        T(test_truncated_at_every_length),
        T(test_trailing_bytes),
        T(test_crafted_huge_lengths),
        T(test_bad_indexes),
        T(test_bad_strings),
        T(test_garbage),
        T(test_threads),
        T(test_direct_path_matches_generic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
