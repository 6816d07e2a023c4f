/*
 * sisopi-admin dlq replay: reads the dead-letter topic without a consumer group
 * (topic_reader), and sends each selected dead letter's key and value back to the partition
 * of sisopi.users its headers say it came from, with the idempotent producer. Only messages
 * of the configured users topic go back; a stub (sent without its value) cannot, nor one whose
 * key came again after its original (it would undo the newer message, or be applied twice).
 * Every dead letter gets one line saying what was done with it, and the exit code says
 * whether all were.
 */
#include "dlq.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "kafka_client.h"
#include "log.h"
#include "partitioner.h"
#include "strutil.h"
#include "topic_reader.h"

enum verdict {
    V_SEND,    /* replayable: sent, or would be with --dry-run */
    V_STUB,    /* sent to the dead-letter topic without its value: nothing to replay */
    V_REFUSED, /* not a dead letter of the users topic, its origin unreadable, or its key
                  came again after it */
};

/* One dead letter as read, and what became of it. */
struct letter {
    int32_t dlq_partition;
    int64_t dlq_offset;
    char *key; /* NULL: the message had no key */
    size_t key_len;
    char *value; /* NULL: no value (a null value stays null) */
    size_t len;
    char *topic, *error, *omitted; /* headers sisopi-topic, -error, -value-omitted; NULL absent */
    int64_t partition, offset;     /* sisopi-partition, -offset; -1 absent or not a number */
    enum verdict verdict;
    char note[320];       /* why it is refused or a stub, or a warning for one that is sent */
    int64_t newer;        /* a later message of the same key in its partition, or -1 */
    bool newer_is_replay; /* ... and that one is this dead letter, replayed already */
    bool delivered, reported;
    int64_t new_offset;
    char delivery_error[160];
};

struct selection {
    struct letter *v;
    size_t n;
    int64_t offset; /* --offset N, or -1 for --all */
};

