/*
 * What the audit commands share: reading a topic with the --timeout, timestamps, warnings.
 */
#include <inttypes.h>
#include <stdio.h>

#include "audit.h"

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
