/*
 * sisopi-admin purge list: who the scheduler will purge, and when, read from the directory
 * (the scheduler's own source), sorted by date.
 */
#include "purge.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "dir_conn.h"
#include "import_id.h"
#include "json_out.h"
#include "purge_sweep.h"
#include "strutil.h"

struct row {
    char *dn, *record_uid, *username;
    int64_t purge_at_ms;
    const char *role; /* NULL: none */
    const char *note; /* why the scheduler skips it; NULL: it will be purged */
};

struct rows {
    struct row *v;
    size_t n;
};

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static int collect(const struct purge_candidate *c, void *opaque)
{
    struct rows *r = opaque;
    r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
    struct row *w = &r->v[r->n++];
    w->dn = xstrdup(c->dn);
    w->record_uid = dup_or_null(c->record_uid);
    w->username = dup_or_null(c->username);
    w->purge_at_ms = c->purge_at_ms;
    w->role = c->has_role ? role_name(c->role) : NULL;
    w->note = !c->has_role     ? "skipped: no student/teacher/staff role"
              : !c->record_uid ? "skipped: no record_uid"
              : !c->locked     ? "skipped: active, not in limbo"
                               : NULL;
    return 0;
}

static int cmp_row(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->purge_at_ms != y->purge_at_ms)
        return x->purge_at_ms < y->purge_at_ms ? -1 : 1;
    return strcmp(x->dn, y->dn);
}

static void iso_time(int64_t ms, char out[24])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 24, "%Y-%m-%d %H:%M:%SZ", &tm);
}

/* "due", "in 3d 4h", "in 12m": how long until the date. */
static void until(int64_t ms, int64_t now, char *out, size_t n)
{
    int64_t s = (ms - now) / 1000;
    if (ms <= now)
        snprintf(out, n, "due");
    else if (s >= 86400)
        snprintf(out, n, "in %" PRId64 "d %" PRId64 "h", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, n, "in %" PRId64 "h %" PRId64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf(out, n, "in %" PRId64 "m %" PRId64 "s", s / 60, s % 60);
}

static void print_json(const struct row *w, int64_t now)
{
    struct json_out j;
    json_out_init(&j, stdout);
    json_out_begin_object(&j);
    json_out_key(&j, "purge_at");
    json_out_int(&j, w->purge_at_ms);
    json_out_key(&j, "due");
    json_out_bool(&j, w->purge_at_ms <= now);
    json_out_key(&j, "record_uid");
    json_out_string(&j, w->record_uid);
    json_out_key(&j, "username");
    json_out_string(&j, w->username);
    json_out_key(&j, "role");
    json_out_string(&j, w->role);
    json_out_key(&j, "dn");
    json_out_string(&j, w->dn);
    json_out_key(&j, "skipped");
    json_out_string(&j, w->note);
    json_out_end_object(&j);
    fputc('\n', stdout);
}

static void print_text(const struct row *w, int64_t now)
{
    char at[24], in[32];
    iso_time(w->purge_at_ms, at);
    until(w->purge_at_ms, now, in, sizeof(in));
    printf("%-21s %-12s %-20s %-16s %-17s %s%s%s\n", at, in, w->record_uid ? w->record_uid : "-",
           w->username ? w->username : "-", w->role ? w->role : "-", w->dn, w->note ? "  # " : "",
           w->note ? w->note : "");
}

int admin_purge(const struct config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"due", no_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    bool due_only = false, json = false;
    int c;
    optind = 1;
    if (argc < 2 || strcmp(argv[1], "list") != 0) {
        fprintf(stderr, "sisopi-admin: purge: the only subcommand is \"list\"\n");
        return EXIT_USAGE;
    }
    argc--, argv++;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            due_only = true;
        else if (c == 'j')
            json = true;
        else
            return EXIT_USAGE;
    }
    if (optind != argc) {
        fprintf(stderr, "sisopi-admin: purge list takes no arguments besides --due, --json\n");
        return EXIT_USAGE;
    }
    char err[512];
    struct dir_conn *lc = NULL;
    if (dir_conn_open(cfg, &lc, err, sizeof(err)) != LDAP_SUCCESS) {
        fprintf(stderr, "sisopi-admin: %s\n", err);
        return EXIT_FAILED;
    }
    int64_t now = clock_wall_ms();
    struct rows r = {0};
    int rc = purge_sweep(lc, cfg, due_only ? now : INT64_MAX, collect, &r, err, sizeof(err));
    dir_conn_close(lc);
    if (rc < 0) {
        fprintf(stderr, "sisopi-admin: %s\n", err);
    } else {
        if (r.n > 1)
            qsort(r.v, r.n, sizeof(*r.v), cmp_row);
        if (!json && r.n)
            printf("%-21s %-12s %-20s %-16s %-17s %s\n", "PURGE AT (UTC)", "DUE", "RECORD_UID",
                   "USERNAME", "ROLE", "DN");
        size_t due = 0, skipped = 0;
        for (size_t i = 0; i < r.n; i++) {
            (json ? print_json : print_text)(&r.v[i], now);
            due += r.v[i].purge_at_ms <= now && !r.v[i].note;
            skipped += r.v[i].note != NULL;
        }
        /* With --due only the due ones were asked for: say so, not "N with a purge date". */
        if (!json && due_only)
            printf("%zu accounts due now (purge date passed), %zu of them skipped by the "
                   "scheduler; without --due: every account with a purge date\n",
                   r.n, skipped);
        else if (!json)
            printf("%zu accounts with a purge date: %zu due now, %zu skipped by the "
                   "scheduler\n",
                   r.n, due, skipped);
    }
    for (size_t i = 0; i < r.n; i++) {
        free(r.v[i].dn);
        free(r.v[i].record_uid);
        free(r.v[i].username);
    }
    free(r.v);
    return rc < 0 ? EXIT_FAILED : EXIT_OK;
}
