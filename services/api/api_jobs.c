/*
 * api_jobs: the jobs in memory (a map by id), their files (one "key=value" text file each,
 * written atomically when the job is made and again when it has ended), their status and
 * JSON. The follower of sisopi.events is api_follow.c.
 */
#include "api_jobs.h"
#include "api_jobs_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json_out.h"
#include "log.h"
#include "strmap.h"
#include "strutil.h"

#define PAGE_SIZE 20

const char *api_job_status_name(enum api_job_status s)
{
    static const char *const names[] = {"new",  "scheduled",  "started", "finished",
                                        "held", "incomplete", "aborted"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "new";
}

static int status_parse(const char *s, enum api_job_status *out)
{
    for (int i = 0; i <= API_JOB_ABORTED; i++)
        if (strcmp(s, api_job_status_name((enum api_job_status)i)) == 0) {
            *out = (enum api_job_status)i;
            return 0;
        }
    return -1;
}

static void free_job(void *v)
{
    struct job *j = v;
    if (!j)
        return;
    free(j->school);
    free(j->principal);
    free(j->filename);
    for (size_t i = 0; i < j->n_errors; i++) {
        free(j->errors[i].column);
        free(j->errors[i].message);
    }
    free(j->errors);
    free(j->answers);
    free(j->part_counts);
    strmap_free(j->created, free);
    free(j);
}

/* ---- the files ---- */

/* Writes s with %, control characters and tabs escaped as %XX. */
static void put_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '%' || *p < 0x20 || *p == 0x7f)
            fprintf(f, "%%%02X", *p);
        else
            fputc(*p, f);
    }
}