static char *memdup_nul(const void *p, size_t n)
{
    char *s = xmalloc(n + 1);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* s with control characters as '?': header text goes to a terminal as it is. */
static char *printable(char *s)
{
    for (char *c = s; c && *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    }
    return s;
}

static int collect(const rd_kafka_message_t *m, void *opaque)
{
    struct selection *sel = opaque;
    if (sel->offset >= 0 && m->offset != sel->offset)
        return m->offset > sel->offset; /* past it: it is not there (deleted, compacted) */
    sel->v = xrealloc(sel->v, (sel->n + 1) * sizeof(*sel->v));
    struct letter *l = &sel->v[sel->n++];
    memset(l, 0, sizeof(*l));
    l->newer = -1;
    l->dlq_partition = m->partition;
    l->dlq_offset = m->offset;
    if (m->key) {
        l->key = memdup_nul(m->key, m->key_len);
        l->key_len = m->key_len;
    }
    if (m->payload) {
        l->value = memdup_nul(m->payload, m->len);
        l->len = m->len;
    }
    l->topic = printable(kafka_header_text(m, "sisopi-topic"));
    l->error = kafka_header_text(m, "sisopi-error"); /* printed quoted */
    l->omitted = printable(kafka_header_text(m, "sisopi-value-omitted"));
    l->partition = kafka_header_num(m, "sisopi-partition");
    l->offset = kafka_header_num(m, "sisopi-offset");
    return sel->offset >= 0; /* the one asked for: stop */
}

static void selection_free(struct selection *sel)
{
    for (size_t i = 0; i < sel->n; i++) {
        struct letter *l = &sel->v[i];
        free(l->key);
        free(l->value);
        free(l->topic);
        free(l->error);
        free(l->omitted);
    }
    free(sel->v);
}

/* Whether and where a dead letter can go back: sets verdict and note. */
static void judge(const struct config *cfg, struct letter *l)
{
    const char *users = cfg->kafka.topic_users;
    int32_t parts = cfg->kafka.partitions;
    l->verdict = V_REFUSED;
    if (!l->topic) {
        snprintf(l->note, sizeof(l->note),
                 "no sisopi-topic header: not a dead letter of sisopi-reconciler");
    } else if (strcmp(l->topic, users) != 0) {
        snprintf(l->note, sizeof(l->note),
                 "it came from %s; only %s (kafka.topics.users) is replayed", l->topic, users);
    } else if (l->omitted) {
        l->verdict = V_STUB;
        snprintf(l->note, sizeof(l->note),
                 "dead-lettered without its value, nothing to re-send (%s)", l->omitted);
    } else if (l->partition < 0 || l->partition >= parts) {
        snprintf(l->note, sizeof(l->note),
                 "its sisopi-partition header is missing or not a partition of %s (0 to %" PRId32
                 ")",
                 users, parts - 1);
    } else if (l->offset < 0) {
        snprintf(l->note, sizeof(l->note), "its sisopi-offset header is missing or not a number");
    } else {
        l->verdict = V_SEND;
        if (!l->key) {
            snprintf(l->note, sizeof(l->note), "it has no key");
        } else {
            int32_t kp = partitioner_partition(l->key, l->key_len, parts);
            if (kp != l->partition)
                snprintf(l->note, sizeof(l->note),
                         "its key belongs in partition %" PRId32 ", not %" PRId64
                         ": sent where it was, the reconciler will refuse it again",
                         kp, l->partition);
        }
    }
}

/* Where this dead letter's replay is marked as coming from (header sisopi-replay-of). */
static void replay_mark(const struct config *cfg, const struct letter *l, char *buf, size_t n)
{
    snprintf(buf, n, "%s[%" PRId32 "]@%" PRId64, cfg->kafka.topic_dlq, l->dlq_partition,
             l->dlq_offset);
}

struct later_ctx {
    const struct config *cfg;
    struct selection *sel;
};

/* A message of the users topic after some dead letters' originals: noted on every replayable
 * one of its partition and key that came before it. */
static int note_later(const rd_kafka_message_t *m, void *opaque)
{
    struct later_ctx *x = opaque;
    char *mark = NULL;
    for (size_t i = 0; i < x->sel->n; i++) {
        struct letter *l = &x->sel->v[i];
        if (l->verdict != V_SEND || !l->key || l->partition != m->partition ||
            m->offset <= l->offset || !m->key || m->key_len != l->key_len ||
            memcmp(m->key, l->key, l->key_len) != 0)
            continue;
        if (!mark)
            mark = kafka_header_text(m, "sisopi-replay-of");
        char mine[300];
        replay_mark(x->cfg, l, mine, sizeof(mine));
        l->newer = m->offset;
        l->newer_is_replay = mark && strcmp(mark, mine) == 0;
    }
    free(mark);
    return 0;
}

/*
 * A person's message sent again after a newer one of the same person would undo the newer
 * (and a dead letter replayed twice would be applied twice): reads each partition from the
 * earliest original to its end and refuses the replayable dead letters whose key came again.
 * Returns 0, or -1 after saying why.
 */
static int refuse_superseded(const struct config *cfg, struct selection *sel, int timeout_ms)
{
    int32_t parts = cfg->kafka.partitions, *pv = xcalloc((size_t)parts, sizeof(int32_t));
    int64_t *from = xcalloc((size_t)parts, sizeof(int64_t));
    size_t n = 0;
    for (int32_t p = 0; p < parts; p++) {
        int64_t first = -1;
        for (size_t i = 0; i < sel->n; i++) {
            const struct letter *l = &sel->v[i];
            if (l->verdict == V_SEND && l->key && l->partition == p &&
                (first < 0 || l->offset < first))
                first = l->offset;
        }
        if (first >= 0) {
            pv[n] = p;
            from[n++] = first + 1;
        }
    }
    char err[512];
    struct later_ctx x = {cfg, sel};
    int rc = topic_read_partitions(cfg, cfg->kafka.topic_users, pv, from, n, NULL, NULL, timeout_ms,
                                   note_later, &x, err, sizeof(err));
    free(pv);
    free(from);
    if (rc < 0) {
        fprintf(stderr, "sisopi-admin: reading %s for newer messages of the same keys: %s\n",
                cfg->kafka.topic_users, err);
        return -1;
    }
    for (size_t i = 0; i < sel->n; i++) {
        struct letter *l = &sel->v[i];
        if (l->verdict != V_SEND || l->newer < 0)
            continue;
        l->verdict = V_REFUSED;
        if (l->newer_is_replay)
            snprintf(l->note, sizeof(l->note), "replayed already, as %s[%" PRId64 "]@%" PRId64,
                     cfg->kafka.topic_users, l->partition, l->newer);
        else
            snprintf(l->note, sizeof(l->note),
                     "a newer message of this key is at %s[%" PRId64 "]@%" PRId64
                     ": sent again, this one would undo it",
                     cfg->kafka.topic_users, l->partition, l->newer);
    }
    return 0;
}

/* Text for one line: quoted, with control characters, quotes and backslashes as \xHH. */
static void print_quoted(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void print_line(const struct config *cfg, const struct letter *l, bool dry_run)
{
    printf("%s[%" PRId32 "]@%" PRId64 "  %s[%" PRId64 "]@%" PRId64 "  key=", cfg->kafka.topic_dlq,
           l->dlq_partition, l->dlq_offset, l->topic ? l->topic : "?", l->partition, l->offset);
    if (l->key)
        print_quoted(stdout, l->key, l->key_len);
    else
        fputs("(none)", stdout);
    fputs("  error=", stdout);
    if (l->error)
        print_quoted(stdout, l->error, strlen(l->error));
    else
        fputs("(none)", stdout);
    fputs("  ", stdout);
    switch (l->verdict) {
    case V_SEND:
        if (dry_run)
            printf("would replay to %s[%" PRId64 "] (dry run)", cfg->kafka.topic_users,
                   l->partition);
        else if (l->delivered)
            printf("replayed as %s[%" PRId64 "]@%" PRId64, cfg->kafka.topic_users, l->partition,
                   l->new_offset);
        else
            printf("FAILED: %s", l->delivery_error);
        if (l->note[0])
            printf("; note: %s", l->note);
        break;
    case V_STUB:
        printf("NOT REPLAYABLE: %s", l->note);
        break;
    case V_REFUSED:
        printf("REFUSED: %s", l->note);
        break;
    }
    fputc('\n', stdout);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct letter *l = m->_private;
    if (!l)
        return;
    l->reported = true;
    if (m->err) {
        snprintf(l->delivery_error, sizeof(l->delivery_error), "not delivered: %s",
                 rd_kafka_err2str(m->err));
        return;
    }
    l->delivered = true;
    l->new_offset = m->offset;
}

/* Produces l's key and value to its partition of the users topic, marked with where it was
 * replayed from. Returns 0, or -1 with l->delivery_error. */
static int send_one(rd_kafka_t *rk, const struct config *cfg, struct letter *l, int64_t deadline)
{
    char from[300];
    replay_mark(cfg, l, from, sizeof(from));
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "sisopi-replay-of", -1, from, -1);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(cfg->kafka.topic_users),
            RD_KAFKA_V_PARTITION((int32_t)l->partition), RD_KAFKA_V_KEY(l->key, l->key_len),
            RD_KAFKA_V_VALUE(l->value, l->len), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(l), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0; /* the headers are librdkafka's now */
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || clock_mono_ms() > deadline) {
            rd_kafka_headers_destroy(h);
            snprintf(l->delivery_error, sizeof(l->delivery_error), "cannot produce to %s: %s",
                     cfg->kafka.topic_users, rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(rk, 50);
    }
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "sisopi-admin: dlq replay: %s (see --help)\n", msg);
    return EXIT_USAGE;
}

