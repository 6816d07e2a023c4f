/*
 * What the audit commands share: reading a topic with the --timeout, timestamps, warnings.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "avro_codec.h"

int audit_read_topic(const struct config *cfg, const char *topic, const struct audit_args *a,
                     topic_reader_cb cb, void *opaque)
{
    char err[512];
    int rc = topic_read_all(cfg, topic, a->timeout_s * 1000, cb, opaque, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "sisopi-audit: %s\n", err);
        return -1;
    }
    return rc;
}

int64_t audit_msg_time(const rd_kafka_message_t *m)
{
    return rd_kafka_message_timestamp(m, NULL);
}

void audit_warn_undecodable(const char *topic, int64_t n)
{
    if (n > 0)
        fprintf(stderr,
                "sisopi-audit: warning: %" PRId64 " messages of %s could not be decoded and were "
                "left out (see: sisopi-audit dump)\n",
                n, topic);
}

struct decoded_read {
    bool events;
    audit_keep_cb keep;
    audit_decoded_cb cb;
    void *opaque;
    int64_t undecodable;
};

static int decode_one(const rd_kafka_message_t *m, void *opaque)
{
    struct decoded_read *d = opaque;
    char err[256];
    if (d->keep && !d->keep(m, d->opaque))
        return 0;
    if (d->events) {
        struct event e;
        if (event_decode(m->payload, m->len, &e, err, sizeof(err)) < 0)
            d->undecodable++;
        else
            d->cb(m, NULL, &e, d->opaque);
        event_free(&e);
    } else {
        struct users_msg u;
        if (users_msg_decode(m->payload, m->len, &u, err, sizeof(err)) < 0)
            d->undecodable++;
        else
            d->cb(m, &u, NULL, d->opaque);
        users_msg_free(&u);
    }
    return 0;
}

int audit_read_decoded(const struct config *cfg, const char *topic, const struct audit_args *a,
                       audit_keep_cb keep, audit_decoded_cb cb, void *opaque)
{
    struct decoded_read d = {.events = strcmp(topic, cfg->kafka.topic_events) == 0,
                             .keep = keep,
                             .cb = cb,
                             .opaque = opaque};
    if (audit_read_topic(cfg, topic, a, decode_one, &d) < 0)
        return -1;
    audit_warn_undecodable(topic, d.undecodable);
    return 0;
}
