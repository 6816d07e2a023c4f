/*
 * ingest: two passes over the file. The first validates every row and publishes nothing;
 * the second publishes. Memory stays bounded by the set of record_uids, not the file size.
 * The end markers go out only after every record is acknowledged: an import cut short by a
 * crash or a broker failure has no ImportEnd, and so removes nobody.
 */
#include "ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "avro_codec.h"
#include "cli.h"
#include "clock.h"
#include "dry_run.h"
#include "import_reader.h"
#include "kafka_client.h"
#include "log.h"
#include "lookup.h"
#include "partitioner.h"
#include "strmap.h"
#include "strutil.h"

#define INGEST_PROGRESS_SECONDS 2.0
#define INGEST_FLUSH_SLICE_MS   500
#define INGEST_WAIT_LOG_SECONDS 10.0

/* What the delivery reports tell; one import runs at a time per producer. */
struct delivery {
    int64_t acked;
    int64_t failed;
    rd_kafka_resp_err_t first_err;
    char first_errstr[256];
    int64_t *first_offset; /* per partition, while records are published; else NULL */
    int partitions;
};
static struct delivery dr_state;

void ingest_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (msg->err) {
        if (dr_state.failed++ == 0) {
            dr_state.first_err = msg->err;
            snprintf(dr_state.first_errstr, sizeof(dr_state.first_errstr), "%s",
                     rd_kafka_err2str(msg->err));
        }
        return;
    }
    dr_state.acked++;
    int32_t p = msg->partition;
    if (dr_state.first_offset && p >= 0 && p < dr_state.partitions &&
        (dr_state.first_offset[p] < 0 || msg->offset < dr_state.first_offset[p]))
        dr_state.first_offset[p] = msg->offset;
}

/* The file's name in messages. */
static const char *shown(const struct ingest_job *job)
{
    return job->name ? job->name : job->path;
}

static void print_row_error(FILE *f, const char *path, const struct import_error *e)
{
    fprintf(f, "%s:%" PRId64, path, e->line);
    if (e->column > 0)
        fprintf(f, ":%d", e->column);
    fputs(": ", f);
    if (e->column_name[0])
        fprintf(f, "column \"%s\": ", e->column_name);
    if (e->record_uid[0])
        fprintf(f, "record_uid \"%s\": ", e->record_uid);
    fprintf(f, "%s\n", e->message);
}

struct progress {
    bool enabled;
    double start, last;
    const char *phase;
};

static void progress_tick(struct progress *p, const struct import_reader *r, int64_t rows)
{
    if (!p->enabled)
        return;
    double now = clock_mono_s();
    if (now - p->last < INGEST_PROGRESS_SECONDS)
        return;
    p->last = now;
    int64_t done = import_reader_bytes_read(r), total = import_reader_bytes_total(r);
    char rows_s[24], pct[16], rate[24];
    snprintf(rows_s, sizeof(rows_s), "%" PRId64, rows);
    snprintf(pct, sizeof(pct), "%.0f%%", total > 0 ? 100.0 * (double)done / (double)total : 0.0);
    snprintf(rate, sizeof(rate), "%.0f", (double)rows / (now - p->start));
    log_kv(LEVEL_INFO, "progress", "phase", p->phase, "rows", rows_s, "done", pct, "rows_per_s",
           rate, NULL);
}

/* The identity of the file, to notice it changing between the two passes. */
struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

static int file_id_get(const char *path, struct file_id *id)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->size = st.st_size;
    id->mtime = st.st_mtim;
    return 0;
}

