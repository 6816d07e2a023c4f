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
#include "cli.h"

static void report_one(const rd_kafka_message_t *m, struct users_msg *u, struct event *e,
                       void *opaque)
{
    if (e)
        audit_report_event(opaque, e);
    else
        audit_report_users(opaque, u, m->partition, m->offset);
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

int audit_cmd_report(const struct config *cfg, const struct audit_args *a)
{
    const char *import_id = a->pos[0];
    struct audit_report *r = audit_report_new(import_id);
    int rc = EXIT_FAILED;
    /* Events first: they decide the rows; the records then fill them in. */
    if (audit_read_decoded(cfg, cfg->kafka.topic_events, a, NULL, report_one, r) < 0 ||
        audit_read_decoded(cfg, cfg->kafka.topic_users, a, NULL, report_one, r) < 0)
        goto out;
    if (!audit_report_known(r)) {
        fprintf(stderr, "sisopi-audit: import %s: unknown (no message or event names it)\n",
                import_id);
        goto out;
    }
    if (a->output) {
        if (write_csv_file(r, a->output) < 0)
            goto out;
        audit_report_write_totals(r, stdout, a->json);
    } else if (a->csv) {
        if (audit_report_write_csv(r, stdout) < 0)
            goto out;
    } else if (a->json) {
        audit_report_write_json(r, stdout);
    } else {
        audit_report_write_text(r, stdout);
    }
    rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
out:
    audit_report_free(r);
    return rc;
}
