/*
 * watch: the drop-directory protocol.
 *
 *   DIR/<school>/<role>.csv, DIR/<school>/<role>-<anything>.csv   picked up, oldest first
 *   DIR/done/<school>/<UTC time>-<role>-<import_id>.csv (+ .report)   imported
 *   DIR/failed/<school>/<UTC time>-<role>.csv (+ .report)             not imported
 *
 * A file is taken only once it has not changed for SETTLE_SECONDS, and names starting with
 * "." are skipped: a source database should write "DIR/A/.student.csv" and rename(2) it.
 */
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ingest.h"
#include "log.h"
#include "outcome.h"
#include "service_metrics.h"
#include "strutil.h"

#define SETTLE_SECONDS 2
#define MAX_CANDIDATES 10000

struct candidate {
    char *path;
    char *school;
    char *role;
    struct timespec mtime;
};

/* What /metrics shows: files by outcome, what they published, and whether DIR is readable. */
struct watch_stats {
    int64_t done, failed, records, markers;
    bool scan_ok;
    struct metrics *m;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* "student.csv" or "student-2026-11-21.csv" -> "student"; NULL for anything else. */
static char *role_of_name(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.' || n < 5 || strcmp(name + n - 4, ".csv") != 0)
        return NULL;
    size_t stem = strcspn(name, "-.");
    return xstrndup(name, stem);
}

static int cmp_candidate(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->path, y->path);
}

static void scan_school(const char *dir, const char *school, struct candidate *c, size_t *n,
                        size_t *pending)
{
    char *sdir = xasprintf("%s/%s", dir, school);
    DIR *d = opendir(sdir);
    struct dirent *e;
    time_t now = time(NULL);
    while (d && (e = readdir(d)) && *n < MAX_CANDIDATES) {
        char *role = role_of_name(e->d_name);
        if (!role)
            continue;
        char *path = xasprintf("%s/%s", sdir, e->d_name);
        struct stat st;
        bool ready = stat(path, &st) == 0 && S_ISREG(st.st_mode);
        if (ready && now - st.st_mtime < SETTLE_SECONDS) {
            (*pending)++; /* maybe still being written: next scan */
            ready = false;
        }
        if (!ready) {
            free(path);
            free(role);
            continue;
        }
        c[*n] = (struct candidate){path, xstrdup(school), role, st.st_mtim};
        (*n)++;
    }
    if (d)
        closedir(d);
    free(sdir);
}

/* The ready files of every school directory, oldest first; *pending counts those that
 * changed too recently to be taken yet. */
static size_t scan(const char *dir, struct candidate *c, size_t *pending, bool *ok)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    *ok = d != NULL;
    if (!d) {
        log_kv(LEVEL_ERROR, "watch_scan_failed", "dir", dir, "error", strerror(errno), NULL);
        return 0;
    }
    while ((e = readdir(d)) && n < MAX_CANDIDATES) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "done") == 0 ||
            strcmp(e->d_name, "failed") == 0)
            continue;
        scan_school(dir, e->d_name, c, &n, pending);
    }
    closedir(d);
    qsort(c, n, sizeof(*c), cmp_candidate);
    return n;
}

static int mkdir_p(const char *path)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0750) < 0 && errno != EEXIST)
                goto fail;
            *s = '/';
        }
    }
    if (mkdir(p, 0750) < 0 && errno != EEXIST)
        goto fail;
    free(p);
    return 0;
fail:
    free(p);
    return -1;
}

/* Moves the file to DIR/<outcome>/<school>/ and returns the new path without ".csv". */
static char *file_away(const char *dir, const char *outcome, const struct candidate *c,
                       const char *import_id)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
    char *to_dir = xasprintf("%s/%s/%s", dir, outcome, c->school);
    char *base = import_id ? xasprintf("%s/%s-%s-%s", to_dir, when, c->role, import_id)
                           : xasprintf("%s/%s-%s", to_dir, when, c->role);
    char *to = xasprintf("%s.csv", base);
    if (mkdir_p(to_dir) < 0 || rename(c->path, to) < 0) {
        log_kv(LEVEL_ERROR, "watch_move_failed", "file", c->path, "to", to, "error",
               strerror(errno), NULL);
        free(base);
        base = NULL;
    }
    free(to);
    free(to_dir);
    return base;
}

/* The report beside the filed CSV (BASE.report), or under output.report_dir when set:
 * REPORT_DIR/<done|failed>/<school>/<name>.report. A report that cannot be written is logged:
 * the import itself is done (or not) either way. */
static void write_report(const struct config *cfg, const char *outcome, const char *school,
                         const char *base, const char *text, size_t len)
{
    const char *name = strrchr(base, '/');
    name = name ? name + 1 : base;
    char *dir = cfg->output.report_dir && *cfg->output.report_dir
                    ? xasprintf("%s/%s/%s", cfg->output.report_dir, outcome, school)
                    : NULL;
    char *path = dir ? xasprintf("%s/%s.report", dir, name) : xasprintf("%s.report", base);
    FILE *f = dir && mkdir_p(dir) < 0 ? NULL : fopen(path, "w");
    bool written = f && fwrite(text, 1, len, f) == len;
    if (f && fclose(f) != 0)
        written = false;
    if (!written)
        log_kv(LEVEL_ERROR, "watch_report_not_written", "report", path, "error", strerror(errno),
               NULL);
    free(path);
    free(dir);
}

