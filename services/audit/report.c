/*
 * sisopi-audit report IMPORT_ID: the reference's summary of one import, from the events and
 * the import's records; as a table, as JSON, or as the summary CSV (to stdout or a 0600 file).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "audit_report.h"
#include "avro_codec.h"
#include "cli.h"

struct report_ctx {
    struct audit_report *r;
    bool events;
    int64_t undecodable;
};

static int report_one(const rd_kafka_message_t *m, void *opaque)
{
    struct report_ctx *x = opaque;
    char err[256];
    if (x->events) {
        struct event e;
        if (event_decode(m->payload, m->len, &e, err, sizeof(err)) < 0)
            x->undecodable++;
        else
            audit_report_event(x->r, &e);
        event_free(&e);
    } else {
        struct users_msg u;
        if (users_msg_decode(m->payload, m->len, &u, err, sizeof(err)) < 0)
            x->undecodable++;
        else
            audit_report_users(x->r, &u, m->partition, m->offset);
        users_msg_free(&u);
    }
    return 0;
}

/* The CSV into path, created or truncated with mode 0600 (fchmod too: an existing file may
 * have been readable by others). 0, or -1 with the reason printed. */
static int write_csv_file(struct audit_report *r, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fchmod(fd, 0600) < 0) {
        fprintf(stderr, "sisopi-audit: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        fprintf(stderr, "sisopi-audit: %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    int rc = audit_report_write_csv(r, f);
    if (fclose(f) != 0)
        rc = -1;
    if (rc < 0)
        fprintf(stderr, "sisopi-audit: %s: could not be written completely\n", path);
    return rc;
}

int audit_report(const struct config *cfg, const struct audit_args *a)
{
    const char *import_id = a->pos[0];
    struct report_ctx x = {.r = audit_report_new(import_id), .events = true};
    int rc = EXIT_FAILED;
    /* Events first: they decide the rows; the records then fill them in. */
    if (audit_read_topic(cfg, cfg->kafka.topic_events, a, report_one, &x) < 0)
        goto out;
    audit_warn_undecodable(cfg->kafka.topic_events, x.undecodable);
    x.events = false;
    x.undecodable = 0;
    if (audit_read_topic(cfg, cfg->kafka.topic_users, a, report_one, &x) < 0)
        goto out;
    audit_warn_undecodable(cfg->kafka.topic_users, x.undecodable);
    if (!audit_report_known(x.r)) {
        fprintf(stderr, "sisopi-audit: import %s: unknown (no message or event names it)\n",
                import_id);
        goto out;
    }
    if (a->output) {
        if (write_csv_file(x.r, a->output) < 0)
            goto out;
        audit_report_write_totals(x.r, stdout, a->json);
    } else if (a->csv) {
        if (audit_report_write_csv(x.r, stdout) < 0)
            goto out;
    } else if (a->json) {
        audit_report_write_json(x.r, stdout);
    } else {
        audit_report_write_text(x.r, stdout);
    }
    rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
out:
    audit_report_free(x.r);
    return rc;
}