static char *unescape(const char *s, size_t n)
{
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (s[i] == '%' && i + 2 < n && sscanf(s + i + 1, "%2x", &v) == 1) {
            *o++ = (char)v;
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

int api_job_write(struct api_jobs *js, const struct job *j, char *err, size_t n)
{
    char *path = xasprintf("%s/%s.job", js->dir, j->id);
    char *tmp = xasprintf("%s.tmp", path);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, n, "%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    fprintf(f, "id=%s\nschool=", j->id);
    put_escaped(f, j->school);
    fprintf(f, "\nrole=%s\ndryrun=%d\nprincipal=", role_name(j->role), j->dryrun);
    put_escaped(f, j->principal);
    fputs("\nfilename=", f);
    put_escaped(f, j->filename);
    fprintf(f,
            "\ncreated_ms=%" PRId64 "\nrows=%" PRId64 "\npartitions=%d\nstatus=%s\n"
            "guard=%d %" PRId64 " %" PRId64 "\npasswords=%d\n",
            j->created_ms, j->rows, j->partitions, api_job_status_name(j->status), j->guard_held,
            j->guard_removals, j->guard_members, j->passwords);
    const struct api_counts *c = &j->counts;
    fprintf(f,
            "counts=%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
            " %" PRId64 "\n",
            c->created, c->modified, c->unchanged, c->school_removed, c->to_limbo, c->reactivated,
            c->rejected);
    for (size_t i = 0; i < j->n_errors; i++) {
        fprintf(f, "error=%" PRId64 "\t", j->errors[i].line);
        put_escaped(f, j->errors[i].column ? j->errors[i].column : "");
        fputc('\t', f);
        put_escaped(f, j->errors[i].message);
        fputc('\n', f);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        snprintf(err, n, "%s: %s", tmp, strerror(errno));
        fclose(f);
        goto out;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

static void add_error(struct job *j, int64_t line, const char *column, const char *message)
{
    j->errors = xrealloc(j->errors, (j->n_errors + 1) * sizeof(*j->errors));
    struct api_row_error *e = &j->errors[j->n_errors++];
    e->line = line;
    e->column = column && *column ? xstrdup(column) : NULL;
    e->message = xstrdup(message ? message : "");
}

static void job_events_init(struct job *j)
{
    if (j->partitions > 0) {
        j->answers = xcalloc((size_t)j->partitions, sizeof(*j->answers));
        j->part_counts = xcalloc((size_t)j->partitions, sizeof(*j->part_counts));
    }
    j->created = strmap_new(true);
}

/* One job file; NULL (logged) if it is not one. */
static struct job *read_job_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    struct job *j = xcalloc(1, sizeof(*j));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    bool ok = true;
    while (ok && (len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        size_t vn = strlen(v);
        if (strcmp(k, "id") == 0) {
            ok = import_id_valid(v);
            if (ok)
                snprintf(j->id, sizeof(j->id), "%s", v);
        } else if (strcmp(k, "school") == 0) {
            j->school = unescape(v, vn);
        } else if (strcmp(k, "role") == 0) {
            ok = role_parse(v, &j->role) == 0;
        } else if (strcmp(k, "dryrun") == 0) {
            j->dryrun = strcmp(v, "1") == 0;
        } else if (strcmp(k, "principal") == 0) {
            j->principal = unescape(v, vn);
        } else if (strcmp(k, "filename") == 0) {
            j->filename = unescape(v, vn);
        } else if (strcmp(k, "created_ms") == 0) {
            j->created_ms = strtoll(v, NULL, 10);
        } else if (strcmp(k, "rows") == 0) {
            j->rows = strtoll(v, NULL, 10);
        } else if (strcmp(k, "partitions") == 0) {
            long p = strtol(v, NULL, 10);
            ok = p >= 0 && p <= API_JOBS_MAX_PARTITIONS;
            j->partitions = (int)p;
        } else if (strcmp(k, "status") == 0) {
            ok = status_parse(v, &j->status) == 0;
        } else if (strcmp(k, "guard") == 0) {
            int held = 0;
            sscanf(v, "%d %" SCNd64 " %" SCNd64, &held, &j->guard_removals, &j->guard_members);
            j->guard_held = held != 0;
        } else if (strcmp(k, "passwords") == 0) {
            j->passwords = strcmp(v, "1") == 0;
        } else if (strcmp(k, "counts") == 0) {
            struct api_counts *c = &j->counts;
            sscanf(v,
                   "%" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64
                   " %" SCNd64,
                   &c->created, &c->modified, &c->unchanged, &c->school_removed, &c->to_limbo,
                   &c->reactivated, &c->rejected);
        } else if (strcmp(k, "error") == 0) {
            char *t1 = strchr(v, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
            if (t1 && t2) {
                char *col = unescape(t1 + 1, (size_t)(t2 - t1 - 1));
                char *msg = unescape(t2 + 1, strlen(t2 + 1));
                add_error(j, strtoll(v, NULL, 10), col, msg);
                free(col);
                free(msg);
            }
        }
    }
    free(line);
    fclose(f);
    if (!ok || !j->id[0] || !j->school || !j->principal) {
        log_kv(LEVEL_WARN, "job_file_ignored", "path", path, "msg", "not a job file", NULL);
        free_job(j);
        return NULL;
    }
    if (!j->filename)
        j->filename = xstrdup("");
    job_events_init(j);
    return j;
}

static int load_jobs(struct api_jobs *js, char *err, size_t n)
{
    DIR *d = opendir(js->dir);
    if (!d) {
        snprintf(err, n, "%s: %s", js->dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".job") != 0)
            continue;
        char *path = xasprintf("%s/%s", js->dir, de->d_name);
        struct job *j = read_job_file(path);
        free(path);
        if (j) {
            void **slot = strmap_slot(js->jobs, j->id, NULL);
            free_job(*slot);
            *slot = j;
        }
    }
    closedir(d);
    return 0;
}

static int make_dir(const char *path, char *err, size_t n)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

struct api_jobs *api_jobs_open(const struct config *cfg, char *err, size_t n)
{
    if (make_dir(cfg->api.state_dir, err, n) < 0)
        return NULL;
    struct api_jobs *js = xcalloc(1, sizeof(*js));
    js->cfg = cfg;
    js->dir = xasprintf("%s/jobs", cfg->api.state_dir);
    pthread_mutex_init(&js->lock, NULL);
    js->jobs = strmap_new(false);
    js->uploading = strmap_new(true);
    snprintf(js->follow_error, sizeof(js->follow_error), "sisopi.events not read yet");
    if (make_dir(js->dir, err, n) < 0 || load_jobs(js, err, n) < 0) {
        api_jobs_free(js);
        return NULL;
    }
    char count[24];
    snprintf(count, sizeof(count), "%zu", strmap_count(js->jobs));
    log_kv(LEVEL_INFO, "jobs_loaded", "dir", js->dir, "jobs", count, NULL);
    return js;
}

void api_jobs_free(struct api_jobs *js)
{
    if (!js)
        return;
    if (js->follower_started) {
        pthread_mutex_lock(&js->lock);
        js->stop = true;
        pthread_mutex_unlock(&js->lock);
        pthread_join(js->follower, NULL);
    }
    strmap_free(js->jobs, free_job);
    strmap_free(js->uploading, NULL);
    pthread_mutex_destroy(&js->lock);
    free(js->dir);
    free(js);
}

int api_jobs_add(struct api_jobs *js, const struct api_job_spec *s, char *err, size_t n)
{
    struct job *j = xcalloc(1, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", s->id);
    j->school = xstrdup(s->school);
    j->role = s->role;
    j->dryrun = s->dryrun;
    j->principal = xstrdup(s->principal);
    j->filename = xstrdup(s->filename ? s->filename : "");
    j->created_ms = s->created_ms;
    j->rows = s->rows;
    j->partitions = s->partitions;
    j->status = s->status;
    j->guard_held = s->guard_held;
    j->guard_removals = s->guard_removals;
    j->guard_members = s->guard_members;
    j->counts = s->counts;
    j->passwords = s->passwords;
    for (size_t i = 0; i < s->n_errors; i++)
        add_error(j, s->errors[i].line, s->errors[i].column, s->errors[i].message);
    job_events_init(j);
    if (api_job_write(js, j, err, n) < 0) {
        free_job(j);
        return -1;
    }
    pthread_mutex_lock(&js->lock);
    void **slot = strmap_slot(js->jobs, j->id, NULL);
    struct job *old = *slot;
    if (old && old->hidden && old->partitions == j->partitions) {
        /* the answers that came while it was being published */
        for (int p = 0; p < j->partitions; p++) {
            j->answers[p] = old->answers[p];
            j->part_counts[p] = old->part_counts[p];
        }
        j->reactivated = old->reactivated;
        j->rejected = old->rejected;
        j->last_answer_s = old->last_answer_s;
        strmap_free(j->created, free);
        j->created = old->created;
        old->created = NULL;
    }
    free_job(old);
    *slot = j;
    pthread_mutex_unlock(&js->lock);
    return 0;
}

void api_jobs_expect(struct api_jobs *js, const char *id, int partitions)
{
    struct job *j = xcalloc(1, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", id);
    j->school = xstrdup("");
    j->principal = xstrdup("");
    j->filename = xstrdup("");
    j->partitions = partitions;
    j->hidden = true;
    job_events_init(j);
    pthread_mutex_lock(&js->lock);
    void **slot = strmap_slot(js->jobs, id, NULL);
    if (*slot)
        free_job(j);
    else
        *slot = j;
    pthread_mutex_unlock(&js->lock);
}

void api_jobs_forget(struct api_jobs *js, const char *id)
{
    pthread_mutex_lock(&js->lock);
    struct job *j = strmap_get(js->jobs, id);
    if (j && j->hidden)
        j->partitions = 0; /* stays an invisible, inert entry (the map cannot remove) */
    pthread_mutex_unlock(&js->lock);
}

/* ---- status ---- */

/* The status now: the answers decide once anything was published. Caller holds the lock. */
enum api_job_status api_job_status_now(const struct job *j)
{
    if (j->dryrun || j->partitions == 0)
        return j->status;
    int answered = 0, held = 0, incomplete = 0;
    for (int p = 0; p < j->partitions; p++) {
        answered += j->answers[p] != ANSWER_NONE;
        held += j->answers[p] == ANSWER_HELD;
        incomplete += j->answers[p] == ANSWER_INCOMPLETE;
    }
    /* Its file says how it ended, and the topic no longer holds (or has not yet given
     * again, while it is read at start) its answers. */
    if (answered == 0 && (j->status == API_JOB_FINISHED || j->status == API_JOB_INCOMPLETE))
        return j->status;
    if (held)
        return API_JOB_HELD;
    if (answered < j->partitions)
        return API_JOB_STARTED;
    /* passwords.csv lists the created accounts: not finished before they are all known. */
    int64_t created = 0;
    for (int p = 0; p < j->partitions; p++)
        created += j->part_counts[p].created;
    if ((int64_t)strmap_count(j->created) < created &&
        api_jobs_now_s() - j->last_answer_s < API_JOBS_SETTLE_S)
        return API_JOB_STARTED;
    return incomplete ? API_JOB_INCOMPLETE : API_JOB_FINISHED;
}

int64_t api_jobs_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static bool answered_none(const struct job *j)
{
    for (int p = 0; p < j->partitions; p++)
        if (j->answers[p] != ANSWER_NONE)
            return false;
    return true;
}

struct api_counts api_job_counts(const struct job *j)
{
    if (j->dryrun || j->partitions == 0 || answered_none(j))
        return j->counts; /* the prediction, or what the file kept of how it ended */
    struct api_counts c = {.reactivated = j->reactivated, .rejected = j->rejected};
    for (int p = 0; p < j->partitions; p++) {
        const struct import_counts *pc = &j->part_counts[p];
        c.created += pc->created;
        c.modified += pc->modified;
        c.unchanged += pc->unchanged;
        c.school_removed += pc->removed;
        c.to_limbo += pc->limbo;
    }
    return c;
}

static bool in_flight(const struct job *j)
{
    if (j->dryrun || j->hidden)
        return false;
    enum api_job_status s = api_job_status_now(j);
    return s == API_JOB_NEW || s == API_JOB_SCHEDULED || s == API_JOB_STARTED || s == API_JOB_HELD;
}

struct flight_count {
    const char *school;
    int n;
};

static void count_flight(const char *key, void *value, void *opaque)
{
    (void)key;
    struct flight_count *fc = opaque;
    const struct job *j = value;
    if (strcasecmp(j->school, fc->school) == 0 && in_flight(j))
        fc->n++;
}

int api_jobs_in_flight(struct api_jobs *js, const char *school)
{
    struct flight_count fc = {.school = school};
    pthread_mutex_lock(&js->lock);
    strmap_each(js->jobs, count_flight, &fc);
    fc.n += (int)(intptr_t)strmap_get(js->uploading, school);
    pthread_mutex_unlock(&js->lock);
    return fc.n;
}

bool api_jobs_reserve(struct api_jobs *js, const char *school, int max)
{
    struct flight_count fc = {.school = school};
    pthread_mutex_lock(&js->lock);
    strmap_each(js->jobs, count_flight, &fc);
    void **slot = strmap_slot(js->uploading, school, NULL);
    bool ok = fc.n + (int)(intptr_t)*slot < max;
    if (ok)
        *slot = (void *)((intptr_t)*slot + 1);
    pthread_mutex_unlock(&js->lock);
    return ok;
}

void api_jobs_uploading(struct api_jobs *js, const char *school, int delta)
{
    pthread_mutex_lock(&js->lock);
    void **slot = strmap_slot(js->uploading, school, NULL);
    *slot = (void *)((intptr_t)*slot + delta);
    pthread_mutex_unlock(&js->lock);
}

/* ---- JSON ---- */

static void render_job(const struct job *j, struct json_out *o)
{
    char url[128], iso[32];
    json_out_begin_object(o);
    json_out_key(o, "id");
    json_out_string(o, j->id);
    snprintf(url, sizeof(url), "/api/v1/imports/users/%s", j->id);
    json_out_key(o, "url");
    json_out_string(o, url);
    json_out_key(o, "school");
    json_out_string(o, j->school);
    json_out_key(o, "user_role");
    json_out_string(o, role_name(j->role));
    json_out_key(o, "dryrun");
    json_out_bool(o, j->dryrun);
    json_out_key(o, "status");
    json_out_string(o, api_job_status_name(api_job_status_now(j)));
    json_out_key(o, "principal");
    json_out_string(o, j->principal);
    time_t t = (time_t)(j->created_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_out_key(o, "date_created");
    json_out_string(o, iso);
    json_out_key(o, "filename");
    json_out_string(o, j->filename);
    json_out_key(o, "rows");
    json_out_int(o, j->rows);
    struct api_counts c = api_job_counts(j);
    json_out_key(o, "counts");
    json_out_begin_object(o);
    const char *names[] = {"created",  "modified",    "unchanged", "school_removed",
                           "to_limbo", "reactivated", "rejected"};
    int64_t vals[] = {c.created,  c.modified,    c.unchanged, c.school_removed,
                      c.to_limbo, c.reactivated, c.rejected};
    for (size_t i = 0; i < 7; i++) {
        json_out_key(o, names[i]);
        json_out_int(o, vals[i]);
    }
    json_out_end_object(o);
    json_out_key(o, "errors");
    json_out_begin_array(o);
    for (size_t i = 0; i < j->n_errors; i++) {
        json_out_begin_object(o);
        json_out_key(o, "file");
        json_out_string(o, j->filename);
        json_out_key(o, "line");
        json_out_int(o, j->errors[i].line);
        json_out_key(o, "column");
        json_out_string(o, j->errors[i].column);
        json_out_key(o, "message");
        json_out_string(o, j->errors[i].message);
        json_out_end_object(o);
    }
    json_out_end_array(o);
    json_out_key(o, "guard");
    json_out_begin_object(o);
    json_out_key(o, "would_hold");
    json_out_bool(o, j->guard_held);
    json_out_key(o, "removals");
    json_out_int(o, j->guard_removals);
    json_out_key(o, "members");
    json_out_int(o, j->guard_members);
    json_out_end_object(o);
    snprintf(url, sizeof(url), "/api/v1/imports/users/%s/summary.csv", j->id);
    json_out_key(o, "summary_url");
    json_out_string(o, url);
    snprintf(url, sizeof(url), "/api/v1/imports/users/%s/passwords.csv", j->id);
    json_out_key(o, "password_url");
    json_out_string(o, j->passwords ? url : NULL);
    json_out_end_object(o);
}

static enum api_job_access visible(const struct job *j, const struct api_principal *p)
{
    if (!j || j->hidden)
        return API_JOB_NOT_FOUND;
    return api_principal_sees(p, j->school) ? API_JOB_OK : API_JOB_FORBIDDEN;
}

enum api_job_access api_jobs_render(struct api_jobs *js, const char *id,
                                    const struct api_principal *p, FILE *f)
{
    pthread_mutex_lock(&js->lock);
    const struct job *j = strmap_get(js->jobs, id);
    enum api_job_access a = visible(j, p);
    if (a == API_JOB_OK) {
        struct json_out o;
        json_out_init(&o, f);
        render_job(j, &o);
    }
    pthread_mutex_unlock(&js->lock);
    return a;
}

static int newest_first(const void *a, const void *b)
{
    const struct job *x = *(const struct job *const *)a, *y = *(const struct job *const *)b;
    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? 1 : -1;
    return strcmp(y->id, x->id);
}

static void page_url(struct json_out *o, const char *school, const char *role, int page)
{
    char *u = xasprintf("/api/v1/imports/users/?page=%d", page);
    if (school)
        xappendf(&u, "&school=%s", school);
    if (role)
        xappendf(&u, "&role=%s", role);
    json_out_string(o, u);
    free(u);
}

void api_jobs_render_list(struct api_jobs *js, const struct api_principal *p, const char *school,
                          const char *role, int page, FILE *f)
{
    pthread_mutex_lock(&js->lock);
    size_t n = 0, kept = 0;
    void **all = strmap_values(js->jobs, &n);
    for (size_t i = 0; i < n; i++) {
        const struct job *j = all[i];
        if (visible(j, p) != API_JOB_OK || (school && strcasecmp(j->school, school) != 0) ||
            (role && strcmp(role_name(j->role), role) != 0))
            continue;
        all[kept++] = all[i];
    }
    qsort(all, kept, sizeof(*all), newest_first);
    size_t first = (size_t)(page - 1) * PAGE_SIZE;
    struct json_out o;
    json_out_init(&o, f);
    json_out_begin_object(&o);
    json_out_key(&o, "count");
    json_out_int(&o, (int64_t)kept);
    json_out_key(&o, "page");
    json_out_int(&o, page);
    json_out_key(&o, "next");
    if (first + PAGE_SIZE < kept)
        page_url(&o, school, role, page + 1);
    else
        json_out_null(&o);
    json_out_key(&o, "previous");
    if (page > 1)
        page_url(&o, school, role, page - 1);
    else
        json_out_null(&o);
    json_out_key(&o, "results");
    json_out_begin_array(&o);
    for (size_t i = first; i < kept && i < first + PAGE_SIZE; i++)
        render_job(all[i], &o);
    json_out_end_array(&o);
    json_out_end_object(&o);
    free(all);
    pthread_mutex_unlock(&js->lock);
}

static void copy_created(const char *key, void *value, void *opaque)
{
    struct api_job_facts *f = opaque;
    f->created_uids[f->n_created] = xstrdup(key);
    f->created_usernames[f->n_created++] = xstrdup(value ? value : "");
}

enum api_job_access api_jobs_facts(struct api_jobs *js, const char *id,
                                   const struct api_principal *p, struct api_job_facts *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&js->lock);
    const struct job *j = strmap_get(js->jobs, id);
    enum api_job_access a = visible(j, p);
    if (a == API_JOB_OK) {
        snprintf(out->school, sizeof(out->school), "%s", j->school);
        snprintf(out->principal, sizeof(out->principal), "%s", j->principal);
        snprintf(out->filename, sizeof(out->filename), "%s", j->filename);
        out->dryrun = j->dryrun;
        out->passwords = j->passwords;
        out->role = j->role;
        size_t n = strmap_count(j->created);
        out->created_uids = xcalloc(n + 1, sizeof(char *));
        out->created_usernames = xcalloc(n + 1, sizeof(char *));
        strmap_each(j->created, copy_created, out);
        out->errors = xcalloc(j->n_errors + 1, sizeof(*out->errors));
        for (size_t i = 0; i < j->n_errors; i++) {
            out->errors[i].line = j->errors[i].line;
            out->errors[i].column = j->errors[i].column ? xstrdup(j->errors[i].column) : NULL;
            out->errors[i].message = xstrdup(j->errors[i].message);
        }
        out->n_errors = j->n_errors;
    }
    pthread_mutex_unlock(&js->lock);
    return a;
}

void api_job_facts_free(struct api_job_facts *f)
{
    for (size_t i = 0; i < f->n_created; i++) {
        free(f->created_uids[i]);
        free(f->created_usernames[i]);
    }
    free(f->created_uids);
    free(f->created_usernames);
    for (size_t i = 0; i < f->n_errors; i++) {
        free(f->errors[i].column);
        free(f->errors[i].message);
    }
    free(f->errors);
    memset(f, 0, sizeof(*f));
}