static bool file_id_same(const struct file_id *a, const struct file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static struct import_reader *open_reader(const struct ingest_job *job, const char *import_id,
                                         bool validate_only, struct ingest_result *res)
{
    struct import_error err;
    struct import_job ij = {
        .cfg = &job->cfg->import,
        .school = job->school,
        .role = job->role,
        .source_uid = job->source_uid ? job->source_uid : job->cfg->import.source_uid,
        .import_id = import_id,
        .dry_run = job->dry_run,
        .skip_password_hash = validate_only,
    };
    memset(&err, 0, sizeof(err));
    struct import_reader *r = import_reader_open(job->path, &ij, &err);
    if (!r) {
        res->failure = INGEST_FAIL_FILE;
        snprintf(res->error, sizeof(res->error), "%s:%" PRId64 ": %s", shown(job), err.line,
                 err.message);
        if (err.line <= 0)
            snprintf(res->error, sizeof(res->error), "%s: %s", shown(job), err.message);
    }
    return r;
}

/* The record_uids of bad rows, per partition: they go on the end markers as kept. */
struct kept {
    char **uids;
    size_t n, cap;
};

static void kept_add(struct kept *k, const char *uid)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 8;
        k->uids = xrealloc(k->uids, k->cap * sizeof(char *));
    }
    k->uids[k->n++] = xstrdup(uid);
}

static void kept_free(struct kept *k, int partitions)
{
    for (int p = 0; k && p < partitions; p++) {
        for (size_t i = 0; i < k[p].n; i++)
            free(k[p].uids[i]);
        free(k[p].uids);
    }
    free(k);
}

/* Remembers a bad row's record_uid, when the reader could tell it (and did not cut it). */
static void keep_bad_row(struct kept *kept, int partitions, const struct import_error *err)
{
    size_t len = strnlen(err->record_uid, sizeof(err->record_uid));
    if (len == 0 || len >= sizeof(err->record_uid) - 1)
        return;
    kept_add(&kept[partitioner_partition(err->record_uid, len, partitions)], err->record_uid);
}

/* Remembers a record_uid the file lists (the deletion guard counts whom it does not). */
static void list_uid(struct strmap *listed, const char *uid)
{
    if (uid && *uid)
        *strmap_slot(listed, uid, NULL) = (void *)1;
}

/* Pass 1: read and check every row; print each bad one. Returns 0, or -1 on a fatal error. */
static int validate(const struct ingest_job *job, struct ingest_result *res, FILE *report,
                    struct kept *kept, struct strmap *listed)
{
    struct progress pg = {.enabled = job->progress, .phase = "validate"};
    pg.start = pg.last = clock_mono_s();
    struct import_reader *r = open_reader(job, res->import_id, true, res);
    if (!r)
        return -1;
    snprintf(res->encoding, sizeof(res->encoding), "%s", import_reader_encoding(r));
    res->delimiter = import_reader_delimiter(r);
    size_t lines_len = 0;
    FILE *lines = open_memstream(&res->error_lines, &lines_len);
    if (!lines) {
        snprintf(res->error, sizeof(res->error), "no memory for the error report: %s",
                 strerror(errno));
        import_reader_close(r);
        return -1;
    }
    int rc = 0;
    for (;;) {
        struct user_record rec;
        struct import_error err;
        memset(&rec, 0, sizeof(rec));
        memset(&err, 0, sizeof(err));
        int got = import_reader_next(r, &rec, &err);
        if (got == 0)
            break;
        if (got < 0) {
            snprintf(res->error, sizeof(res->error), "%s:%" PRId64 ": %s", shown(job), err.line,
                     err.message);
            res->failure = INGEST_FAIL_FILE;
            rc = -1;
            break;
        }
        res->rows++;
        if (got == 1) {
            res->records++;
            list_uid(listed, rec.record_uid);
            user_record_free(&rec);
        } else {
            /* Unlike the reference, which stops at the first error past the tolerance,
             * every bad row is reported: the operator fixes the file once, not N times. */
            if (res->errors++ < INGEST_MAX_PRINTED_ERRORS) {
                if (job->row_error)
                    job->row_error(&err, job->opaque);
                print_row_error(lines, shown(job), &err);
                if (!job->rows_in_summary)
                    print_row_error(report, shown(job), &err);
            }
            keep_bad_row(kept, job->cfg->kafka.partitions, &err);
            if (strnlen(err.record_uid, sizeof(err.record_uid)) > 0)
                list_uid(listed, err.record_uid);
        }
        progress_tick(&pg, r, res->rows);
    }
    if (res->errors > INGEST_MAX_PRINTED_ERRORS) {
        fprintf(lines, "%s: ... and %" PRId64 " more bad rows\n", shown(job),
                res->errors - INGEST_MAX_PRINTED_ERRORS);
        if (!job->rows_in_summary)
            fprintf(report, "%s: ... and %" PRId64 " more bad rows\n", shown(job),
                    res->errors - INGEST_MAX_PRINTED_ERRORS);
    }
    fclose(lines);
    import_reader_close(r);
    return rc;
}

