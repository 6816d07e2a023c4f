/*
 * outcome: a tail of sisopi.events, filtered by import_id, one answer per partition.
 */
#include "outcome.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "avro_codec.h"
#include "cli.h"
#include "clock.h"
#include "log.h"
#include "strutil.h"
#include "topic_reader.h"

#define OPEN_TIMEOUT_MS 10000
#define POLL_MS         200
#define SAY_EVERY_S     10.0
#define REJECTED_WAIT_S 10.0

struct topic_tail *outcome_open(const struct config *cfg, char *err, size_t n)
{
    return topic_tail_open(cfg, cfg->kafka.topic_events, OPEN_TIMEOUT_MS, err, n);
}

/* Takes one event of the import; seen[p] marks the partitions that answered. */
static void take(struct import_outcome *o, const struct event *e, bool *seen)
{
    if (e->type == EVENT_REJECTED) {
        if (o->rejected < OUTCOME_MAX_LISTED)
            o->listed[o->rejected] = xasprintf("%s: %s", e->record_uid ? e->record_uid : "?",
                                               e->reason ? e->reason : "");
        o->rejected++;
        return;
    }
    bool answer = e->type == EVENT_IMPORT_COMPLETED || e->type == EVENT_IMPORT_HELD ||
                  e->type == EVENT_IMPORT_INCOMPLETE;
    int32_t p = e->input_partition;
    if (!answer || p < 0 || p >= o->partitions || seen[p])
        return; /* a replay answers again: the first answer counts */
    seen[p] = true;
    o->answered++;
    if (e->has_counts)
        import_counts_add(&o->counts, &e->counts);
    if (e->type == EVENT_IMPORT_COMPLETED) {
        o->completed++;
    } else if (e->type == EVENT_IMPORT_HELD) {
        o->held++;
        if (!o->held_reason && e->reason)
            o->held_reason = xstrdup(e->reason);
    } else {
        o->incomplete++;
        if (!o->incomplete_reason && e->reason)
            o->incomplete_reason = xstrdup(e->reason);
    }
}

int outcome_wait(struct topic_tail *tail, const char *import_id, double timeout_s, bool quiet,
                 struct import_outcome *o)
{
    bool *seen = xcalloc((size_t)o->partitions + 1, sizeof(bool));
    double start = clock_mono_s(), said = start, all_answered = 0;
    /* The answers say how many persons each partition rejected (counts.errors); their Rejected
     * events are keyed by person, so they may come after the last answer: wait for them too,
     * a little (REJECTED_WAIT_S) beyond the answers. */
    while (clock_mono_s() - start < timeout_s) {
        if (o->answered == o->partitions) {
            if (all_answered == 0)
                all_answered = clock_mono_s();
            if (o->rejected >= o->counts.errors || clock_mono_s() - all_answered > REJECTED_WAIT_S)
                break;
        }
        rd_kafka_message_t *m = topic_tail_poll(tail, POLL_MS);
        if (m && !m->err) {
            struct event e;
            char err[256];
            if (event_decode(m->payload, m->len, &e, err, sizeof(err)) == 0) {
                if (e.import_id && strcmp(e.import_id, import_id) == 0)
                    take(o, &e, seen);
                event_free(&e);
            }
        }
        if (m)
            rd_kafka_message_destroy(m);
        if (!quiet && clock_mono_s() - said >= SAY_EVERY_S) {
            char a[16], t[16], s[24];
            snprintf(a, sizeof(a), "%d", o->answered);
            snprintf(t, sizeof(t), "%d", o->partitions);
            snprintf(s, sizeof(s), "%.0f", clock_mono_s() - start);
            log_kv(LEVEL_INFO, "waiting_for_outcome", "import_id", import_id, "answered", a,
                   "partitions", t, "seconds", s, NULL);
            said = clock_mono_s();
        }
    }
    free(seen);
    topic_tail_close(tail);
    return o->answered < o->partitions;
}

