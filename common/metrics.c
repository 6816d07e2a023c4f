/*
 * metrics: families in declaration order, each a small array of series found by linear
 * search: a service publishes tens of series, not thousands.
 */
#include "metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "strutil.h"

struct series {
    char *labels;
    double value;
    double *bounds; /* histograms */
    uint64_t *counts;
    size_t n_bounds;
    uint64_t count;
};

struct family {
    char *name, *help;
    enum metrics_type type;
    struct series *v;
    size_t n;
};

struct metrics {
    pthread_mutex_t lock;
    char *service;
    struct family *f;
    size_t n;
    bool ok;
    char *why;
    time_t heartbeat;
    int stale_after;
    double started; /* process_start_time_seconds, read once; 0: not readable */
};

static double process_start_time(void);

struct metrics *metrics_new(const char *service)
{
    struct metrics *m = xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->service = xstrdup(service);
    m->why = xstrdup("starting");
    m->heartbeat = (time_t)clock_mono_s();
    m->stale_after = 60;
    m->started = process_start_time();
    return m;
}

static void series_free(struct series *s)
{
    free(s->labels);
    free(s->bounds);
    free(s->counts);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        for (size_t k = 0; k < m->f[i].n; k++)
            series_free(&m->f[i].v[k]);
        free(m->f[i].v);
        free(m->f[i].name);
        free(m->f[i].help);
    }
    free(m->f);
    free(m->service);
    free(m->why);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static struct family *family(struct metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->f[i].name, name) == 0)
            return &m->f[i];
    }
    return NULL;
}

void metrics_declare(struct metrics *m, const char *name, enum metrics_type type, const char *help)
{
    pthread_mutex_lock(&m->lock);
    if (!family(m, name)) {
        m->f = xrealloc(m->f, (m->n + 1) * sizeof(*m->f));
        m->f[m->n++] = (struct family){.name = xstrdup(name), .help = xstrdup(help), .type = type};
    }
    pthread_mutex_unlock(&m->lock);
}

/* The series of an existing family, created when new; NULL for an undeclared family (a
 * programming error: the value is dropped rather than rendered without TYPE). */
static struct series *series(struct metrics *m, const char *name, const char *labels)
{
    struct family *f = family(m, name);
    if (!f)
        return NULL;
    labels = labels ? labels : "";
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->v[i].labels, labels) == 0)
            return &f->v[i];
    }
    f->v = xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
    f->v[f->n] = (struct series){.labels = xstrdup(labels)};
    return &f->v[f->n++];
}