/* A delivery failed: the import cannot complete, and waiting for room in a full queue would
 * only wait for message.timeout.ms once more for every queue-full of records. */
static bool delivery_failed(void *opaque)
{
    (void)opaque;
    return dr_state.failed > 0;
}

/* Encodes and produces one message of the import (kafka_produce_users_msg). */
static int produce(rd_kafka_t *rk, const struct config *cfg, int32_t partition, const char *key,
                   const struct users_msg *m, char *err, size_t errlen)
{
    if (kafka_produce_users_msg(rk, cfg, partition, key, m, delivery_failed, NULL, err, errlen) ==
        0)
        return 0;
    if (dr_state.failed > 0)
        snprintf(err, errlen, "stopped publishing: a delivery failed (%.200s)",
                 dr_state.first_errstr);
    return -1;
}

/* Waits until every produced message is acknowledged or failed (librdkafka retries until
 * message.timeout.ms, 5 minutes by default), saying so every few seconds. what names the
 * messages ("records", "end markers") in the error. */
static int await_delivery(rd_kafka_t *rk, int64_t expected, const char *what, char *errstr,
                          size_t errstr_size)
{
    double start = clock_mono_s(), said = start;
    while (rd_kafka_outq_len(rk) > 0) {
        rd_kafka_flush(rk, INGEST_FLUSH_SLICE_MS);
        if (clock_mono_s() - said >= INGEST_WAIT_LOG_SECONDS && rd_kafka_outq_len(rk) > 0) {
            char n[24], sec[24];
            snprintf(n, sizeof(n), "%d", rd_kafka_outq_len(rk));
            snprintf(sec, sizeof(sec), "%.0f", clock_mono_s() - start);
            log_kv(LEVEL_WARN, "delivery_waiting", "what", what, "unacknowledged", n, "seconds",
                   sec, "msg",
                   "the broker does not acknowledge; librdkafka retries until "
                   "message.timeout.ms (kafka.properties), then the import fails",
                   NULL);
            said = clock_mono_s();
        }
    }
    rd_kafka_poll(rk, 0);
    char fatal[256];
    rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    if (ferr) {
        snprintf(errstr, errstr_size, "producer failed: %s", fatal);
        return -1;
    }
    if (dr_state.failed > 0 || dr_state.acked != expected) {
        snprintf(errstr, errstr_size,
                 "%" PRId64 " of %" PRId64 " %s were not delivered (first error: %s)",
                 expected - dr_state.acked, expected, what,
                 dr_state.failed ? dr_state.first_errstr : "none reported");
        return -1;
    }
    return 0;
}

