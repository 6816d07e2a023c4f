/*
 * sisopi-audit history RECORD_UID: one person's messages and events, in time order.
 */
#include <inttypes.h>
#include <stdio.h>

#include "audit.h"
#include "audit_history.h"
#include "cli.h"

struct history_ctx {
    struct audit_history h;
    int64_t messages;
};

/* Persons' messages and events are keyed by their record_uid: skip the rest undecoded. */
static bool history_keep(const rd_kafka_message_t *m, void *opaque)
{
    struct history_ctx *x = opaque;
    return audit_history_key_matches(&x->h, m->key, m->key_len);
}

static void history_one(const rd_kafka_message_t *m, struct users_msg *u, struct event *e,
                        void *opaque)
{
    struct history_ctx *x = opaque;
    const char *topic = rd_kafka_topic_name(m->rkt);
    int64_t t = audit_msg_time(m);
    if (e ? audit_history_add_event(&x->h, topic, m->partition, m->offset, t, e)
          : audit_history_add_users(&x->h, topic, m->partition, m->offset, t, u))
        x->messages++;
}

int audit_cmd_history(const struct config *cfg, const struct audit_args *a)
{
    const char *rid = a->pos[0];
    struct history_ctx x = {0};
    int rc = EXIT_FAILED;
    int64_t n_users;
    audit_history_init(&x.h, rid);
    if (audit_read_decoded(cfg, cfg->kafka.topic_users, a, history_keep, history_one, &x) < 0)
        goto out;
    n_users = x.messages;
    x.messages = 0;
    if (audit_read_decoded(cfg, cfg->kafka.topic_events, a, history_keep, history_one, &x) < 0)
        goto out;
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