struct options {
    int64_t offset;    /* --offset N, or -1 */
    int32_t partition; /* --partition P, or -1 */
    bool all, dry_run;
    int timeout_ms;
};

static int parse(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"offset", required_argument, NULL, 'o'},    {"all", no_argument, NULL, 'a'},
        {"partition", required_argument, NULL, 'p'}, {"dry-run", no_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},   {NULL, 0, NULL, 0}};
    *o = (struct options){.offset = -1, .partition = -1, .timeout_ms = 30000};
    if (argc < 2 || strcmp(argv[1], "replay") != 0)
        return usage_error("say replay");
    argc--, argv++;
    optind = 1;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (cli_number("admin", "offset", optarg, 0, LONG_MAX, &v) < 0)
                return EXIT_USAGE;
            o->offset = v;
            break;
        case 'p':
            if (cli_number("admin", "partition", optarg, 0, INT32_MAX, &v) < 0)
                return EXIT_USAGE;
            o->partition = (int32_t)v;
            break;
        case 'a':
            o->all = true;
            break;
        case 'n':
            o->dry_run = true;
            break;
        case 't':
            if (cli_number("admin", "timeout", optarg, 1, 3600, &v) < 0)
                return EXIT_USAGE;
            o->timeout_ms = (int)v * 1000;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return usage_error("unexpected argument");
    if (o->all == (o->offset >= 0))
        return usage_error(o->all ? "--offset and --all exclude each other"
                                  : "say which dead letters: --offset N --partition P, or --all");
    if (o->offset >= 0 && o->partition < 0)
        return usage_error("--offset N needs --partition P: offsets count per partition of the "
                           "dead-letter topic (--all --dry-run lists both)");
    return CLI_GO_ON;
}