static int publish_records(rd_kafka_t *rk, const struct ingest_job *job, struct ingest_result *res,
                           int64_t *per_partition)
{
    struct progress pg = {.enabled = job->progress, .phase = "publish"};
    pg.start = pg.last = clock_mono_s();
    struct import_reader *r = open_reader(job, res->import_id, false, res);
    if (!r)
        return -1;
    int rc = 0;
    int64_t rows = 0, published = 0;
    for (;;) {
        struct users_msg m = {.type = USERS_MSG_USER_RECORD};
        struct import_error err;
        memset(&err, 0, sizeof(err));
        int got = import_reader_next(r, &m.u.user, &err);
        if (got == 0)
            break;
        rows++;
        if (got < 0) {
            snprintf(res->error, sizeof(res->error), "%s:%" PRId64 ": %s", shown(job), err.line,
                     err.message);
            rc = -1;
            break;
        }
        if (got != 1)
            continue;
        char why[256];
        if (job->before_publish && job->before_publish(&m.u.user, job->opaque, why, sizeof(why))) {
            snprintf(res->error, sizeof(res->error), "%s:%" PRId64 ": record_uid \"%s\": %s",
                     shown(job), m.u.user.line, m.u.user.record_uid, why);
            users_msg_free(&m);
            rc = -1;
            break;
        }
        const char *key = m.u.user.record_uid;
        int32_t p = partitioner_partition(key, strlen(key), res->partitions);
        if (produce(rk, job->cfg, p, key, &m, why, sizeof(why)) < 0) {
            snprintf(res->error, sizeof(res->error), "%s:%" PRId64 ": record_uid \"%s\": %s",
                     shown(job), m.u.user.line, key, why);
            users_msg_free(&m);
            rc = -1;
            break;
        }
        per_partition[p]++;
        published++;
        users_msg_free(&m);
        rd_kafka_poll(rk, 0);
        progress_tick(&pg, r, rows);
    }
    import_reader_close(r);
    if (rc == 0 && published != res->records) {
        snprintf(res->error, sizeof(res->error),
                 "%s changed while it was being read (%" PRId64 " valid records, then %" PRId64
                 "); no end marker was sent, so nobody will be removed: run the import again",
                 shown(job), res->records, published);
        rc = -1;
    }
    return rc;
}

static int publish_markers(rd_kafka_t *rk, const struct ingest_job *job, struct ingest_result *res,
                           const int64_t *per_partition, const int64_t *first_offset,
                           const struct kept *kept, const struct guard_decision *guard)
{
    int64_t produced_at = clock_wall_ms();
    for (int p = 0; p < res->partitions; p++) {
        struct users_msg m = {.type = USERS_MSG_IMPORT_END};
        struct import_end *e = &m.u.end;
        e->import_id = res->import_id;
        e->source_uid = (char *)(job->source_uid ? job->source_uid : job->cfg->import.source_uid);
        e->school = (char *)job->school;
        e->role = job->role;
        e->produced_at_ms = produced_at;
        e->record_count = per_partition[p];
        e->first_offset = per_partition[p] ? first_offset[p] : -1;
        e->partition = p;
        e->partition_count = res->partitions;
        e->total_records = res->records;
        e->kept_record_uids = kept[p].uids;
        e->n_kept = kept[p].n;
        e->has_guard = true;
        e->guard = *guard; /* borrowed: the marker is not freed */
        char why[256];
        /* The marker is keyed by the import_id: it has no person, and the key makes it
         * recognisable in any tool without decoding. */
        if (produce(rk, job->cfg, p, res->import_id, &m, why, sizeof(why)) < 0) {
            snprintf(res->error, sizeof(res->error), "end marker for partition %d: %s", p, why);
            return -1;
        }
        res->markers++;
    }
    return 0;
}

static int publish(rd_kafka_t *rk, const struct ingest_job *job, struct ingest_result *res,
                   const struct kept *kept, const struct guard_decision *guard)
{
    char why[600];
    if (kafka_check_topic(rk, job->cfg, job->cfg->kafka.topic_users, 10000, why, sizeof(why)) < 0) {
        snprintf(res->error, sizeof(res->error), "%s", why);
        return -1;
    }
    res->partitions = job->cfg->kafka.partitions;
    int64_t *per_partition = xcalloc((size_t)res->partitions, sizeof(int64_t));
    int64_t *first_offset = xmalloc((size_t)res->partitions * sizeof(int64_t));
    for (int p = 0; p < res->partitions; p++)
        first_offset[p] = -1;
    memset(&dr_state, 0, sizeof(dr_state));
    dr_state.first_offset = first_offset;
    dr_state.partitions = res->partitions;
    int rc = publish_records(rk, job, res, per_partition);
    /* Even after a failure, wait for what is in flight so that the counts are honest. A
     * failed delivery is the story to tell, also when it stopped publish_records. */
    if (await_delivery(rk, res->records, "records", why, sizeof(why)) < 0 &&
        (rc == 0 || dr_state.failed > 0)) {
        snprintf(res->error, sizeof(res->error),
                 "import %s of %s: %s; no end marker was sent, so this import removes nobody: "
                 "import the file again once the broker is reachable",
                 res->import_id, shown(job), why);
        rc = -1;
    }
    if (rc == 0) {
        memset(&dr_state, 0, sizeof(dr_state));
        rc = publish_markers(rk, job, res, per_partition, first_offset, kept, guard);
        /* Every record is on the topic: a partition whose marker arrived completes the import
         * there (removing whom the file no longer lists, as it should); the others remove
         * nobody until the file is imported again. */
        if (await_delivery(rk, res->partitions, "end markers", why, sizeof(why)) < 0 &&
            (rc == 0 || dr_state.failed > 0)) {
            snprintf(res->error, sizeof(res->error),
                     "import %s of %s: all %" PRId64 " records were delivered, but %s; the "
                     "partitions without their marker remove nobody: import the file again",
                     res->import_id, shown(job), res->records, why);
            rc = -1;
        }
    }
    free(per_partition);
    free(first_offset);
    return rc;
}

