/*
 * api_follow: the follower of sisopi.events: every answer and person event of a job, from
 * the topic's beginning at start, then as they come (a simple reader, no consumer group).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api_jobs.h"
#include "api_jobs_int.h"
#include "api_passwords.h"
#include "avro_codec.h"
#include "log.h"
#include "strutil.h"
#include "topic_reader.h"

#define FOLLOW_RETRY_S   5
#define FOLLOW_POLL_MS   500
#define READ_ALL_TIMEOUT 120000

/* The uid of a DN's first RDN ("uid=anna,cn=..." -> "anna"), malloc'd, or NULL. */
static char *dn_uid(const char *dn)
{
    if (!dn || strncasecmp(dn, "uid=", 4) != 0)
        return NULL;
    const char *v = dn + 4;
    size_t n = 0;
    while (v[n] && v[n] != ',' && v[n] != '+')
        n++;
    return xstrndup(v, n);
}

static void note_end(struct api_jobs *js, struct job *j);

/* One event: the job it names takes it. Caller holds the lock. */
static void take_event(struct api_jobs *js, const struct event *e)
{
    if (!e->import_id || e->dry_run)
        return;
    struct job *j = strmap_get(js->jobs, e->import_id);
    if (!j || j->partitions == 0)
        return;
    enum answer a = ANSWER_NONE;
    switch (e->type) {
    case EVENT_IMPORT_COMPLETED:
    case EVENT_IMPORT_RELEASED:
        a = ANSWER_COMPLETED;
        break;
    case EVENT_IMPORT_HELD:
        a = ANSWER_HELD;
        break;
    case EVENT_IMPORT_INCOMPLETE:
        a = ANSWER_INCOMPLETE;
        break;
    case EVENT_REACTIVATED:
        j->reactivated++;
        return;
    case EVENT_REJECTED:
        j->rejected++;
        return;
    case EVENT_CREATED:
        if (e->record_uid) {
            void **slot = strmap_slot(j->created, e->record_uid, NULL);
            free(*slot);
            *slot = dn_uid(e->dn_after);
            note_end(js, j);
        }
        return;
    default:
        return;
    }
    int32_t p = e->input_partition;
    if (p < 0 || p >= j->partitions)
        return;
    j->answers[p] = a;
    j->last_answer_s = api_jobs_now_s();
    if (e->has_counts)
        j->part_counts[p] = e->counts;
    note_end(js, j);
}

/* The end is written down, so that it outlives the topic's retention. */
static void note_end(struct api_jobs *js, struct job *j)
{
    if (j->hidden)
        return; /* not made yet: it has no file */
    enum api_job_status st = api_job_status_now(j);
    if ((st == API_JOB_FINISHED || st == API_JOB_INCOMPLETE) && st != j->status) {
        char err[512];
        j->status = st;
        j->counts = api_job_counts(j);
        if (api_job_write(js, j, err, sizeof(err)) < 0)
            log_kv(LEVEL_WARN, "job_unwritable", "import_id", j->id, "error", err, NULL);
        if (j->passwords && api_passwords_prune(js->cfg, j->id, j->created, err, sizeof(err)) < 0)
            log_kv(LEVEL_WARN, "passwords_unpruned", "import_id", j->id, "error", err, NULL);
    }
}

struct follow {
    struct api_jobs *js;
    int64_t *last; /* per partition: the last offset taken */
    int n;
};

static void follow_track(struct follow *fw, int32_t p)
{
    if (p >= fw->n) {
        int n = p + 1;
        fw->last = xrealloc(fw->last, (size_t)n * sizeof(int64_t));
        for (int i = fw->n; i < n; i++)
            fw->last[i] = -1;
        fw->n = n;
    }
}

static void follow_one(struct follow *fw, const rd_kafka_message_t *m)
{
    if (m->err || m->partition < 0 || m->partition >= API_JOBS_MAX_PARTITIONS)
        return;
    follow_track(fw, m->partition);
    if (m->offset <= fw->last[m->partition])
        return; /* the catch-up read it already */
    fw->last[m->partition] = m->offset;
    struct event e;
    char err[256];
    if (event_decode(m->payload, m->len, &e, err, sizeof(err)) == 0) {
        pthread_mutex_lock(&fw->js->lock);
        take_event(fw->js, &e);
        pthread_mutex_unlock(&fw->js->lock);
    }
    event_free(&e);
}

static int catch_up_cb(const rd_kafka_message_t *m, void *opaque)
{
    follow_one(opaque, m);
    return 0;
}

static bool stopping(struct api_jobs *js)
{
    pthread_mutex_lock(&js->lock);
    bool s = js->stop;
    pthread_mutex_unlock(&js->lock);
    return s;
}

static void set_following(struct api_jobs *js, bool ok, const char *why)
{
    pthread_mutex_lock(&js->lock);
    js->following = ok;
    snprintf(js->follow_error, sizeof(js->follow_error), "%s", why ? why : "");
    pthread_mutex_unlock(&js->lock);
}

/* Opens a tail at the end, then reads everything before it: nothing is missed, and what both
 * see is taken once (by offset). */
static void *follower_main(void *arg)
{
    struct api_jobs *js = arg;
    const struct config *cfg = js->cfg;
    struct follow fw = {.js = js};
    char err[512];
    while (!stopping(js)) {
        struct topic_tail *tail =
            topic_tail_open(cfg, cfg->kafka.topic_events, 10000, err, sizeof(err));
        if (!tail || topic_read_all(cfg, cfg->kafka.topic_events, READ_ALL_TIMEOUT, catch_up_cb,
                                    &fw, err, sizeof(err)) < 0) {
            topic_tail_close(tail);
            set_following(js, false, err);
            log_kv(LEVEL_WARN, "events_unreadable", "error", err, "retry_s", "5", NULL);
            for (int i = 0; i < FOLLOW_RETRY_S * 10 && !stopping(js); i++)
                usleep(100000);
            continue;
        }
        set_following(js, true, NULL);
        log_kv(LEVEL_INFO, "events_followed", "topic", cfg->kafka.topic_events, NULL);
        while (!stopping(js)) {
            rd_kafka_message_t *m = topic_tail_poll(tail, FOLLOW_POLL_MS);
            if (m) {
                follow_one(&fw, m);
                rd_kafka_message_destroy(m);
            }
        }
        topic_tail_close(tail);
    }
    free(fw.last);
    return NULL;
}

int api_jobs_follow_start(struct api_jobs *js, char *err, size_t n)
{
    int rc = pthread_create(&js->follower, NULL, follower_main, js);
    if (rc != 0) {
        snprintf(err, n, "cannot start the events follower: %s", strerror(rc));
        return -1;
    }
    js->follower_started = true;
    return 0;
}

bool api_jobs_following(struct api_jobs *js, char *why, size_t n)
{
    pthread_mutex_lock(&js->lock);
    bool ok = js->following;
    snprintf(why, n, "%s", ok ? "ok" : js->follow_error);
    pthread_mutex_unlock(&js->lock);
    return ok;
}
