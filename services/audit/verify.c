/*
 * sisopi-audit verify: the directory against what the topic history implies. Reads the
 * events (the state machine), the dead letters (records never applied), the records (the
 * classes), then every person sisopi manages in the directory, with the groups that hold it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_expect.h"
#include "audit_text.h"
#include "cli.h"
#include "dir_conn.h"
#include "json_out.h"
#include "kafka_client.h"
#include "person_ldap.h"

struct verify_ctx {
    const struct config *cfg;
    struct audit_expect *x;
    bool json;
    size_t differences;
};

/* The dead letter's origin, when it came from the users topic. */
static void dead_letter(struct verify_ctx *c, const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t len;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, "sisopi-topic", &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR || !v ||
        len != strlen(c->cfg->kafka.topic_users) || memcmp(v, c->cfg->kafka.topic_users, len) != 0)
        return;
    int64_t p = kafka_header_num(m, "sisopi-partition"), o = kafka_header_num(m, "sisopi-offset");
    if (p >= 0 && o >= 0)
        audit_expect_dead_letter(c->x, (int32_t)p, o);
}

static int dlq_one(const rd_kafka_message_t *m, void *opaque)
{
    dead_letter(opaque, m);
    return 0;
}

static void history_one(const rd_kafka_message_t *m, struct users_msg *u, struct event *e,
                        void *opaque)
{
    struct verify_ctx *c = opaque;
    if (e)
        audit_expect_event(c->x, e);
    else if (u->type == USERS_MSG_USER_RECORD)
        audit_expect_record(c->x, &u->u.user, m->partition, m->offset);
}

static void print_diff(const struct audit_diff *d, void *opaque)
{
    struct verify_ctx *c = opaque;
    c->differences++;
    if (c->json) {
        struct json_out j;
        json_out_init(&j, stdout);
        json_out_begin_object(&j);
        json_out_key(&j, "kind");
        json_out_string(&j, "difference");
        json_out_key(&j, "record_uid");
        json_out_string(&j, d->record_uid);
        json_out_key(&j, "field");
        json_out_string(&j, d->field);
        json_out_key(&j, "expected");
        json_out_string(&j, d->expected);
        json_out_key(&j, "directory");
        json_out_string(&j, d->actual);
        json_out_end_object(&j);
        fputc('\n', stdout);
        return;
    }
    audit_text_put(stdout, d->record_uid, 0);
    printf(" %s: expected ", d->field);
    audit_text_put(stdout, d->expected, 0);
    fputs(", directory has ", stdout);
    audit_text_put(stdout, d->actual, 0);
    fputc('\n', stdout);
}

/* Besides what the history implies: the groups must hold the person as it is (Domain Users
 * and the role groups of its schools, its classes; by DN and by uid; none in limbo), which no
 * event records but every change keeps. */
static int on_person(const struct person *p, const struct person_ldap_groups *g, void *opaque)
{
    struct verify_ctx *c = opaque;
    audit_expect_compare(c->x, p, print_diff, c);
    if (g->missing || g->extra || g->stale) {
        struct audit_diff d = {.record_uid = p->record_uid,
                               .field = "groups",
                               .expected = "its groups by DN and uid, no others",
                               .actual = g->detail};
        print_diff(&d, c);
    }
    return 0;
}

/* Events, then dead letters (records never applied), then the records. */
static int read_history(struct verify_ctx *c, const struct config *cfg, const struct audit_args *a)
{
    if (audit_read_decoded(cfg, cfg->kafka.topic_events, a, NULL, history_one, c) < 0 ||
        audit_read_topic(cfg, cfg->kafka.topic_dlq, a, dlq_one, c) < 0)
        return -1;
    return audit_read_decoded(cfg, cfg->kafka.topic_users, a, NULL, history_one, c);
}

int audit_cmd_verify(const struct config *cfg, const struct audit_args *a)
{
    struct verify_ctx c = {.cfg = cfg, .x = audit_expect_new(), .json = a->json};
    struct dir_conn *conn = NULL;
    char err[512];
    int rc = EXIT_FAILED;
    if (read_history(&c, cfg, a) < 0)
        goto out;
    if (dir_conn_open(cfg, &conn, err, sizeof(err)) != LDAP_SUCCESS) {
        fprintf(stderr, "sisopi-audit: %s\n", err);
        goto out;
    }
    if (person_ldap_scan(conn, cfg, NULL, on_person, &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "sisopi-audit: reading the directory: %s\n", err);
        goto out;
    }
    audit_expect_missing(c.x, print_diff, &c);
    size_t checked = audit_expect_checked(c.x);
    if (a->json) {
        printf("{\"kind\":\"summary\",\"persons\":%zu,\"differences\":%zu}\n", checked,
               c.differences);
    } else {
        printf("verify: %zu persons checked, %zu differences\n", checked, c.differences);
    }
    rc = c.differences ? AUDIT_EXIT_DRIFT : EXIT_OK;
out:
    fflush(stdout);
    dir_conn_close(conn);
    audit_expect_free(c.x);
    return rc;
}
