/*
 * api_import: ingest_run with the upload's name in every message, the row errors collected
 * for the job, and the first passwords kept (api_passwords) when they are generated.
 */
#include "api_import.h"

#include <stdlib.h>
#include <string.h>

#include "api_passwords.h"
#include "cli.h"
#include "clock.h"
#include "ingest.h"
#include "json_out.h"
#include "log.h"
#include "strutil.h"

struct collect {
    struct api_row_error *errors;
    size_t n;
    struct api_passwords *pw;
};

static void on_row_error(const struct import_error *e, void *opaque)
{
    struct collect *c = opaque;
    c->errors = xrealloc(c->errors, (c->n + 1) * sizeof(*c->errors));
    struct api_row_error *r = &c->errors[c->n++];
    r->line = e->line;
    r->column = e->column_name[0] ? xstrdup(e->column_name) : NULL;
    r->message = e->record_uid[0] ? xasprintf("record_uid \"%s\": %s", e->record_uid, e->message)
                                  : xstrdup(e->message);
}

static int before_publish(struct user_record *r, void *opaque, char *err, size_t n)
{
    struct collect *c = opaque;
    return c->pw ? api_passwords_hook(r, c->pw, err, n) : 0;
}

static void write_errors(FILE *f, const struct collect *c, const char *filename)
{
    struct json_out o;
    json_out_init(&o, f);
    json_out_begin_array(&o);
    for (size_t i = 0; i < c->n; i++) {
        json_out_begin_object(&o);
        json_out_key(&o, "file");
        json_out_string(&o, filename);
        json_out_key(&o, "line");
        json_out_int(&o, c->errors[i].line);
        json_out_key(&o, "column");
        json_out_string(&o, c->errors[i].column);
        json_out_key(&o, "message");
        json_out_string(&o, c->errors[i].message);
        json_out_end_object(&o);
    }
    json_out_end_array(&o);
}

enum api_import_rc api_import_run(struct api *api, const struct api_upload *u, char *id,
                                  FILE *errors_json, char *msg, size_t n)
{
    const struct config *cfg = api->cfg;
    struct collect c = {0};
    enum api_import_rc rc = API_IMPORT_FAILED;
    char err[512];
    int64_t created = clock_wall_ms();
    if (import_id_new(id, created) < 0) {
        snprintf(msg, n, "no randomness for an import id");
        return API_IMPORT_FAILED;
    }
    if (!u->dryrun && cfg->import.initial_password_generated &&
        !(c.pw = api_passwords_open(cfg, id, err, sizeof(err)))) {
        log_kv(LEVEL_ERROR, "passwords_unwritable", "error", err, NULL);
        snprintf(msg, n, "the server cannot keep first passwords; nothing was published");
        return API_IMPORT_FAILED;
    }
    /* What the command line prints goes nowhere: the job carries it. */
    char *sink = NULL;
    size_t sink_len = 0;
    FILE *discard = open_memstream(&sink, &sink_len);
    struct ingest_job job = {
        .cfg = cfg,
        .path = u->spool_path,
        .school = u->school,
        .role = u->role,
        .source_uid = NULL, /* the server's, never the school's */
        .dry_run = u->dryrun,
        .report = discard,
        .plan = discard,
        .rows_in_summary = true,
        .name = u->filename,
        .import_id = id,
        .refuse_empty = true,
        .row_error = on_row_error,
        .before_publish = before_publish,
        .opaque = &c,
    };
    struct ingest_result res;
    if (!u->dryrun)
        api_jobs_expect(api->jobs, id, cfg->kafka.partitions);
    pthread_mutex_lock(&api->ingest_lock);
    ingest_run(u->dryrun ? NULL : api->producer, &job, &res);
    pthread_mutex_unlock(&api->ingest_lock);
    fclose(discard);
    free(sink);

    bool published = res.exit_code != EXIT_FAILED;
    if (c.pw && api_passwords_close(c.pw, !published, err, sizeof(err)) < 0)
        log_kv(LEVEL_ERROR, "passwords_unwritable", "import_id", id, "error", err, NULL);
    if (!published) {
        api_jobs_forget(api->jobs, id);
        snprintf(msg, n, "%s", res.error);
        switch (res.failure) {
        case INGEST_FAIL_FILE:
            rc = API_IMPORT_INVALID;
            write_errors(errors_json, &c, u->filename);
            break;
        case INGEST_FAIL_DIRECTORY:
        case INGEST_FAIL_BROKER:
            rc = API_IMPORT_UNAVAILABLE;
            break;
        default:
            rc = API_IMPORT_FAILED;
        }
        log_kv(LEVEL_WARN, "import_refused", "import_id", id, "school", u->school, "role",
               role_name(u->role), "principal", u->principal, "error", res.error, NULL);
        goto out;
    }
    struct api_job_spec spec = {
        .id = id,
        .school = u->school,
        .role = u->role,
        .dryrun = u->dryrun,
        .principal = u->principal,
        .filename = u->filename,
        .created_ms = created,
        .rows = res.rows,
        .partitions = u->dryrun ? 0 : res.partitions,
        .status = u->dryrun ? API_JOB_FINISHED : API_JOB_STARTED,
        .errors = c.errors,
        .n_errors = c.n,
        .guard_held = res.guard_held,
        .guard_removals = res.guard_removals,
        .guard_members = res.guard_members,
        .passwords = c.pw != NULL,
    };
    if (u->dryrun)
        spec.counts = (struct api_counts){.created = res.plan.created,
                                          .modified = res.plan.modified,
                                          .unchanged = res.plan.unchanged,
                                          .school_removed = res.plan.removed,
                                          .to_limbo = res.plan.limbo,
                                          .reactivated = res.plan.reactivated,
                                          .rejected = res.plan.rejected};
    if (api_jobs_add(api->jobs, &spec, err, sizeof(err)) < 0) {
        /* Published, but the job could not be written: say so loudly; the import goes on. */
        log_kv(LEVEL_ERROR, "job_unwritable", "import_id", id, "error", err, NULL);
        snprintf(msg, n, "import %s was published, but the server could not record the job: %s", id,
                 err);
        rc = API_IMPORT_FAILED;
        goto out;
    }
    char rows[24];
    snprintf(rows, sizeof(rows), "%lld", (long long)res.rows);
    log_kv(LEVEL_INFO, u->dryrun ? "dry_run" : "import_published", "import_id", id, "school",
           u->school, "role", role_name(u->role), "principal", u->principal, "rows", rows, NULL);
    rc = API_IMPORT_OK;
out:
    for (size_t i = 0; i < c.n; i++) {
        free(c.errors[i].column);
        free(c.errors[i].message);
    }
    free(c.errors);
    ingest_result_free(&res);
    return rc;
}
