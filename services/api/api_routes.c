/*
 * api_routes: the endpoints of docs/api.md, one function each, dispatched by method and path.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_http.h"
#include "api_import.h"
#include "api_json.h"
#include "api_passwords.h"
#include "audit_report.h"
#include "avro_codec.h"
#include "csv_write.h"
#include "ingest.h"
#include "json_out.h"
#include "log.h"
#include "strutil.h"
#include "topic_reader.h"
#include "web_assets.h"

#define JSON            "application/json"
#define READ_TIMEOUT_MS 60000
#define JOBS_PREFIX     "/api/v1/imports/users/"

/* A memstream for a reply body. */
struct body {
    char *buf;
    size_t len;
    FILE *f;
};

static FILE *body_open(struct body *b)
{
    memset(b, 0, sizeof(*b));
    b->f = open_memstream(&b->buf, &b->len);
    return b->f;
}

static enum MHD_Result body_reply(struct api_call *call, struct body *b, unsigned status,
                                  const char *type)
{
    fclose(b->f);
    enum MHD_Result r = api_reply(call, status, type, b->buf, b->len);
    free(b->buf);
    return r;
}

/* ---- the page and the documents ---- */

static enum MHD_Result asset(struct api_call *call, const char *name)
{
    const struct web_asset *a = web_asset_find(name);
    if (!a)
        return api_reply_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such file", 0);
    return api_reply_headers(call, MHD_HTTP_OK, a->type, a->data, a->len, "Cache-Control",
                             "no-cache", NULL);
}

static enum MHD_Result health(struct api_call *call, bool metrics)
{
    struct body b;
    if (!body_open(&b))
        return MHD_NO;
    if (metrics) {
        metrics_render(call->api->metrics, b.f);
        return body_reply(call, &b, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8");
    }
    char *why = NULL;
    bool ok = metrics_healthy(call->api->metrics, &why);
    fprintf(b.f, "%s\n", why ? why : "");
    free(why);
    return body_reply(call, &b, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                      "text/plain; charset=utf-8");
}

/* ---- logins ---- */

static enum MHD_Result token_reply(struct api_call *call)
{
    char token[API_TOKEN_LEN + 1];
    if (api_auth_token_new(call->api->auth, &call->who, token, sizeof(token)) < 0)
        return api_reply_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "unavailable",
                               "no randomness for a token", 0);
    struct body b;
    if (!body_open(&b))
        return MHD_NO;
    struct json_out o;
    json_out_init(&o, b.f);
    json_out_begin_object(&o);
    json_out_key(&o, "token");
    json_out_string(&o, token);
    json_out_key(&o, "expires_in");
    json_out_int(&o, api_auth_token_lifetime(call->api->auth));
    json_out_key(&o, "username");
    json_out_string(&o, call->who.username);
    json_out_end_object(&o);
    fputc('\n', b.f);
    explicit_bzero(token, sizeof(token));
    return body_reply(call, &b, MHD_HTTP_OK, JSON);
}

static enum MHD_Result token_new(struct api_call *call)
{
    enum MHD_Result ret;
    if (!call->body_len || MHD_lookup_connection_value(call->c, MHD_HEADER_KIND, "Authorization"))
        return api_authenticate(call, &ret) ? token_reply(call) : ret;
    char user[300], pass[1024];
    if (api_json_login(call->body, user, sizeof(user), pass, sizeof(pass)) < 0 || !user[0]) {
        explicit_bzero(pass, sizeof(pass));
        return api_reply_error(call, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "expected {\"username\": \"...\", \"password\": \"...\"}", 0);
    }
    int retry = 0;
    enum api_auth_rc rc =
        api_auth_login(call->api->auth, user, pass, call->address, &call->who, &retry);
    explicit_bzero(pass, sizeof(pass));
    api_count_login(call->api, (int)rc);
    switch (rc) {
    case API_AUTH_OK:
        call->authed = true;
        return token_reply(call);
    case API_AUTH_LIMITED:
        return api_reply_error(call, MHD_HTTP_TOO_MANY_REQUESTS, "too_many",
                               "too many failed logins: wait, then try again", retry);
    case API_AUTH_UNAVAILABLE:
        return api_reply_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                               "the directory cannot check logins right now", 30);
    default:
        return api_reply_error(call, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                               "wrong username or password", 0);
    }
}

static enum MHD_Result token_revoke(struct api_call *call)
{
    enum MHD_Result ret;
    if (!api_authenticate(call, &ret))
        return ret;
    if (call->token[0])
        api_auth_token_revoke(call->api->auth, call->token);
    return api_reply(call, MHD_HTTP_NO_CONTENT, JSON, "", 0);
}

/* ---- schools ---- */

