/*
 * schema_registry: parses the embedded schemas once, computes their canonical form and
 * fingerprint, and answers "which schema wrote this?" and "which schema do I write with?".
 */
#include "schema_registry.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_canonical.h"
#include "strutil.h"

/* One lock for everything: lookups are a few string compares over a handful of entries, far
 * cheaper than the Avro decoding that follows them, so a rwlock would buy nothing. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static bool reg_ready;
static struct schema_entry **reg;
static size_t reg_n, reg_cap;

static void entry_free(struct schema_entry *e)
{
    if (!e)
        return;
    if (e->iface)
        avro_value_iface_decref(e->iface);
    if (e->schema)
        avro_schema_decref(e->schema);
    free(e->canonical);
    free(e->family);
    free(e);
}

static bool family_ok(const char *family)
{
    if (!family || !*family)
        return false;
    for (const char *p = family; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            return false;
    }
    return true;
}

/* Parses one schema text into a new entry. label names it in errors (a file name). */
static int entry_new(const char *family, int version, const char *json, const char *label,
                     struct schema_entry **out, char *errstr, size_t n)
{
    struct schema_entry *e = xcalloc(1, sizeof(*e));
    char err[256];
    int rc = -1;

    *out = NULL;
    if (!family_ok(family) || version < 0) {
        snprintf(errstr, n, "%s: bad family \"%s\" or version %d", label, family ? family : "",
                 version);
        goto out;
    }
    e->family = xstrdup(family);
    e->version = version;
    if (!json || avro_schema_from_json_length(json, strlen(json), &e->schema) != 0) {
        snprintf(errstr, n, "%s: invalid Avro schema: %s", label, json ? avro_strerror() : "none");
        e->schema = NULL;
        goto out;
    }
    if (!is_avro_record(e->schema)) {
        snprintf(errstr, n, "%s: top-level schema must be a record", label);
        goto out;
    }
    if (avro_canonical_form(e->schema, &e->canonical, err, sizeof(err)) < 0) {
        snprintf(errstr, n, "%s: %s", label, err);
        goto out;
    }
    e->fingerprint = avro_fingerprint64(e->canonical, strlen(e->canonical));
    e->iface = avro_generic_class_from_schema(e->schema);
    if (!e->iface) {
        snprintf(errstr, n, "%s: avro-c cannot build a value class: %s", label, avro_strerror());
        goto out;
    }
    *out = e;
    e = NULL;
    rc = 0;
out:
    entry_free(e);
    return rc;
}

/* Takes e into the table. Returns 0 if added, 1 if an identical entry exists (e is freed),
 * -1 on a conflict (e is freed, errstr filled). */
static int insert_locked(struct schema_entry *e, char *errstr, size_t n)
{
    for (size_t i = 0; i < reg_n; i++) {
        const struct schema_entry *o = reg[i];
        bool same_id = strcmp(o->family, e->family) == 0 && o->version == e->version;
        if (same_id && o->fingerprint == e->fingerprint) {
            entry_free(e);
            return 1;
        }
        if (same_id || o->fingerprint == e->fingerprint) {
            snprintf(errstr, n,
                     "schema %s v%d (fingerprint %016llx) conflicts with %s v%d (fingerprint "
                     "%016llx)",
                     e->family, e->version, (unsigned long long)e->fingerprint, o->family,
                     o->version, (unsigned long long)o->fingerprint);
            entry_free(e);
            return -1;
        }
    }
    if (reg_n == reg_cap) {
        reg_cap = reg_cap ? 2 * reg_cap : 8;
        reg = xrealloc(reg, reg_cap * sizeof(*reg));
    }
    reg[reg_n++] = e;
    return 0;
}

static void clear_locked(void)
{
    for (size_t i = 0; i < reg_n; i++)
        entry_free(reg[i]);
    free(reg);
    reg = NULL;
    reg_n = reg_cap = 0;
    reg_ready = false;
}

static int init_locked(char *errstr, size_t n)
{
    if (reg_ready)
        return 0;
    for (size_t i = 0; i < schema_texts_count; i++) {
        const struct schema_text *t = &schema_texts[i];
        struct schema_entry *e;
        if (entry_new(t->family, t->version, t->text, t->file, &e, errstr, n) < 0 ||
            insert_locked(e, errstr, n) < 0) {
            clear_locked();
            return -1;
        }
    }
    reg_ready = true;
    return 0;
}

int schema_registry_init(char *errstr, size_t n)
{
    pthread_mutex_lock(&reg_lock);
    int rc = init_locked(errstr, n);
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

void schema_registry_shutdown(void)
{
    pthread_mutex_lock(&reg_lock);
    clear_locked();
    pthread_mutex_unlock(&reg_lock);
}

int schema_registry_add(const char *family, int version, const char *json, char *errstr, size_t n)
{
    struct schema_entry *e = NULL;
    char label[96];
    int rc = -1;

    snprintf(label, sizeof(label), "%s v%d", family ? family : "(null)", version);
    /* Parse outside the lock: it is the slow part and touches no shared state. */
    if (entry_new(family, version, json, label, &e, errstr, n) < 0)
        return -1;
    pthread_mutex_lock(&reg_lock);
    if (init_locked(errstr, n) < 0) {
        entry_free(e);
        goto out;
    }
    rc = insert_locked(e, errstr, n) < 0 ? -1 : 0;
out:
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

const struct schema_entry *schema_registry_by_fingerprint(uint64_t fp)
{
    const struct schema_entry *found = NULL;
    char err[256];

    pthread_mutex_lock(&reg_lock);
    if (init_locked(err, sizeof(err)) == 0) {
        for (size_t i = 0; i < reg_n && !found; i++) {
            if (reg[i]->fingerprint == fp)
                found = reg[i];
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return found;
}

/* version < 0: the highest version of the family. */
static const struct schema_entry *find(const char *family, int version)
{
    const struct schema_entry *found = NULL;
    char err[256];

    if (!family)
        return NULL;
    pthread_mutex_lock(&reg_lock);
    if (init_locked(err, sizeof(err)) == 0) {
        for (size_t i = 0; i < reg_n; i++) {
            const struct schema_entry *e = reg[i];
            if (strcmp(e->family, family) != 0)
                continue;
            if (version >= 0 ? e->version == version : (!found || e->version > found->version))
                found = e;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return found;
}

const struct schema_entry *schema_registry_find(const char *family, int version)
{
    return version < 0 ? NULL : find(family, version);
}

const struct schema_entry *schema_registry_current(const char *family)
{
    return find(family, -1);
}
