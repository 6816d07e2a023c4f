/*
 * sisopi-audit imports: every import the topics know of, with its state and counts.
 */
#include <inttypes.h>
#include <stdio.h>

#include "audit.h"
#include "audit_imports.h"
#include "audit_text.h"
#include "cli.h"
#include "json_out.h"

static void imports_one(const rd_kafka_message_t *m, struct users_msg *u, struct event *e,
                        void *opaque)
{
    struct audit_imports *agg = opaque;
    if (e)
        audit_imports_event(agg, e, audit_msg_time(m));
    else
        audit_imports_users(agg, u, m->partition, audit_msg_time(m));
}

static void counts_json(struct json_out *j, const struct import_counts *c)
{
    const char *k[] = {"records", "created", "modified", "unchanged", "removed", "limbo", "errors"};
    const int64_t v[] = {c->records, c->created, c->modified, c->unchanged,
                         c->removed, c->limbo,   c->errors};
    json_out_begin_object(j);
    for (size_t i = 0; i < 7; i++) {
        json_out_key(j, k[i]);
        json_out_int(j, v[i]);
    }
    json_out_end_object(j);
}

static void import_json(const struct audit_import *im)
{
    struct json_out j;
    char t[AUDIT_TIME_SIZE];
    audit_text_time_ms(im->time_ms, t);
    json_out_init(&j, stdout);
    json_out_begin_object(&j);
    json_out_key(&j, "import_id");
    json_out_string(&j, im->import_id);
    json_out_key(&j, "school");
    json_out_string(&j, im->school);
    json_out_key(&j, "role");
    json_out_string(&j, im->has_role ? role_name(im->role) : NULL);
    json_out_key(&j, "source_uid");
    json_out_string(&j, im->source_uid);
    json_out_key(&j, "time");
    json_out_string(&j, t);
    json_out_key(&j, "time_ms");
    json_out_int(&j, im->time_ms);
    json_out_key(&j, "dry_run");
    json_out_bool(&j, im->dry_run);
    json_out_key(&j, "state");
    json_out_string(&j, audit_import_state_name(im->state));
    json_out_key(&j, "partitions");
    json_out_int(&j, im->partition_count);
    json_out_key(&j, "reported");
    json_out_int(&j, im->reported);
    json_out_key(&j, "markers");
    json_out_int(&j, im->markers);
    json_out_key(&j, "published");
    json_out_int(&j, im->published);
    json_out_key(&j, "counts");
    counts_json(&j, &im->counts);
    json_out_end_object(&j);
    fputc('\n', stdout);
}

static void imports_text(struct audit_import *const *v, size_t n)
{
    printf("%-24s  %-36s  %-10s  %-17s  %-12s  %-3s  %-10s  %5s  %7s  %7s  %8s  %9s  %7s  %5s  "
           "%6s\n",
           "TIME", "IMPORT_ID", "SCHOOL", "ROLE", "SOURCE", "DRY", "STATE", "PARTS", "RECORDS",
           "CREATED", "MODIFIED", "UNCHANGED", "REMOVED", "LIMBO", "ERRORS");
    for (size_t i = 0; i < n; i++) {
        const struct audit_import *im = v[i];
        const struct import_counts *c = &im->counts;
        char t[AUDIT_TIME_SIZE], parts[32];
        audit_text_time_ms(im->time_ms, t);
        snprintf(parts, sizeof(parts), "%d/%d", im->reported, im->partition_count);
        printf("%-24s  ", t);
        audit_text_put(stdout, im->import_id, 36);
        fputs("  ", stdout);
        audit_text_put(stdout, im->school ? im->school : "?", 10);
        fputs("  ", stdout);
        audit_text_put(stdout, im->has_role ? role_name(im->role) : "?", 17);
        fputs("  ", stdout);
        audit_text_put(stdout, im->source_uid ? im->source_uid : "?", 12);
        printf("  %-3s  %-10s  %5s  %7" PRId64 "  %7" PRId64 "  %8" PRId64 "  %9" PRId64
               "  %7" PRId64 "  %5" PRId64 "  %6" PRId64 "\n",
               im->dry_run ? "yes" : "no", audit_import_state_name(im->state), parts, c->records,
               c->created, c->modified, c->unchanged, c->removed, c->limbo, c->errors);
    }
    printf("imports: %zu\n", n);
}

int audit_cmd_imports(const struct config *cfg, const struct audit_args *a)
{
    struct audit_imports *agg = audit_imports_new(cfg->kafka.partitions);
    int rc = EXIT_FAILED;
    if (audit_read_decoded(cfg, cfg->kafka.topic_users, a, NULL, imports_one, agg) < 0 ||
        audit_read_decoded(cfg, cfg->kafka.topic_events, a, NULL, imports_one, agg) < 0)
        goto out;
    size_t n;
    struct audit_import **v = audit_imports_result(agg, &n);
    if (a->json) {
        for (size_t i = 0; i < n; i++)
            import_json(v[i]);
    } else {
        imports_text(v, n);
    }
    rc = EXIT_OK;
out:
    audit_imports_free(agg);
    return rc;
}