void metrics_set(struct metrics *m, const char *name, const char *labels, double value)
{
    pthread_mutex_lock(&m->lock);
    struct series *s = series(m, name, labels);
    if (s)
        s->value = value;
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_histogram(struct metrics *m, const char *name, const char *labels,
                           const double *bounds, const uint64_t *counts, size_t n, uint64_t count,
                           double sum)
{
    pthread_mutex_lock(&m->lock);
    struct series *s = series(m, name, labels);
    if (s) {
        if (s->n_bounds != n) {
            free(s->bounds);
            free(s->counts);
            s->bounds = xcalloc(n ? n : 1, sizeof(double));
            s->counts = xcalloc(n ? n : 1, sizeof(uint64_t));
            s->n_bounds = n;
        }
        memcpy(s->bounds, bounds, n * sizeof(double));
        memcpy(s->counts, counts, n * sizeof(uint64_t));
        s->count = count;
        s->value = sum;
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_clear(struct metrics *m, const char *name)
{
    pthread_mutex_lock(&m->lock);
    struct family *f = family(m, name);
    for (size_t i = 0; f && i < f->n; i++)
        series_free(&f->v[i]);
    if (f)
        f->n = 0;
    pthread_mutex_unlock(&m->lock);
}

void metrics_health(struct metrics *m, bool ok, const char *why)
{
    pthread_mutex_lock(&m->lock);
    if (m->ok != ok || strcmp(m->why, why) != 0) {
        free(m->why);
        m->why = xstrdup(why);
        m->ok = ok;
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_heartbeat(struct metrics *m)
{
    pthread_mutex_lock(&m->lock);
    m->heartbeat = (time_t)clock_mono_s();
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_stale_after(struct metrics *m, int seconds)
{
    pthread_mutex_lock(&m->lock);
    m->stale_after = seconds;
    pthread_mutex_unlock(&m->lock);
}

static bool healthy_locked(struct metrics *m, char **why)
{
    long idle = (long)((time_t)clock_mono_s() - m->heartbeat);
    if (idle > m->stale_after) {
        if (why)
            *why = xasprintf("main loop silent for %ld s", idle);
        return false;
    }
    if (why)
        *why = xstrdup(m->why);
    return m->ok;
}

bool metrics_healthy(struct metrics *m, char **why)
{
    pthread_mutex_lock(&m->lock);
    bool ok = healthy_locked(m, why);
    pthread_mutex_unlock(&m->lock);
    return ok;
}

static const char *type_name(enum metrics_type t)
{
    return t == METRICS_COUNTER ? "counter" : t == METRICS_GAUGE ? "gauge" : "histogram";
}

/* The shortest decimal that reads back as exactly v: 0.00025, not 0.00025000000000000001
 * (%.17g), so bucket labels are the ones an operator wrote in a query. */
static void shortest(char *buf, size_t n, double v)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* name{labels} or name{labels,extra} or name{extra}, then the value. */
static void sample(FILE *f, const char *name, const char *suffix, const char *labels,
                   const char *extra, double v)
{
    bool l = labels && *labels, e = extra && *extra;
    fprintf(f, "%s%s", name, suffix);
    if (l || e)
        fprintf(f, "{%s%s%s}", l ? labels : "", l && e ? "," : "", e ? extra : "");
    char num[32];
    shortest(num, sizeof(num), v);
    fprintf(f, " %s\n", num);
}

static void render_histogram(FILE *f, const struct family *fam, const struct series *s)
{
    uint64_t cum = 0;
    char le[48], num[32];
    for (size_t b = 0; b < s->n_bounds; b++) {
        cum += s->counts[b];
        shortest(num, sizeof(num), s->bounds[b]);
        snprintf(le, sizeof(le), "le=\"%s\"", num);
        sample(f, fam->name, "_bucket", s->labels, le, (double)cum);
    }
    sample(f, fam->name, "_bucket", s->labels, "le=\"+Inf\"", (double)s->count);
    sample(f, fam->name, "_sum", s->labels, NULL, s->value);
    sample(f, fam->name, "_count", s->labels, NULL, (double)s->count);
}

/* utime and stime (clock ticks) and rss (pages) of /proc/self/stat, and starttime (ticks
 * after boot). Returns false when it cannot be read. */
static bool self_stat(unsigned long long *cpu_ticks, unsigned long long *start_ticks, long *rss)
{
    char buf[1024];
    FILE *st = fopen("/proc/self/stat", "r");
    size_t n = st ? fread(buf, 1, sizeof(buf) - 1, st) : 0;
    if (st)
        fclose(st);
    buf[n] = '\0';
    /* After the command name (in parentheses, may hold spaces): field 3 on. utime and stime
     * are fields 14 and 15, starttime 22, rss 24. */
    char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                     "%*d %llu %*u %ld",
                     &utime, &stime, start_ticks, rss) != 4)
        return false;
    *cpu_ticks = utime + stime;
    return true;
}

/* When this process started, Unix time: boot time (/proc/stat btime) plus its starttime. */
static double process_start_time(void)
{
    unsigned long long cpu, start = 0, btime = 0;
    long rss;
    char line[256];
    FILE *ps = fopen("/proc/stat", "r");
    while (ps && fgets(line, sizeof(line), ps))
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    if (ps)
        fclose(ps);
    if (!btime || !self_stat(&cpu, &start, &rss))
        return 0;
    return (double)btime + (double)start / (double)sysconf(_SC_CLK_TCK);
}

/* The process's own figures, under the names every Prometheus client library uses, from
 * /proc/self (Linux). A figure that cannot be read is left out, never shown as 0. */
static void render_process(FILE *f, double started)
{
    unsigned long long cpu, start;
    long rss;
    if (self_stat(&cpu, &start, &rss)) {
        fprintf(f, "# HELP process_cpu_seconds_total CPU time the process used (user + system).\n"
                   "# TYPE process_cpu_seconds_total counter\n");
        sample(f, "process_cpu_seconds_total", "", NULL, NULL,
               (double)cpu / (double)sysconf(_SC_CLK_TCK));
        fprintf(f, "# HELP process_resident_memory_bytes Resident memory of the process.\n"
                   "# TYPE process_resident_memory_bytes gauge\n");
        sample(f, "process_resident_memory_bytes", "", NULL, NULL,
               (double)rss * (double)sysconf(_SC_PAGESIZE));
    }
    if (started > 0) {
        fprintf(f, "# HELP process_start_time_seconds When the process started, Unix time.\n"
                   "# TYPE process_start_time_seconds gauge\n");
        sample(f, "process_start_time_seconds", "", NULL, NULL, started);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long fds = 0;
        for (struct dirent *e = readdir(d); e; e = readdir(d))
            fds += e->d_name[0] != '.';
        closedir(d);
        fprintf(f, "# HELP process_open_fds Open file descriptors of the process.\n"
                   "# TYPE process_open_fds gauge\n");
        sample(f, "process_open_fds", "", NULL, NULL, (double)(fds - 1)); /* not opendir's */
    }
}

void metrics_render(struct metrics *m, FILE *f)
{
    pthread_mutex_lock(&m->lock);
    char svc[96] = "";
    metrics_label(svc, sizeof(svc), "service", m->service);
    fprintf(f, "# HELP sisopi_up 1 while the service is healthy (see /healthz), else 0.\n"
               "# TYPE sisopi_up gauge\n");
    sample(f, "sisopi_up", "", svc, NULL, healthy_locked(m, NULL) ? 1 : 0);
    char build[192] = "";
    metrics_label(build, sizeof(build), "service", m->service);
    metrics_label(build, sizeof(build), "version", SISOPI_VERSION);
    metrics_label(build, sizeof(build), "commit", SISOPI_COMMIT);
    fprintf(f, "# HELP sisopi_build_info The version and commit the program was built from.\n"
               "# TYPE sisopi_build_info gauge\n");
    sample(f, "sisopi_build_info", "", build, NULL, 1);
    render_process(f, m->started);
    for (size_t i = 0; i < m->n; i++) {
        const struct family *fam = &m->f[i];
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name,
                type_name(fam->type));
        for (size_t k = 0; k < fam->n; k++) {
            if (fam->type == METRICS_HISTOGRAM)
                render_histogram(f, fam, &fam->v[k]);
            else
                sample(f, fam->name, "", fam->v[k].labels, NULL, fam->v[k].value);
        }
    }
    pthread_mutex_unlock(&m->lock);
}

char *metrics_label(char *buf, size_t size, const char *label, const char *value)
{
    size_t len = strnlen(buf, size);
    if (len + 1 >= size)
        return buf;
    int w = snprintf(buf + len, size - len, "%s%s=\"", len ? "," : "", label);
    if (w < 0 || (size_t)w >= size - len)
        return buf;
    len += (size_t)w;
    for (const char *p = value ? value : ""; *p && len + 3 < size; p++) {
        if (*p == '\\' || *p == '"') {
            buf[len++] = '\\';
            buf[len++] = *p;
        } else if (*p == '\n') {
            buf[len++] = '\\';
            buf[len++] = 'n';
        } else {
            buf[len++] = *p;
        }
    }
    if (len + 1 < size)
        buf[len++] = '"';
    buf[len < size ? len : size - 1] = '\0';
    return buf;
}