static int import_one(rd_kafka_t *rk, const struct config *cfg, const struct watch_opts *o,
                      const struct candidate *c, struct watch_stats *st)
{
    char err[512];
    enum role role;
    struct ingest_result res;
    /* The report is written to memory first: where it goes depends on the outcome. */
    char *report_text = NULL;
    size_t report_len = 0;
    FILE *report = open_memstream(&report_text, &report_len);
    const char *sid = o->source_uid ? o->source_uid : cfg->import.source_uid;

    memset(&res, 0, sizeof(res));
    res.exit_code = EXIT_FAILED;
    if (ingest_check_job(cfg, c->school, c->role, sid, &role, err, sizeof(err)) < 0) {
        fprintf(report, "%s: %s\n", c->path, err);
        snprintf(res.error, sizeof(res.error), "%s", err);
    } else {
        struct ingest_job job = {.cfg = cfg,
                                 .path = c->path,
                                 .school = c->school,
                                 .role = role,
                                 .source_uid = sid,
                                 .dry_run = o->dry_run,
                                 .report = report,
                                 .plan = report,
                                 .rows_in_summary = true,
                                 .progress = o->progress};
        int rc = outcome_run(rk, &job, o->wait, o->timeout_s, report, report, &res);
        if (res.exit_code != EXIT_FAILED)
            res.exit_code = rc; /* the outcome's, when waited for */
        ingest_result_free(&res);
    }
    fclose(report);

    bool ok = res.exit_code != EXIT_FAILED;
    if (ok)
        st->done++;
    else
        st->failed++;
    st->records += ok ? res.records : 0;
    st->markers += ok ? res.markers : 0;
    char *base = file_away(o->dir, ok ? "done" : "failed", c, ok ? res.import_id : NULL);
    if (base)
        write_report(cfg, ok ? "done" : "failed", c->school, base, report_text, report_len);
    log_kv(ok ? LEVEL_INFO : LEVEL_ERROR, ok ? "watch_imported" : "watch_failed", "file", c->path,
           "school", c->school, "role", c->role, "import_id", ok ? res.import_id : NULL, "filed_as",
           base, "error", ok ? NULL : res.error, NULL);
    free(base);
    free(report_text);
    return res.exit_code;
}

static int worse(int a, int b)
{
    if (a == EXIT_FAILED || b == EXIT_FAILED)
        return EXIT_FAILED;
    return a > b ? a : b;
}

static void declare_metrics(struct metrics *m)
{
    metrics_declare(m, "sisopi_import_files_total", METRICS_COUNTER,
                    "Files taken from the drop directory, by result (done, failed).");
    metrics_declare(m, "sisopi_records_produced_total", METRICS_COUNTER,
                    "UserRecords published to sisopi.users.");
    metrics_declare(m, "sisopi_end_markers_produced_total", METRICS_COUNTER,
                    "ImportEnd markers published (one per partition and import).");
}

static void publish(struct watch_stats *st, const char *dir)
{
    struct metrics *m = st->m;
    char lab[32] = "";
    metrics_heartbeat(m);
    char *why = xasprintf("cannot read the drop directory %s", dir);
    metrics_health(m, st->scan_ok, st->scan_ok ? "ok" : why);
    free(why);
    metrics_set(m, "sisopi_import_files_total", metrics_label(lab, sizeof(lab), "result", "done"),
                (double)st->done);
    lab[0] = '\0';
    metrics_set(m, "sisopi_import_files_total", metrics_label(lab, sizeof(lab), "result", "failed"),
                (double)st->failed);
    metrics_set(m, "sisopi_records_produced_total", NULL, (double)st->records);
    metrics_set(m, "sisopi_end_markers_produced_total", NULL, (double)st->markers);
}

int watch_run(rd_kafka_t *rk, const struct config *cfg, const struct watch_opts *o)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct watch_stats st = {.m = metrics_new("ingest")};
    struct metrics_http *http = NULL;
    char err[512];
    declare_metrics(st.m);
    if (!o->once && service_metrics_start(st.m, o->metrics_listen, &http, err, sizeof(err)) < 0) {
        fprintf(stderr, "sisopi-ingest: %s\n", err);
        metrics_free(st.m);
        return EXIT_FAILED;
    }
    /* A directory missing at start is a mistake in the command line or the unit: say so and
     * stop. One that goes away later only makes the service unhealthy until it is back. */
    struct stat sb;
    errno = 0;
    if (stat(o->dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "sisopi-ingest: --watch %s: %s\n", o->dir,
                errno ? strerror(errno) : "not a directory");
        metrics_http_stop(http);
        metrics_free(st.m);
        return EXIT_FAILED;
    }
    struct candidate *c = xcalloc(MAX_CANDIDATES, sizeof(*c));
    int rc = EXIT_OK;
    log_kv(LEVEL_INFO, "watch_started", "dir", o->dir, NULL);
    while (!stop_requested) {
        size_t pending = 0, n = scan(o->dir, c, &pending, &st.scan_ok);
        publish(&st, o->dir);
        for (size_t i = 0; i < n; i++) {
            if (!stop_requested)
                rc = worse(rc, import_one(rk, cfg, o, &c[i], &st));
            publish(&st, o->dir);
            free(c[i].path);
            free(c[i].school);
            free(c[i].role);
        }
        if (o->once && n == 0 && pending == 0)
            break;
        if (n == 0) {
            int wait = o->once ? 1 : o->interval;
            for (int s = 0; s < wait && !stop_requested; s++) {
                metrics_heartbeat(st.m);
                sleep(1);
            }
        }
    }
    free(c);
    metrics_http_stop(http);
    metrics_free(st.m);
    log_kv(LEVEL_INFO, "watch_stopped", "dir", o->dir, NULL);
    return rc;
}