/* --dry-run: the file's records and the removals planned against the directory, printed;
 * nothing is published. Returns 0, or -1 with res->error. */
static int dry_run_import(struct dir_conn *dc, const struct ingest_job *job,
                          struct ingest_result *res, const struct strmap *listed,
                          const struct guard_decision *guard)
{
    const char *sid = job->source_uid ? job->source_uid : job->cfg->import.source_uid;
    char err[768];
    struct dry_run *d = dry_run_open(dc, job->cfg, sid, err, sizeof(err));
    if (!d) {
        snprintf(res->error, sizeof(res->error), "%s", err);
        return -1;
    }
    struct import_reader *r = open_reader(job, res->import_id, true, res);
    if (!r) {
        dry_run_close(d);
        return -1;
    }
    for (;;) {
        struct user_record rec;
        struct import_error e;
        memset(&rec, 0, sizeof(rec));
        memset(&e, 0, sizeof(e));
        int got = import_reader_next(r, &rec, &e);
        if (got <= 0)
            break; /* the file was read once already: an error now is not news */
        if (got == 1) {
            dry_run_record(d, &rec);
            user_record_free(&rec);
        }
    }
    import_reader_close(r);
    dry_run_finish(d, job->school, job->role, listed, guard, clock_wall_ms(),
                   job->plan ? job->plan : stdout);
    struct dry_run_totals t;
    dry_run_get_totals(d, &t);
    res->planned = true;
    res->plan = (struct ingest_plan_counts){.created = t.created,
                                            .modified = t.modified,
                                            .unchanged = t.unchanged,
                                            .removed = t.removed,
                                            .limbo = t.limbo,
                                            .rejected = t.rejected,
                                            .reactivated = t.reactivated};
    dry_run_close(d);
    return 0;
}

/*
 * What the directory says first, over one connection: the mapping, the school, the deletion
 * guard's decision (lookup.h); then the records and the markers carrying that decision, or a
 * dry run's plan. Returns 0, or -1 with res->error.
 */
static int look_up_and_publish(rd_kafka_t *rk, const struct ingest_job *job,
                               struct ingest_result *res, const struct kept *kept,
                               const struct strmap *listed, FILE *report)
{
    char why[768];
    struct guard_decision guard = {0};
    const char *sid = job->source_uid ? job->source_uid : job->cfg->import.source_uid;
    struct dir_conn *dc = lookup_open(job->cfg, why, sizeof(why));
    int rc = -1;
    if (!dc || lookup_before_publish(dc, job->cfg, job->school, job->role, sid, res->import_id,
                                     listed, &guard, why, sizeof(why)) < 0) {
        snprintf(res->error, sizeof(res->error), "%s; nothing was published", why);
        res->failure = INGEST_FAIL_DIRECTORY;
        goto out;
    }
    res->guard_decided = true;
    res->guard_held = guard.held;
    res->guard_removals = guard.removals;
    res->guard_members = guard.members;
    if (guard.held)
        fprintf(report, "%s: WARNING: the deletion guard holds this import: it %s\n", shown(job),
                guard.reason);
    rc = job->dry_run ? dry_run_import(dc, job, res, listed, &guard)
                      : publish(rk, job, res, kept, &guard);
    if (rc < 0 && !res->failure)
        res->failure = job->dry_run ? INGEST_FAIL_DIRECTORY : INGEST_FAIL_BROKER;
out:
    free(guard.reason);
    dir_conn_close(dc);
    return rc;
}

