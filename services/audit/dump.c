/*
 * sisopi-audit dump: every message of a topic, decoded, one JSON object a line (kcat cannot
 * read Avro single-object encoding).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_text.h"
#include "avro_codec.h"
#include "cli.h"
#include "json_out.h"

struct dump_ctx {
    bool events;
    int64_t messages, undecodable;
};

static int dump_one(const rd_kafka_message_t *m, void *opaque)
{
    struct dump_ctx *d = opaque;
    char err[256];
    struct json_out j;
    d->messages++;
    json_out_init(&j, stdout);
    json_out_begin_object(&j);
    json_out_key(&j, "topic");
    json_out_string(&j, rd_kafka_topic_name(m->rkt));
    json_out_key(&j, "partition");
    json_out_int(&j, m->partition);
    json_out_key(&j, "offset");
    json_out_int(&j, m->offset);
    json_out_key(&j, "key");
    if (m->key) {
        char *key = strndup(m->key, m->key_len);
        json_out_string(&j, key);
        free(key);
    } else {
        json_out_null(&j);
    }
    /* "time" for people (UTC ISO-8601, as every audit command), "timestamp" (epoch ms) for
     * programs, as history --json has them. */
    char when[AUDIT_TIME_SIZE];
    audit_text_time_ms(audit_msg_time(m), when);
    json_out_key(&j, "time");
    json_out_string(&j, when);
    json_out_key(&j, "timestamp");
    json_out_int(&j, audit_msg_time(m));
    int rc;
    if (d->events) {
        struct event e;
        rc = event_decode(m->payload, m->len, &e, err, sizeof(err));
        if (rc == 0) {
            json_out_key(&j, "event");
            json_out_event(&j, &e);
        }
        event_free(&e);
    } else {
        struct users_msg u;
        rc = users_msg_decode(m->payload, m->len, &u, err, sizeof(err));
        if (rc == 0) {
            json_out_key(&j, "message");
            json_out_users_msg(&j, &u);
        }
        users_msg_free(&u);
    }
    if (rc < 0) {
        d->undecodable++;
        json_out_key(&j, "error");
        json_out_string(&j, err);
    }
    json_out_end_object(&j);
    fputc('\n', stdout);
    return 0;
}

int audit_cmd_dump(const struct config *cfg, const struct audit_args *a)
{
    const char *which = a->topic ? a->topic : "users";
    /* A short name or a topic's own name; only the events topic holds Event messages. */
    const char *topic = strcmp(which, "users") == 0    ? cfg->kafka.topic_users
                        : strcmp(which, "dlq") == 0    ? cfg->kafka.topic_dlq
                        : strcmp(which, "events") == 0 ? cfg->kafka.topic_events
                                                       : which;
    struct dump_ctx d = {.events = strcmp(topic, cfg->kafka.topic_events) == 0};
    if (audit_read_topic(cfg, topic, a, dump_one, &d) < 0)
        return EXIT_FAILED;
    fflush(stdout);
    fprintf(stderr, "sisopi-audit: %s: %" PRId64 " messages, %" PRId64 " undecodable\n", topic,
            d.messages, d.undecodable);
    return d.undecodable ? EXIT_WITH_ERRORS : EXIT_OK;
}
