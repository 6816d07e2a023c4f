/*
 * sisopi-audit history RECORD_UID: one person's messages and events, in time order.
 */
#include <inttypes.h>
#include <stdio.h>

#include "audit.h"
#include "audit_history.h"
#include "avro_codec.h"
#include "cli.h"

struct history_ctx {
    struct audit_history h;
    bool events;
    int64_t messages, undecodable;
};

static int history_one(const rd_kafka_message_t *m, void *opaque)
{
    struct history_ctx *x = opaque;
    char err[256];
    /* Persons' messages and events are keyed by their record_uid: skip the rest undecoded. */
    if (!audit_history_key_matches(&x->h, m->key, m->key_len))
        return 0;
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (x->events) {
        struct event e;
        if (event_decode(m->payload, m->len, &e, err, sizeof(err)) < 0)
            x->undecodable++;
        else if (audit_history_add_event(&x->h, topic, m->partition, m->offset, audit_msg_time(m),
                                         &e))
            x->messages++;
        event_free(&e);
    } else {
        struct users_msg u;
        if (users_msg_decode(m->payload, m->len, &u, err, sizeof(err)) < 0)
            x->undecodable++;
        else if (audit_history_add_users(&x->h, topic, m->partition, m->offset, audit_msg_time(m),
                                         &u))
            x->messages++;
        users_msg_free(&u);
    }
    return 0;
}

int audit_history(const struct config *cfg, const struct audit_args *a)
{
    const char *rid = a->pos[0];
    struct history_ctx x = {0};
    int rc = EXIT_FAILED;
    int64_t n_users;
    audit_history_init(&x.h, rid);
    if (audit_read_topic(cfg, cfg->kafka.topic_users, a, history_one, &x) < 0)
        goto out;
    audit_warn_undecodable(cfg->kafka.topic_users, x.undecodable);
    n_users = x.messages;
    x.events = true;
    x.messages = x.undecodable = 0;
    if (audit_read_topic(cfg, cfg->kafka.topic_events, a, history_one, &x) < 0)
        goto out;
    audit_warn_undecodable(cfg->kafka.topic_events, x.undecodable);
    if (x.h.n == 0) {
        fprintf(stderr, "sisopi-audit: nothing about record_uid \"%s\" on %s or %s\n", rid,
                cfg->kafka.topic_users, cfg->kafka.topic_events);
        goto out;
    }
    audit_history_sort(&x.h);
    if (a->json) {
        audit_history_write_json(&x.h, stdout);
    } else {
        audit_history_write_text(&x.h, stdout);
        printf("history of %s: %" PRId64 " messages on %s, %" PRId64 " events on %s\n", rid,
               n_users, cfg->kafka.topic_users, x.messages, cfg->kafka.topic_events);
    }
    rc = EXIT_OK;
out:
    audit_history_free(&x.h);
    return rc;
}