static void warn_empty(const struct ingest_job *job, FILE *report)
{
    fprintf(report,
            "%s: WARNING: the file holds no records. This import says that school %s has no "
            "%s at all: every such person of source %s will lose the school, unless the "
            "reconciler's deletion guard holds the import.\n",
            shown(job), job->school, role_name(job->role),
            job->source_uid ? job->source_uid : job->cfg->import.source_uid);
    log_kv(LEVEL_WARN, "empty_import", "file", shown(job), "school", job->school, "role",
           role_name(job->role), NULL);
}

int ingest_run(rd_kafka_t *rk, const struct ingest_job *job, struct ingest_result *res)
{
    FILE *report = job->report ? job->report : stderr;
    double start = clock_mono_s();
    struct file_id before, after;
    struct kept *kept = NULL;
    struct strmap *listed = strmap_new(true); /* record_uids are case-insensitive */

    memset(res, 0, sizeof(*res));
    res->exit_code = EXIT_FAILED;
    res->encoding[0] = '\0';
    if (job->import_id && import_id_valid(job->import_id)) {
        snprintf(res->import_id, sizeof(res->import_id), "%s", job->import_id);
    } else if (import_id_new(res->import_id, clock_wall_ms()) < 0) {
        snprintf(res->error, sizeof(res->error), "no randomness for the import_id: %s",
                 strerror(errno));
        res->failure = INGEST_FAIL_OTHER;
        strmap_free(listed, NULL);
        return res->exit_code;
    }
    if (file_id_get(job->path, &before) < 0) {
        snprintf(res->error, sizeof(res->error), "%s: %s", shown(job), strerror(errno));
        res->failure = INGEST_FAIL_FILE;
        strmap_free(listed, NULL);
        return res->exit_code;
    }
    kept = xcalloc((size_t)job->cfg->kafka.partitions, sizeof(*kept));
    if (validate(job, res, report, kept, listed) < 0)
        goto out;
    int tolerate = job->cfg->import.tolerate_errors;
    if (res->errors > 0 && tolerate >= 0 && res->errors > tolerate) {
        snprintf(res->error, sizeof(res->error),
                 "%" PRId64 " bad rows, more than import.tolerate_errors = %d: nothing was "
                 "published",
                 res->errors, tolerate);
        res->failure = INGEST_FAIL_FILE;
        goto out;
    }
    res->empty = res->rows == 0;
    if (res->empty && job->refuse_empty) {
        snprintf(res->error, sizeof(res->error),
                 "%s holds no data row: an empty export would take school %s from every %s; "
                 "nothing was published",
                 shown(job), job->school, role_name(job->role));
        res->failure = INGEST_FAIL_FILE;
        goto out;
    }
    if (res->empty)
        warn_empty(job, report);
    if (!job->check_only) {
        if (look_up_and_publish(rk, job, res, kept, listed, report) < 0)
            goto out;
        if (file_id_get(job->path, &after) < 0 || !file_id_same(&before, &after)) {
            /* The markers are out, but they count exactly what was published, so the
             * import is consistent; still, the operator should know. */
            fprintf(report, "%s: WARNING: the file changed while it was being imported\n",
                    shown(job));
        }
    }
    res->exit_code = res->errors > 0 ? EXIT_WITH_ERRORS : EXIT_OK;
out:
    kept_free(kept, job->cfg->kafka.partitions);
    strmap_free(listed, NULL);
    res->seconds = clock_mono_s() - start;
    return res->exit_code;
}

