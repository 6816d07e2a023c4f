/*
 * api_server: a request's life: headers (the upload is authenticated and its size checked
 * before its body is read), the body (a small one kept in memory, the upload's file spooled
 * to a private file), then its endpoint; the call's state is freed when MHD is done with it.
 */
#include "api_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_http.h"
#include "json_out.h"
#include "log.h"
#include "metrics_http.h"
#include "strutil.h"

#define POST_BUFFER 65536

struct api_server {
    struct MHD_Daemon *d;
    struct api *api;
    char *cert, *key; /* PEM, kept while the daemon runs */
    int port;
};

/* ---- replies ---- */

static const char CSP[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                          "form-action 'self'";

static enum MHD_Result reply_va(struct api_call *call, unsigned status, const char *type,
                                const void *body, size_t len, va_list ap)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    bool cache_given = false;
    const char *k;
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        if (strcasecmp(k, "Cache-Control") == 0)
            cache_given = true;
        MHD_add_response_header(r, k, v);
    }
    if (!cache_given)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(call->c, status, r);
    MHD_destroy_response(r);
    call->replied = true;
    api_count_reply(call->api, status);
    return ok;
}

enum MHD_Result api_reply_headers(struct api_call *call, unsigned status, const char *type,
                                  const void *body, size_t len, ...)
{
    va_list ap;
    va_start(ap, len);
    enum MHD_Result r = reply_va(call, status, type, body, len, ap);
    va_end(ap);
    return r;
}

enum MHD_Result api_reply(struct api_call *call, unsigned status, const char *type,
                          const void *body, size_t len)
{
    return api_reply_headers(call, status, type, body, len, NULL);
}

enum MHD_Result api_reply_error(struct api_call *call, unsigned status, const char *code,
                                const char *message, int retry_after)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return MHD_NO;
    fputs("{\"error\": ", f);
    json_write_string(f, code);
    fputs(", \"message\": ", f);
    json_write_string(f, message);
    fputs("}\n", f);
    fclose(f);
    char retry[16];
    snprintf(retry, sizeof(retry), "%d", retry_after > 0 ? retry_after : 30);
    enum MHD_Result r;
    if (status == MHD_HTTP_UNAUTHORIZED)
        r = api_reply_headers(call, status, "application/json", buf, len, "WWW-Authenticate",
                              "Basic realm=\"sisopi\", charset=\"UTF-8\"", NULL);
    else if (status == MHD_HTTP_TOO_MANY_REQUESTS || status == MHD_HTTP_SERVICE_UNAVAILABLE)
        r = api_reply_headers(call, status, "application/json", buf, len, "Retry-After", retry,
                              NULL);
    else
        r = api_reply(call, status, "application/json", buf, len);
    free(buf);
    return r;
}

/* ---- authentication ---- */

/* Who calls: true, or false with the answer to give in call->refused_*. */
static bool check_login(struct api_call *call)
{
    struct api *api = call->api;
    const char *h = MHD_lookup_connection_value(call->c, MHD_HEADER_KIND, "Authorization");
    call->refused_status = MHD_HTTP_UNAUTHORIZED;
    call->refused_code = "unauthorized";
    call->refused_retry = 0;
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *t = h + 7;
        while (*t == ' ')
            t++;
        if (strlen(t) == API_TOKEN_LEN &&
            api_auth_token_get(api->auth, t, &call->who) == API_AUTH_OK) {
            snprintf(call->token, sizeof(call->token), "%s", t);
            call->authed = true;
            return true;
        }
        snprintf(call->refused_message, sizeof(call->refused_message),
                 "the token is unknown or has expired: log in again");
        return false;
    }
    char *pass = NULL;
    char *user = h && strncasecmp(h, "Basic ", 6) == 0
                     ? MHD_basic_auth_get_username_password(call->c, &pass)
                     : NULL;
    if (!user) {
        if (pass)
            MHD_free(pass);
        snprintf(call->refused_message, sizeof(call->refused_message),
                 "log in: HTTP Basic with your directory account, or a token from POST "
                 "/api/v1/token");
        return false;
    }
    int retry = 0;
    enum api_auth_rc rc =
        api_auth_login(api->auth, user, pass ? pass : "", call->address, &call->who, &retry);
    if (pass) {
        explicit_bzero(pass, strlen(pass));
        MHD_free(pass);
    }
    MHD_free(user);
    api_count_login(api, (int)rc);
    switch (rc) {
    case API_AUTH_OK:
        call->authed = true;
        return true;
    case API_AUTH_LIMITED:
        call->refused_status = MHD_HTTP_TOO_MANY_REQUESTS;
        call->refused_code = "too_many";
        call->refused_retry = retry;
        snprintf(call->refused_message, sizeof(call->refused_message),
                 "too many failed logins: wait, then try again");
        return false;
    case API_AUTH_UNAVAILABLE:
        call->refused_status = MHD_HTTP_SERVICE_UNAVAILABLE;
        call->refused_code = "unavailable";
        call->refused_retry = 30;
        snprintf(call->refused_message, sizeof(call->refused_message),
                 "the directory cannot check logins right now");
        return false;
    default:
        snprintf(call->refused_message, sizeof(call->refused_message),
                 "wrong username or password");
        return false;
    }
}