void outcome_print(FILE *f, const struct import_outcome *o, const char *import_id)
{
    const struct import_counts *c = &o->counts;
    if (o->answered < o->partitions)
        fprintf(f,
                "outcome:    NO OUTCOME from %d of %d partitions within the time allowed (the "
                "reconcilers are behind or down); sisopi-audit imports shows it later\n",
                o->partitions - o->answered, o->partitions);
    else if (o->held)
        fprintf(f, "outcome:    HELD on %d of %d partitions by the deletion guard: it %s\n",
                o->held, o->partitions, o->held_reason ? o->held_reason : "");
    else if (o->incomplete)
        fprintf(f, "outcome:    INCOMPLETE on %d of %d partitions: %s; import the file again\n",
                o->incomplete, o->partitions, o->incomplete_reason ? o->incomplete_reason : "");
    else
        fprintf(f, "outcome:    completed on all %d partitions\n", o->partitions);
    if (o->answered > 0)
        fprintf(
            f,
            "changes:    %" PRId64 " created, %" PRId64 " modified, %" PRId64 " unchanged, %" PRId64
            " lost the school (%" PRId64 " of them to limbo), %" PRId64 " rejected\n",
            c->created, c->modified, c->unchanged, c->removed + c->limbo, c->limbo, o->rejected);
    for (int64_t i = 0; i < o->rejected && i < OUTCOME_MAX_LISTED; i++)
        fprintf(f, "rejected:   %s\n", o->listed[i]);
    if (o->rejected > OUTCOME_MAX_LISTED)
        fprintf(f, "rejected:   ... and %" PRId64 " more: sisopi-audit report %s\n",
                o->rejected - OUTCOME_MAX_LISTED, import_id);
}

int outcome_exit_code(const struct import_outcome *o, bool waited, int ingest_exit)
{
    if (!waited)
        return EXIT_NO_OUTCOME;
    if (o->incomplete)
        return EXIT_INCOMPLETE;
    if (o->held)
        return EXIT_HELD;
    if (o->rejected > 0 || ingest_exit == EXIT_WITH_ERRORS)
        return EXIT_WITH_ERRORS;
    return EXIT_OK;
}

void outcome_free(struct import_outcome *o)
{
    for (int i = 0; i < OUTCOME_MAX_LISTED; i++)
        free(o->listed[i]);
    free(o->held_reason);
    free(o->incomplete_reason);
    memset(o, 0, sizeof(*o));
}

int outcome_run(rd_kafka_t *rk, const struct ingest_job *job, bool wait, double timeout_s,
                FILE *errors, FILE *summary, struct ingest_result *res)
{
    struct topic_tail *events = NULL;
    char err[512];
    wait = wait && !job->check_only;
    if (wait && !(events = outcome_open(job->cfg, err, sizeof(err)))) {
        memset(res, 0, sizeof(*res));
        res->exit_code = EXIT_FAILED;
        snprintf(res->error, sizeof(res->error),
                 "--wait: cannot read %s: %s; nothing was published", job->cfg->kafka.topic_events,
                 err);
        fprintf(errors, "sisopi-ingest: %s\n", res->error);
        return res->exit_code;
    }
    int rc = ingest_run(rk, job, res);
    if (rc == EXIT_FAILED)
        fprintf(errors, "sisopi-ingest: %s\n", res->error);
    ingest_print_summary(summary, job, res);
    if (!events)
        return rc;
    if (rc == EXIT_FAILED) {
        topic_tail_close(events);
        return rc;
    }
    struct import_outcome o = {.partitions = res->partitions};
    bool answered = outcome_wait(events, res->import_id, timeout_s, !job->progress, &o) == 0;
    outcome_print(summary, &o, res->import_id);
    rc = outcome_exit_code(&o, answered, rc);
    outcome_free(&o);
    return rc;
}