/* Reads the selected dead letters into sel. Returns 0, or -1 after saying why. */
static int read_selection(const struct config *cfg, rd_kafka_t *rk, const struct options *o,
                          struct selection *sel)
{
    char err[512];
    const char *dlq = cfg->kafka.topic_dlq;
    int parts = kafka_topic_partitions(rk, dlq, o->timeout_ms, err, sizeof(err));
    if (parts <= 0) {
        if (parts == 0)
            fprintf(stderr,
                    "sisopi-admin: the dead-letter topic %s (kafka.topics.dlq) does not "
                    "exist\n",
                    dlq);
        else
            fprintf(stderr, "sisopi-admin: %s\n", err);
        return -1;
    }
    if (o->partition >= parts) {
        fprintf(stderr, "sisopi-admin: %s has partitions 0 to %d, not %" PRId32 "\n", dlq,
                parts - 1, o->partition);
        return -1;
    }
    size_t n = o->partition >= 0 ? 1 : (size_t)parts;
    int32_t *pv = xcalloc(n, sizeof(int32_t));
    int64_t *from = xcalloc(n, sizeof(int64_t)), *low = xcalloc(n, sizeof(int64_t)),
            *high = xcalloc(n, sizeof(int64_t));
    for (size_t i = 0; i < n; i++) {
        pv[i] = o->partition >= 0 ? o->partition : (int32_t)i;
        from[i] = o->offset >= 0 ? o->offset : -1;
    }
    sel->offset = o->offset;
    int rc = topic_read_partitions(cfg, dlq, pv, from, n, low, high, o->timeout_ms, collect, sel,
                                   err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "sisopi-admin: reading %s: %s\n", dlq, err);
    } else if (o->offset >= 0 && sel->n == 0) {
        if (low[0] >= high[0])
            fprintf(stderr,
                    "sisopi-admin: no dead letter at %s[%" PRId32 "]@%" PRId64
                    ": that partition is empty\n",
                    dlq, o->partition, o->offset);
        else
            fprintf(stderr,
                    "sisopi-admin: no dead letter at %s[%" PRId32 "]@%" PRId64
                    ": that partition holds offsets %" PRId64 " to %" PRId64 "\n",
                    dlq, o->partition, o->offset, low[0], high[0] - 1);
        rc = -1;
    } else {
        rc = 0;
    }
    free(pv);
    free(from);
    free(low);
    free(high);
    return rc;
}

static int cmp_letter(const void *a, const void *b)
{
    const struct letter *x = a, *y = b;
    if (x->dlq_partition != y->dlq_partition)
        return x->dlq_partition < y->dlq_partition ? -1 : 1;
    return (x->dlq_offset > y->dlq_offset) - (x->dlq_offset < y->dlq_offset);
}