static enum MHD_Result schools(struct api_call *call)
{
    struct body b;
    if (!body_open(&b))
        return MHD_NO;
    struct json_out o;
    json_out_init(&o, b.f);
    json_out_begin_object(&o);
    json_out_key(&o, "results");
    json_out_begin_array(&o);
    for (size_t i = 0; i < call->who.n_grants; i++) {
        const struct api_grant *g = &call->who.grants[i];
        json_out_begin_object(&o);
        json_out_key(&o, "name");
        json_out_string(&o, g->school);
        json_out_key(&o, "display_name");
        json_out_string(&o, g->school);
        json_out_key(&o, "roles");
        json_out_begin_array(&o);
        for (int r = 0; r < ROLE_COUNT; r++)
            if (g->roles & (1u << r))
                json_out_string(&o, role_name((enum role)r));
        json_out_end_array(&o);
        json_out_end_object(&o);
    }
    json_out_end_array(&o);
    json_out_end_object(&o);
    fputc('\n', b.f);
    return body_reply(call, &b, MHD_HTTP_OK, JSON);
}

/* ---- jobs ---- */

static enum MHD_Result access_error(struct api_call *call, enum api_job_access a)
{
    if (a == API_JOB_FORBIDDEN)
        return api_reply_error(call, MHD_HTTP_FORBIDDEN, "forbidden",
                               "this import belongs to a school you may not import for", 0);
    return api_reply_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such import", 0);
}

static enum MHD_Result job_get(struct api_call *call, const char *id)
{
    struct body b;
    if (!body_open(&b))
        return MHD_NO;
    enum api_job_access a = api_jobs_render(call->api->jobs, id, &call->who, b.f);
    if (a != API_JOB_OK) {
        fclose(b.f);
        free(b.buf);
        return access_error(call, a);
    }
    fputc('\n', b.f);
    return body_reply(call, &b, MHD_HTTP_OK, JSON);
}

static enum MHD_Result job_list(struct api_call *call)
{
    const char *school = MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, "school");
    const char *role = MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, "role");
    const char *page_s = MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, "page");
    if (school && !*school)
        school = NULL;
    if (role && !*role)
        role = NULL;
    char *end = NULL;
    long page = page_s && *page_s ? strtol(page_s, &end, 10) : 1;
    enum role r;
    if ((end && *end) || page < 1 || page > 1000000 || (role && role_parse(role, &r) < 0) ||
        (school && !str_is_school_name(school)))
        return api_reply_error(call, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "page is a number from 1, role one of student, teacher, staff, "
                               "teacher_and_staff, school a school name",
                               0);
    if (school && !api_principal_sees(&call->who, school))
        return api_reply_error(call, MHD_HTTP_FORBIDDEN, "forbidden",
                               "you may not import for this school", 0);
    struct body b;
    if (!body_open(&b))
        return MHD_NO;
    api_jobs_render_list(call->api->jobs, &call->who, school, role, (int)page, b.f);
    fputc('\n', b.f);
    return body_reply(call, &b, MHD_HTTP_OK, JSON);
}

static void report_event(const rd_kafka_message_t *m, void *opaque, bool events)
{
    char err[256];
    if (m->err)
        return;
    if (events) {
        struct event e;
        if (event_decode(m->payload, m->len, &e, err, sizeof(err)) == 0)
            audit_report_event(opaque, &e);
        event_free(&e);
    } else {
        struct users_msg u;
        if (users_msg_decode(m->payload, m->len, &u, err, sizeof(err)) == 0)
            audit_report_users(opaque, &u, m->partition, m->offset);
        users_msg_free(&u);
    }
}

static int report_events_cb(const rd_kafka_message_t *m, void *opaque)
{
    report_event(m, opaque, true);
    return 0;
}

static int report_users_cb(const rd_kafka_message_t *m, void *opaque)
{
    report_event(m, opaque, false);
    return 0;
}

/* A dry run's summary: its bad rows, in the summary's columns. */
static void dry_run_summary(const struct api_job_facts *f, FILE *out)
{
    csv_write_row(out, (const char *const *)audit_report_columns, AUDIT_REPORT_N_COLUMNS);
    for (size_t i = 0; i < f->n_errors; i++) {
        char line[24];
        snprintf(line, sizeof(line), "%" PRId64, f->errors[i].line);
        const char *v[AUDIT_REPORT_N_COLUMNS] = {
            line, "0", "1", "A", role_name(f->role),  "", f->school, "", "", "", "",
            "0",  "",  "",  "",  f->errors[i].message};
        csv_write_row(out, v, AUDIT_REPORT_N_COLUMNS);
    }
}