/* Checks a job's school, role and source before anything is read. */
int ingest_check_job(const struct config *cfg, const char *school, const char *role,
                     const char *source_uid, enum role *out, char *err, size_t n)
{
    if (!str_is_school_name(school)) {
        snprintf(err, n, "school \"%s\": not a valid school name (1-64 of A-Z a-z 0-9 _ -)",
                 school);
        return -1;
    }
    if (strcasecmp(school, cfg->import.limbo_ou) == 0) {
        snprintf(err, n, "school \"%s\" is the limbo OU (import.limbo_ou); nothing imports there",
                 school);
        return -1;
    }
    if (role_parse(role, out) < 0) {
        snprintf(err, n, "role \"%s\": must be student, teacher, staff or teacher_and_staff", role);
        return -1;
    }
    if (!source_uid || !*source_uid) {
        snprintf(err, n, "no source_uid: set import.source_uid in %s or pass --source-uid",
                 cfg->path);
        return -2;
    }
    return 0;
}

void ingest_print_summary(FILE *f, const struct ingest_job *job, const struct ingest_result *res)
{
    const char *sid = job->source_uid ? job->source_uid : job->cfg->import.source_uid;
    char delim[32];
    if (res->delimiter == '\t')
        snprintf(delim, sizeof(delim), "delimiter TAB");
    else if (res->delimiter)
        snprintf(delim, sizeof(delim), "delimiter '%c'", res->delimiter);
    else /* refused before the delimiter was looked for (e.g. its encoding) */
        snprintf(delim, sizeof(delim), "delimiter not determined");
    fprintf(f, "import_id:  %s\n", res->import_id);
    fprintf(f, "file:       %s (%s%s%s)\n", shown(job), res->encoding, *res->encoding ? ", " : "",
            delim);
    fprintf(f, "job:        school %s, role %s, source_uid %s%s\n", job->school,
            role_name(job->role), sid ? sid : "?", job->dry_run ? ", DRY RUN" : "");
    fprintf(f, "rows:       %" PRId64 " read, %" PRId64 " valid, %" PRId64 " bad\n", res->rows,
            res->records, res->errors);
    if (job->check_only)
        fprintf(f, "published:  nothing (--check)\n");
    else if (job->dry_run && res->exit_code != EXIT_FAILED)
        fprintf(f, "published:  nothing (--dry-run)\n");
    else if (res->exit_code == EXIT_FAILED)
        fprintf(f, "published:  FAILED: %s\n", res->error);
    else
        fprintf(f,
                "published:  %" PRId64 " records and %" PRId64 " end markers to %s (%d "
                "partitions)\n",
                res->records, res->markers, job->cfg->kafka.topic_users, res->partitions);
    if (res->guard_decided && res->guard_removals == 0)
        fprintf(f,
                "guard:      passes: the file lists all %" PRId64 " %s of %s the directory has\n",
                res->guard_members, role_name(job->role), job->school);
    else if (res->guard_decided)
        fprintf(f,
                "guard:      %s: %" PRId64 " of the directory's %" PRId64 " %s of %s not listed "
                "(they lose the school%s)\n",
                res->guard_held ? "HELD until released (sisopi-admin release)" : "passes",
                res->guard_removals, res->guard_members, role_name(job->role), job->school,
                res->guard_held ? " once released" : "");
    fprintf(f, "took:       %.2f s (%.0f rows/s)\n", res->seconds,
            res->seconds > 0 ? (double)res->rows / res->seconds : 0.0);
    /* Tolerated bad rows are part of what the import did: whoever reads only the summary (or
     * the --watch report) must see them, as the reference's statistics show them. */
    fprintf(f, "Errors: %" PRId64 "\n", res->errors);
    if (res->error_lines) {
        for (const char *p = res->error_lines; *p;) {
            size_t n = strcspn(p, "\n");
            fprintf(f, "  %.*s\n", (int)n, p);
            p += n + (p[n] == '\n');
        }
    }
}

void ingest_result_free(struct ingest_result *res)
{
    free(res->error_lines);
    res->error_lines = NULL;
}