/* Sends every replayable letter and waits for the broker. Returns 0, or -1 after saying why
 * (a letter that failed says it in its line). */
static int send_all(rd_kafka_t *rk, const struct config *cfg, struct selection *sel, int timeout_ms)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    for (size_t i = 0; i < sel->n; i++) {
        if (sel->v[i].verdict == V_SEND)
            send_one(rk, cfg, &sel->v[i], deadline);
    }
    rd_kafka_flush(rk, timeout_ms);
    rd_kafka_poll(rk, 0);
    for (size_t i = 0; i < sel->n; i++) {
        struct letter *l = &sel->v[i];
        if (l->verdict == V_SEND && !l->delivered && !l->reported && !l->delivery_error[0])
            snprintf(l->delivery_error, sizeof(l->delivery_error),
                     "no delivery report within %d s: it may still arrive; check %s before "
                     "replaying it again",
                     timeout_ms / 1000, cfg->kafka.topic_users);
    }
    char fatal[256];
    if (rd_kafka_fatal_error(rk, fatal, sizeof(fatal))) {
        fprintf(stderr, "sisopi-admin: the producer failed: %s\n", fatal);
        return -1;
    }
    return 0;
}

int admin_dlq(const struct config *cfg, int argc, char **argv)
{
    struct options o;
    int rc = parse(argc, argv, &o);
    if (rc != CLI_GO_ON)
        return rc;
    char err[512];
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, sizeof(err));
    if (conf)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = conf ? kafka_producer_new(conf, err, sizeof(err)) : NULL;
    if (!rk) {
        fprintf(stderr, "sisopi-admin: %s\n", err);
        return EXIT_FAILED;
    }
    struct selection sel = {0};
    rc = EXIT_FAILED;
    if (kafka_check_topic(rk, cfg, cfg->kafka.topic_users, o.timeout_ms, err, sizeof(err)) < 0) {
        fprintf(stderr, "sisopi-admin: %s\n", err);
        goto out;
    }
    if (read_selection(cfg, rk, &o, &sel) < 0)
        goto out;
    qsort(sel.v, sel.n, sizeof(*sel.v), cmp_letter);
    for (size_t i = 0; i < sel.n; i++)
        judge(cfg, &sel.v[i]);
    if (refuse_superseded(cfg, &sel, o.timeout_ms) < 0)
        goto out;
    bool broken = !o.dry_run && send_all(rk, cfg, &sel, o.timeout_ms) < 0;
    size_t sendable = 0, replayed = 0, stubs = 0, refused = 0, failed = 0;
    for (size_t i = 0; i < sel.n; i++) {
        const struct letter *l = &sel.v[i];
        print_line(cfg, l, o.dry_run);
        sendable += l->verdict == V_SEND;
        stubs += l->verdict == V_STUB;
        refused += l->verdict == V_REFUSED;
        if (l->verdict == V_SEND && !o.dry_run) {
            replayed += l->delivered;
            failed += !l->delivered;
        }
        if (l->verdict == V_SEND && l->delivered) {
            char from[300], to[300];
            replay_mark(cfg, l, from, sizeof(from));
            snprintf(to, sizeof(to), "%s[%" PRId64 "]@%" PRId64, cfg->kafka.topic_users,
                     l->partition, l->new_offset);
            log_kv(LEVEL_INFO, "dead_letter_replayed", "from", from, "to", to, NULL);
        }
    }
    if (o.dry_run)
        printf("summary (dry run, nothing sent): %zu selected, %zu would be replayed, %zu "
               "without value (not replayable), %zu refused\n",
               sel.n, sendable, stubs, refused);
    else
        printf("summary: %zu selected, %zu replayed, %zu without value (not replayable), %zu "
               "refused, %zu failed\n",
               sel.n, replayed, stubs, refused, failed);
    rc = broken || stubs || refused || failed ? EXIT_FAILED : EXIT_OK;
out:
    rd_kafka_destroy(rk); /* first: messages in flight point to their letters */
    selection_free(&sel);
    return rc;
}