static enum MHD_Result job_file(struct api_call *call, const char *id, bool passwords)
{
    struct api_job_facts f;
    enum api_job_access a = api_jobs_facts(call->api->jobs, id, &call->who, &f);
    if (a != API_JOB_OK)
        return access_error(call, a);
    const struct config *cfg = call->api->cfg;
    struct body b;
    enum MHD_Result ret;
    char disp[128], err[512];
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s-%s.csv\"",
             passwords ? "passwords" : "summary", id);
    if (!body_open(&b)) {
        api_job_facts_free(&f);
        return MHD_NO;
    }
    if (passwords) {
        if (!f.passwords) {
            ret = api_reply_error(call, MHD_HTTP_NOT_FOUND, "not_found",
                                  "this import has no first passwords", 0);
            goto out;
        }
        if (strcasecmp(f.principal, call->who.username) != 0) {
            ret = api_reply_error(call, MHD_HTTP_FORBIDDEN, "forbidden",
                                  "only who started the import may read its first passwords", 0);
            goto out;
        }
        if (api_passwords_csv(cfg, id, &f, b.f) < 0) {
            ret = api_reply_error(call, MHD_HTTP_NOT_FOUND, "not_found",
                                  "this import has no first passwords", 0);
            goto out;
        }
        log_kv(LEVEL_INFO, "passwords_read", "import_id", id, "principal", call->who.username,
               NULL);
    } else if (f.dryrun) {
        dry_run_summary(&f, b.f);
    } else {
        struct audit_report *r = audit_report_new(id);
        int rc = topic_read_all(cfg, cfg->kafka.topic_events, READ_TIMEOUT_MS, report_events_cb, r,
                                err, sizeof(err));
        if (rc == 0)
            rc = topic_read_all(cfg, cfg->kafka.topic_users, READ_TIMEOUT_MS, report_users_cb, r,
                                err, sizeof(err));
        if (rc == 0)
            rc = audit_report_write_csv(r, b.f);
        audit_report_free(r);
        if (rc != 0) {
            log_kv(LEVEL_WARN, "summary_unavailable", "import_id", id, "error", err, NULL);
            ret = api_reply_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                  "the topics cannot be read right now", 30);
            goto out;
        }
    }
    fclose(b.f);
    b.f = NULL;
    ret = api_reply_headers(call, MHD_HTTP_OK, "text/csv; charset=utf-8", b.buf, b.len,
                            "Content-Disposition", disp, NULL);
out:
    if (b.f)
        fclose(b.f);
    if (passwords && b.buf)
        explicit_bzero(b.buf, b.len);
    free(b.buf);
    api_job_facts_free(&f);
    return ret;
}

/* /api/v1/imports/users/ID[/summary.csv|/passwords.csv] */
static enum MHD_Result jobs(struct api_call *call, const char *rest)
{
    if (!*rest)
        return job_list(call);
    char id[IMPORT_ID_LEN + 1];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n != IMPORT_ID_LEN)
        return api_reply_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such import", 0);
    memcpy(id, rest, n);
    id[n] = '\0';
    if (!import_id_valid(id))
        return api_reply_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such import", 0);
    if (!slash || strcmp(slash, "/") == 0)
        return job_get(call, id);
    if (strcmp(slash, "/summary.csv") == 0)
        return job_file(call, id, false);
    if (strcmp(slash, "/passwords.csv") == 0)
        return job_file(call, id, true);
    return api_reply_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such resource", 0);
}

/* ---- the upload ---- */

/* The file's own name, without any directory and control characters: metadata only, never
 * a path. out holds API_FIELD_MAX + 1 bytes. */
static const char *clean_filename(const char *given, char *out)
{
    const char *name = given;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\')
            name = p + 1;
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && k < API_FIELD_MAX; p++)
        out[k++] = *p < 0x20 || *p == 0x7f ? '_' : (char)*p;
    out[k] = '\0';
    return k ? out : "upload.csv";
}