static enum MHD_Result reply_refused(struct api_call *call)
{
    return api_reply_error(call, call->refused_status, call->refused_code, call->refused_message,
                           call->refused_retry);
}

bool api_authenticate(struct api_call *call, enum MHD_Result *ret)
{
    if (call->authed)
        return true;
    if (check_login(call))
        return true;
    *ret = reply_refused(call);
    return false;
}

/* ---- the upload ---- */

static void copy_field(char *dst, const char *data, uint64_t off, size_t size, bool *bad)
{
    size_t have = strlen(dst);
    if (off != have || have + size > API_FIELD_MAX) {
        *bad = true;
        return;
    }
    memcpy(dst + have, data, size);
    dst[have + size] = '\0';
}

static enum MHD_Result post_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *transfer_encoding, const char *data, uint64_t off,
                                  size_t size)
{
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    struct api_call *call = cls;
    if (strcmp(key, "input_file") == 0) {
        if (off == 0 && filename && !call->filename[0])
            snprintf(call->filename, sizeof(call->filename), "%s", filename);
        call->have_file = true;
        call->received += (int64_t)size;
        if (call->received > call->api->cfg->api.max_upload_bytes) {
            call->too_large = true;
            return MHD_NO;
        }
        for (size_t done = 0; done < size && !call->write_failed;) {
            ssize_t w = write(call->spool_fd, data + done, size - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                call->write_failed = true;
            else
                done += (size_t)w;
        }
        return call->write_failed ? MHD_NO : MHD_YES;
    }
    char *dst = strcmp(key, "school") == 0      ? call->school
                : strcmp(key, "user_role") == 0 ? call->role
                : strcmp(key, "dryrun") == 0    ? call->dryrun
                                                : NULL;
    if (dst)
        copy_field(dst, data, off, size, &call->bad_form);
    return MHD_YES;
}

static bool is_upload_url(const char *method, const char *url)
{
    return strcmp(method, "POST") == 0 && (strcmp(url, "/api/v1/imports/users/") == 0 ||
                                           strcmp(url, "/api/v1/imports/users") == 0);
}

/* The upload's headers: who, how big, and a private spool file. */
static void refuse_too_large(struct api_call *call)
{
    call->refused = true;
    call->refused_status = MHD_HTTP_CONTENT_TOO_LARGE;
    call->refused_code = "too_large";
    call->refused_retry = 0;
    snprintf(call->refused_message, sizeof(call->refused_message),
             "the upload is larger than the limit of %" PRId64 " bytes",
             call->api->cfg->api.max_upload_bytes);
}

static enum MHD_Result upload_begin(struct api_call *call)
{
    if (!check_login(call)) {
        call->refused = true;
        return MHD_YES;
    }
    const struct api_config *ac = &call->api->cfg->api;
    const char *cl = MHD_lookup_connection_value(call->c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoll(cl, NULL, 10) > ac->max_upload_bytes + POST_BUFFER) {
        refuse_too_large(call);
        return MHD_YES;
    }
    call->pp = MHD_create_post_processor(call->c, POST_BUFFER, post_field, call);
    if (!call->pp)
        return api_reply_error(call, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "the upload must be multipart/form-data", 0);
    char *dir = xasprintf("%s/spool", ac->state_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        log_kv(LEVEL_ERROR, "spool_unwritable", "dir", dir, "error", strerror(errno), NULL);
    call->spool_path = xasprintf("%s/upload-XXXXXX", dir);
    free(dir);
    call->spool_fd = mkostemp(call->spool_path, O_CLOEXEC); /* 0600, a random name */
    if (call->spool_fd < 0) {
        log_kv(LEVEL_ERROR, "spool_unwritable", "path", call->spool_path, "error", strerror(errno),
               NULL);
        free(call->spool_path);
        call->spool_path = NULL;
        return api_reply_error(call, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                               "the server cannot take uploads right now", 60);
    }
    return MHD_YES;
}

/* ---- the request ---- */

static void client_address(struct MHD_Connection *c, char *out, size_t n)
{
    snprintf(out, n, "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)n);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    struct api_server *s = cls;
    struct api_call *call = *state;
    if (!call) {
        call = xcalloc(1, sizeof(*call));
        call->api = s->api;
        call->c = c;
        call->method = method;
        call->url = url;
        call->spool_fd = -1;
        client_address(c, call->address, sizeof(call->address));
        *state = call;
        if (is_upload_url(method, url)) {
            call->is_upload = true;
            return upload_begin(call);
        }
        return MHD_YES;
    }
    if (call->replied) { /* answered already: the rest is not read */
        *upload_size = 0;
        return MHD_YES;
    }
    if (call->refused) {
        call->dropped += (int64_t)*upload_size;
        bool done = *upload_size == 0;
        *upload_size = 0;
        /* Dropping what is sent lets the client read the answer; beyond a bound the answer
         * goes at once and the connection is closed. */
        if (done || call->dropped > 2 * call->api->cfg->api.max_upload_bytes + (1 << 20))
            return reply_refused(call);
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (call->is_upload) {
            if (MHD_post_process(call->pp, upload, *upload_size) != MHD_YES && !call->too_large &&
                !call->write_failed)
                call->bad_form = true;
            *upload_size = 0;
            if (call->too_large)
                refuse_too_large(call);
            return MHD_YES;
        }
        if (call->body_len + *upload_size > API_BODY_MAX) {
            call->body_too_large = true;
        } else {
            call->body = xrealloc(call->body, call->body_len + *upload_size + 1);
            memcpy(call->body + call->body_len, upload, *upload_size);
            call->body_len += *upload_size;
            call->body[call->body_len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (call->body_too_large)
        return api_reply_error(call, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                               "the request body is too large", 0);
    return call->is_upload ? api_route_upload(call) : api_route(call);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct api_call *call = *state;
    if (!call)
        return;
    if (call->pp)
        MHD_destroy_post_processor(call->pp);
    if (call->spool_fd >= 0)
        close(call->spool_fd);
    if (call->spool_path) {
        unlink(call->spool_path);
        free(call->spool_path);
    }
    if (call->body) {
        explicit_bzero(call->body, call->body_len); /* may hold a password */
        free(call->body);
    }
    api_principal_free(&call->who);
    free(call);
    *state = NULL;
}

static char *read_pem(const char *path, char *err, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + got + 1 > cap) {
            cap = 2 * (len + got + 1);
            buf = xrealloc(buf, cap);
        }
        memcpy(buf + len, chunk, got);
        len += got;
    }
    fclose(f);
    if (!buf) {
        snprintf(err, n, "%s: empty", path);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

struct api_server *api_server_start(struct api *api, char *err, size_t n)
{
    const struct api_config *ac = &api->cfg->api;
    struct sockaddr_storage sa;
    size_t salen = 0;
    if (metrics_parse_listen(ac->listen, &sa, &salen, err, n) < 0)
        return NULL;
    struct api_server *s = xcalloc(1, sizeof(*s));
    s->api = api;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (ac->tls_cert) {
        if (!(s->cert = read_pem(ac->tls_cert, err, n)) ||
            !(s->key = read_pem(ac->tls_key, err, n))) {
            api_server_stop(s);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    /* Options common to both; the TLS ones only with TLS (MHD refuses them otherwise). */
    if (ac->tls_cert)
        s->d = MHD_start_daemon(
            flags, 0, NULL, NULL, answer, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)ac->connection_limit,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)ac->per_ip_connection_limit,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ac->connection_timeout_seconds,
            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_HTTPS_MEM_KEY, s->key,
            MHD_OPTION_HTTPS_MEM_CERT, s->cert, MHD_OPTION_END);
    else
        s->d = MHD_start_daemon(
            flags, 0, NULL, NULL, answer, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)ac->connection_limit,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)ac->per_ip_connection_limit,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ac->connection_timeout_seconds,
            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, n,
                 "api: cannot listen on %s (in use, not an address of this host, or a "
                 "certificate or key libmicrohttpd refuses)",
                 ac->listen);
        api_server_stop(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return s;
}

int api_server_port(const struct api_server *s)
{
    return s ? s->port : 0;
}

void api_server_stop(struct api_server *s)
{
    if (!s)
        return;
    if (s->d)
        MHD_stop_daemon(s->d);
    if (s->key)
        explicit_bzero(s->key, strlen(s->key));
    free(s->key);
    free(s->cert);
    free(s);
}
