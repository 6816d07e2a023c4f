/*
 * json_out: a tiny streaming JSON writer, and the one-line JSON view of sisopi.users and
 * sisopi.events messages that the dump tool and sisopi-audit print.
 */
#ifndef SISOPI_JSON_OUT_H
#define SISOPI_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "records.h"

#define JSON_OUT_MAX_DEPTH 16

/* Writer state: tracks where a comma is due. Nesting deeper than JSON_OUT_MAX_DEPTH is a
 * programming error and is ignored (the output stays well-formed up to that depth). */
struct json_out {
    FILE *f;
    int depth;
    bool need_comma[JSON_OUT_MAX_DEPTH + 1];
    bool after_key;
};

void json_out_init(struct json_out *j, FILE *f);
void json_out_begin_object(struct json_out *j);
void json_out_end_object(struct json_out *j);
void json_out_begin_array(struct json_out *j);
void json_out_end_array(struct json_out *j);
void json_out_key(struct json_out *j, const char *key);
/* s == NULL writes null. Control characters are escaped, valid UTF-8 passes through, and each
 * byte of invalid UTF-8 becomes U+FFFD, so the output is always valid JSON. */
void json_out_string(struct json_out *j, const char *s);
void json_out_int(struct json_out *j, int64_t v);
void json_out_bool(struct json_out *j, bool v);
void json_out_null(struct json_out *j);
/* "k": [v[0], ..., v[n-1]] (strings). */
void json_out_string_array(struct json_out *j, const char *k, char *const *v, size_t n);

/* A JSON string literal of s (NULL writes null), or of the n bytes at s (which may hold NUL
 * bytes, written as \u0000: Kafka keys; NULL writes null). Same escaping as json_out_string().
 * For writers that build their JSON by hand, as log.c does. */
void json_write_string(FILE *f, const char *s);
void json_write_stringn(FILE *f, const char *s, size_t n);

/* The message as one JSON object value inside a writer (no newline): to embed it in a larger
 * object, e.g. {"topic":...,"offset":...,"message":{...}}. */
void json_out_users_msg(struct json_out *j, const struct users_msg *m);
void json_out_event(struct json_out *j, const struct event *e);

/* One JSON object and a newline. Field names as in schemas/users.v1.avsc and events.v1.avsc,
 * timestamps in Unix milliseconds, "type" the body record or event type name. The password
 * hash is never printed: "password_hash" is "(redacted)" or null. */
void users_msg_to_json(const struct users_msg *m, FILE *f);
void event_to_json(const struct event *e, FILE *f);

#endif
