/*
 * resync: collects the (source_uid, record_uid) pairs from both directories, then syncs them
 * one by one, printing each operation in a dry run or a verify.
 */
#include "resync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "dir_escape.h"
#include "log.h"
#include "strutil.h"
#include "sync.h"
#include "view.h"

struct key {
    char *sid, *rid;
};

struct keys {
    struct key *v;
    size_t n;
};

static void on_key(const struct dir_entry *e, void *opaque)
{
    struct keys *k = opaque;
    const char *sid = dir_entry_value(e, "ucsschoolSourceUID");
    const char *rid = dir_entry_value(e, "ucsschoolRecordUID");
    if (!sid || !rid)
        return;
    k->v = xrealloc(k->v, (k->n + 1) * sizeof(*k->v));
    k->v[k->n].sid = xstrdup(sid);
    k->v[k->n++].rid = xstrdup(rid);
}

static int cmp_key(const void *x, const void *y)
{
    const struct key *a = x, *b = y;
    int c = strcasecmp(a->rid, b->rid);
    return c ? c : strcasecmp(a->sid, b->sid);
}

static int collect(struct dir_conn *c, const char *base, const char *filter, struct keys *k)
{
    static const char *const attrs[] = {"ucsschoolSourceUID", "ucsschoolRecordUID", NULL};
    char msg[256] = "";
    int rc = dir_conn_search_wait(c, base, LDAP_SCOPE_SUBTREE, filter, attrs, on_key, k, NULL, msg,
                                  sizeof(msg));
    if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
        fprintf(stderr, "sisopi-connector: %s: search %s: %s (%d) %s\n", dir_conn_uri(c), filter,
                ldap_err2string(rc), rc, msg);
        return -1;
    }
    return 0;
}

/* The filter part naming the schools: --school, else every school mapped to the authority. */
static char *schools_filter(const struct config *cfg, const struct connector_authority *a,
                            const char *school)
{
    char *f = xstrdup("(|");
    for (size_t i = 0; i < cfg->connector.n_schools; i++) {
        const char *s = cfg->connector.schools[i].school;
        if (!config_connector_school_of(cfg, s, a->name) || (school && strcasecmp(s, school)))
            continue;
        char *v = dir_escape_filter_value(s);
        xappendf(&f, "(ucsschoolSchool=%s)", v);
        free(v);
    }
    xappendf(&f, ")");
    return f;
}

static int gather(struct sync_ctx *s, const struct resync_opts *o, struct keys *k)
{
    const struct config *cfg = s->cfg;
    char *sf = schools_filter(cfg, s->a, o->school);
    char *mark = view_owner_mark(s->a->name), *mv = dir_escape_filter_value(mark);
    char *cf = xasprintf("(&(objectClass=ucsschoolType)(ucsschoolSourceUID=*)"
                         "(ucsschoolRecordUID=*)%s)",
                         sf);
    char *tf = o->school ? xasprintf("(&(objectClass=ucsschoolType)(ucsschoolRole=%s)%s)", mv, sf)
                         : xasprintf("(&(objectClass=ucsschoolType)(ucsschoolRole=%s))", mv);
    int rc = strcmp(sf, "(|)") == 0 ? 0 : collect(s->central, cfg->ldap.base, cf, k);
    if (rc == 0)
        rc = collect(s->target, s->a->base, tf, k);
    free(sf);
    free(mark);
    free(mv);
    free(cf);
    free(tf);
    if (rc < 0)
        return -1;
    qsort(k->v, k->n, sizeof(*k->v), cmp_key);
    size_t w = 0;
    for (size_t i = 0; i < k->n; i++) {
        if (w && cmp_key(&k->v[w - 1], &k->v[i]) == 0) {
            free(k->v[i].sid);
            free(k->v[i].rid);
            continue;
        }
        k->v[w++] = k->v[i];
    }
    k->n = w;
    return 0;
}

int resync_run(const struct config *cfg, const struct resync_opts *o)
{
    const struct connector_authority *a = config_connector_authority(cfg, o->authority);
    if (!a) {
        fprintf(stderr, "sisopi-connector: %s: no authority \"%s\" in connector.authorities\n",
                cfg->path, o->authority);
        return EXIT_USAGE;
    }
    if (o->school && !config_connector_school_of(cfg, o->school, a->name)) {
        fprintf(stderr,
                "sisopi-connector: --school %s: not a school of authority %s "
                "(connector.school_to_authority)\n",
                o->school, a->name);
        return EXIT_USAGE;
    }
    struct sync_ctx s;
    char err[512];
    sync_init(&s, cfg, a);
    if (sync_open(&s, err, sizeof(err)) < 0) {
        fprintf(stderr, "sisopi-connector: %s\n", err);
        sync_close(&s);
        return EXIT_FAILED;
    }
    struct keys k = {0};
    int rc = EXIT_OK;
    if (o->record_uid) {
        k.v = xcalloc(1, sizeof(*k.v));
        k.v[k.n++].rid = xstrdup(o->record_uid);
    } else if (gather(&s, o, &k) < 0) {
        rc = EXIT_FAILED;
    }
    bool dry = o->dry_run || o->verify;
    uint64_t changed = 0, rejected = 0, failed = 0;
    for (size_t i = 0; rc != EXIT_FAILED && i < k.n; i++) {
        struct sync_outcome out;
        enum sync_result r = sync_person(&s, k.v[i].sid, k.v[i].rid, dry ? stdout : NULL, &out);
        if (r == SYNC_REJECTED) {
            rejected++;
            printf("%s rejected %s: %s\n", a->name, k.v[i].rid, out.reason);
        } else if (r == SYNC_RETRY) {
            failed++;
            fprintf(stderr, "sisopi-connector: %s: %s\n", k.v[i].rid, out.reason);
        } else if (out.n_ops) {
            changed++;
        }
    }
    for (size_t i = 0; i < k.n; i++) {
        free(k.v[i].sid);
        free(k.v[i].rid);
    }
    free(k.v);
    sync_close(&s);
    if (rc == EXIT_FAILED)
        return rc;
    printf("sisopi-connector: authority %s: %zu persons, %" PRIu64 " %s, %" PRIu64
           " rejected, %" PRIu64 " failed\n",
           a->name, k.n, changed, dry ? "differ" : "changed", rejected, failed);
    if (failed)
        return EXIT_FAILED;
    if (rejected || (o->verify && changed))
        return EXIT_WITH_ERRORS;
    return EXIT_OK;
}