enum MHD_Result api_route_upload(struct api_call *call)
{
    if (call->write_failed)
        return api_reply_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                               "the server cannot store the upload right now", 60);
    if (call->bad_form || !call->have_file || !call->school[0] || !call->role[0])
        return api_reply_error(call, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "expected multipart/form-data with school, user_role, dryrun and "
                               "the file in input_file",
                               0);
    bool dryrun;
    if (!call->dryrun[0] || strcmp(call->dryrun, "false") == 0 || strcmp(call->dryrun, "0") == 0)
        dryrun = false;
    else if (strcmp(call->dryrun, "true") == 0 || strcmp(call->dryrun, "1") == 0)
        dryrun = true;
    else
        return api_reply_error(call, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "dryrun must be true or false", 0);
    const struct config *cfg = call->api->cfg;
    char err[512];
    enum role role;
    if (ingest_check_job(cfg, call->school, call->role, cfg->import.source_uid, &role, err,
                         sizeof(err)) == -1)
        return api_reply_error(call, MHD_HTTP_BAD_REQUEST, "bad_request", err, 0);
    if (!api_principal_may(&call->who, call->school, role))
        return api_reply_error(call, MHD_HTTP_FORBIDDEN, "forbidden",
                               "you may not import this role for this school", 0);
    if (!cfg->import.source_uid)
        return api_reply_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                               "the server has no import.source_uid configured", 300);
    struct api_jobs *jobs = call->api->jobs;
    if (!api_jobs_reserve(jobs, call->school, cfg->api.max_jobs_per_school))
        return api_reply_error(call, MHD_HTTP_TOO_MANY_REQUESTS, "too_many",
                               "this school has as many imports in progress as allowed: wait "
                               "until one has finished",
                               30);
    char clean[API_FIELD_MAX + 1];
    struct api_upload u = {
        .spool_path = call->spool_path,
        .filename = clean_filename(call->filename, clean),
        .school = call->school,
        .role = role,
        .dryrun = dryrun,
        .principal = call->who.username,
    };
    char id[IMPORT_ID_LEN + 1] = "";
    struct body errs;
    if (!body_open(&errs)) {
        api_jobs_uploading(jobs, call->school, -1);
        return MHD_NO;
    }
    enum api_import_rc rc = api_import_run(call->api, &u, id, errs.f, err, sizeof(err));
    api_jobs_uploading(jobs, call->school, -1);
    api_count_import(call->api, dryrun, (int)rc);
    fclose(errs.f);
    enum MHD_Result ret;
    if (rc == API_IMPORT_OK) {
        struct body b;
        if (!body_open(&b)) {
            free(errs.buf);
            return MHD_NO;
        }
        api_jobs_render(jobs, id, &call->who, b.f);
        fputc('\n', b.f);
        fclose(b.f);
        char loc[96];
        snprintf(loc, sizeof(loc), JOBS_PREFIX "%s", id);
        ret = api_reply_headers(call, MHD_HTTP_CREATED, JSON, b.buf, b.len, "Location", loc, NULL);
        free(b.buf);
    } else if (rc == API_IMPORT_INVALID) {
        struct body b;
        if (!body_open(&b)) {
            free(errs.buf);
            return MHD_NO;
        }
        fputs("{\"error\": \"invalid_file\", \"message\": ", b.f);
        json_write_string(b.f, err);
        fprintf(b.f, ", \"errors\": %s}\n", errs.len ? errs.buf : "[]");
        ret = body_reply(call, &b, MHD_HTTP_UNPROCESSABLE_CONTENT, JSON);
    } else if (rc == API_IMPORT_UNAVAILABLE) {
        ret = api_reply_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", err, 30);
    } else {
        ret = api_reply_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "unavailable", err, 0);
    }
    free(errs.buf);
    return ret;
}

/* ---- dispatch ---- */

enum MHD_Result api_route(struct api_call *call)
{
    const char *m = call->method, *url = call->url;
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0;
    if (get && strcmp(url, "/") == 0)
        return asset(call, "index.html");
    if (get && strncmp(url, "/static/", 8) == 0)
        return asset(call, url + 8);
    if (get && strcmp(url, "/healthz") == 0)
        return health(call, false);
    if (get && strcmp(url, "/metrics") == 0)
        return health(call, true);
    if (get && strcmp(url, "/api/v1/openapi.json") == 0)
        return asset(call, "openapi.json");
    if (get && (strcmp(url, "/api/v1/docs") == 0 || strcmp(url, "/api/v1/docs/") == 0))
        return asset(call, "docs.html");
    if (post && (strcmp(url, "/api/v1/token") == 0 || strcmp(url, "/api/v1/token/") == 0))
        return token_new(call);
    if (post && strcmp(url, "/api/v1/token/revoke") == 0)
        return token_revoke(call);
    bool schools_url = strcmp(url, "/api/v1/schools/") == 0 || strcmp(url, "/api/v1/schools") == 0;
    bool jobs_url = strncmp(url, JOBS_PREFIX, strlen(JOBS_PREFIX)) == 0 ||
                    strcmp(url, "/api/v1/imports/users") == 0;
    if (!schools_url && !jobs_url)
        return api_reply_error(call, MHD_HTTP_NOT_FOUND, "not_found", "no such resource", 0);
    if (!get)
        return api_reply_error(call, MHD_HTTP_METHOD_NOT_ALLOWED, "bad_request",
                               "method not allowed here", 0);
    enum MHD_Result ret;
    if (!api_authenticate(call, &ret))
        return ret;
    if (schools_url)
        return schools(call);
    const char *rest = strlen(url) > strlen(JOBS_PREFIX) ? url + strlen(JOBS_PREFIX) : "";
    return jobs(call, rest);
}
