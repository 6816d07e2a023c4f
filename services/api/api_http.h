/*
 * api_http: what the server (api_server.c: libmicrohttpd, requests, bodies, uploads, replies)
 * and the endpoints (api_routes.c) share. One struct api_call per request.
 */
#ifndef SISOPI_API_HTTP_H
#define SISOPI_API_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "api_auth.h"

#define API_FIELD_MAX 256 /* a form field other than the file */
#define API_BODY_MAX  65536

struct api_call {
    struct api *api;
    struct MHD_Connection *c;
    const char *method, *url;
    char address[64]; /* the client's, for the failed-login limits and logs */
    /* A JSON or form body (not the upload), NUL-terminated. */
    char *body;
    size_t body_len;
    bool body_too_large;
    /* The upload (POST /api/v1/imports/users/). */
    bool is_upload;
    struct MHD_PostProcessor *pp;
    int spool_fd;
    char *spool_path;
    bool have_file;
    int64_t received; /* bytes of the file */
    bool too_large, write_failed, bad_form;
    char school[API_FIELD_MAX + 1], role[API_FIELD_MAX + 1], dryrun[API_FIELD_MAX + 1];
    char filename[API_FIELD_MAX + 1];
    /* Who calls, once authenticated. */
    bool authed;
    struct api_principal who;
    char token[API_TOKEN_LEN + 1]; /* the Bearer token used, if any */
    bool replied;
    /* An upload refused before its body: the body is read and dropped (a client that is
     * still sending would not see an early answer), then this is the answer. */
    bool refused;
    unsigned refused_status;
    const char *refused_code;
    char refused_message[256];
    int refused_retry;
    int64_t dropped;
};

/* Replies (each queues the response and returns MHD's result). body is copied. */
enum MHD_Result api_reply(struct api_call *call, unsigned status, const char *type,
                          const void *body, size_t len);
/* {"error": code, "message": message}; 401 adds WWW-Authenticate, 429/503 Retry-After
 * (retry_after seconds, 0: a default). */
enum MHD_Result api_reply_error(struct api_call *call, unsigned status, const char *code,
                                const char *message, int retry_after);
/* As api_reply, with extra header pairs (name, value, ..., NULL). */
enum MHD_Result api_reply_headers(struct api_call *call, unsigned status, const char *type,
                                  const void *body, size_t len, ...) __attribute__((sentinel));

/* Authenticates the call (Basic or Bearer) unless it was. Returns true, or false after
 * queueing the error reply into *ret. */
bool api_authenticate(struct api_call *call, enum MHD_Result *ret);

/* The endpoints: called once the whole request is in. */
enum MHD_Result api_route(struct api_call *call);

/* The upload's own endpoint, also once the whole request is in. */
enum MHD_Result api_route_upload(struct api_call *call);

#endif
