/*
 * users_inject: writes crafted messages to sisopi.users for tests: raw bytes (poison), an
 * ImportEnd with any count, an ImportRelease, a PurgeDue, or a UserRecord with any fields
 * (invalid ones included). Never used in production.
 *
 * Every form takes [--dry-run] [-o FILE] after -c CFG: --dry-run flags a record or an end
 * marker as a dry run, as a producer of its own may write one.
 *
 *   users_inject -c CFG [-o FILE] raw PARTITION KEY FILE
 *   users_inject -c CFG [-o FILE] end PARTITION IMPORT_ID SOURCE SCHOOL ROLE COUNT [PRODUCED_AT_MS]
 *   users_inject -c CFG [-o FILE] record IMPORT_ID SOURCE SCHOOL ROLE RECORD_UID FIRST LAST [KEY]
 *   users_inject -c CFG [-o FILE] purge RECORD_UID PURGE_AT_MS [KEY]
 *
 * KEY "-" sends no key at all (null); by default the key is the record_uid (the import_id for
 * an end marker). A record goes to the partition of its key, as any keyed producer puts it.
 * ROLE "#N" writes the raw enum index N (out of range: a message no reader may accept).
 * FIRST "@N" is N bytes of "x" (a gigantic record). -o FILE writes the message value to FILE
 * instead of producing it (to be altered and sent with raw). Values up to 64 MiB are sent:
 * the producer's message.max.bytes is raised to fit, the broker decides. Prints
 * "PARTITION OFFSET" of each message the broker acknowledged.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_codec.h"
#include "cli.h"
#include "clock.h"
#include "import_id.h"
#include "kafka_client.h"
#include "partitioner.h"

#define MAX_VALUE (64 << 20)

static int delivery_failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        fprintf(stderr, "users_inject: not delivered: %s\n", rd_kafka_err2str(m->err));
        delivery_failed = 1;
        return;
    }
    printf("%" PRId32 " %" PRId64 "\n", m->partition, m->offset);
}

struct out {
    rd_kafka_t *rk;
    const struct config *cfg;
    const char *file; /* -o: write here instead of producing */
    bool dry_run;     /* --dry-run: records and markers say so */
};

static int produce(struct out *o, int32_t part, const char *key, const void *buf, size_t len)
{
    if (o->file) {
        FILE *f = fopen(o->file, "wb");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "users_inject: cannot write %s\n", o->file);
            return 1;
        }
        return 0;
    }
    char err[256];
    if (kafka_produce_users(o->rk, o->cfg, part, key, buf, len, NULL, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "users_inject: %s\n", err);
        return 1;
    }
    return 0;
}

/* Avro's zigzag varint of a small non-negative number, as it appears in the body. */
static int enum_byte(long v)
{
    return v >= 0 && v < 64 ? (int)(v << 1) : -1;
}

/* Offset of the role enum in an encoded UserRecord: header, union branch, three strings. */
static size_t role_offset(const struct user_record *r)
{
    return AVRO_CODEC_HEADER_SIZE + 1 + 1 + strlen(r->import_id) + 1 + strlen(r->source_uid) + 1 +
           strlen(r->school);
}

static int produce_msg(struct out *o, int32_t part, const char *key, const struct users_msg *m,
                       long raw_role)
{
    void *buf;
    size_t len;
    char err[256];
    if (users_msg_encode(m, &buf, &len, err, sizeof(err)) < 0) {
        fprintf(stderr, "users_inject: %s\n", err);
        return 1;
    }
    if (raw_role >= 0) {
        const struct user_record *r = &m->u.user;
        size_t at = role_offset(r);
        int b = enum_byte(raw_role);
        /* Short strings have one-byte lengths; anything else would move the enum. */
        if (strlen(r->import_id) > 63 || strlen(r->source_uid) > 63 || strlen(r->school) > 63 ||
            b < 0 || at >= len || ((unsigned char *)buf)[at] != 0) {
            fprintf(stderr, "users_inject: cannot place role #%ld\n", raw_role);
            free(buf);
            return 1;
        }
        ((unsigned char *)buf)[at] = (unsigned char)b;
    }
    int rc = produce(o, part, key, buf, len);
    free(buf);
    return rc;
}

static const char *key_arg(const char *k)
{
    return strcmp(k, "-") == 0 ? NULL : k;
}

static int32_t part_of(const struct out *o, const char *key)
{
    return key ? partitioner_partition(key, strlen(key), o->cfg->kafka.partitions) : 0;
}

static int raw(struct out *o, char **argv)
{
    FILE *f = fopen(argv[3], "rb");
    if (!f) {
        fprintf(stderr, "users_inject: cannot open %s\n", argv[3]);
        return 1;
    }
    char *buf = malloc(MAX_VALUE);
    size_t len = buf ? fread(buf, 1, MAX_VALUE, f) : 0;
    fclose(f);
    int rc = buf ? produce(o, atoi(argv[1]), key_arg(argv[2]), buf, len) : 1;
    free(buf);
    return rc;
}

static int run(struct out *o, int argc, char **argv)
{
    const char *cmd = argv[0];
    struct users_msg m;
    memset(&m, 0, sizeof(m));
    if (strcmp(cmd, "raw") == 0 && argc == 4)
        return raw(o, argv);
    if (strcmp(cmd, "end") == 0 && (argc == 7 || argc == 8)) {
        m.type = USERS_MSG_IMPORT_END;
        m.u.end.import_id = argv[2];
        m.u.end.source_uid = argv[3];
        m.u.end.school = argv[4];
        role_parse(argv[5], &m.u.end.role);
        m.u.end.record_count = atoll(argv[6]);
        m.u.end.first_offset = -1;
        m.u.end.produced_at_ms = argc == 8 ? atoll(argv[7]) : clock_wall_ms();
        m.u.end.partition = atoi(argv[1]);
        m.u.end.partition_count = o->cfg->kafka.partitions;
        m.u.end.dry_run = o->dry_run;
        return produce_msg(o, atoi(argv[1]), argv[2], &m, -1);
    }
    if (strcmp(cmd, "record") == 0 && (argc == 8 || argc == 9)) {
        m.type = USERS_MSG_USER_RECORD;
        struct user_record *r = &m.u.user;
        long raw_role = -1;
        r->import_id = argv[1];
        r->source_uid = argv[2];
        r->school = argv[3];
        if (argv[4][0] == '#')
            raw_role = atol(argv[4] + 1);
        else if (role_parse(argv[4], &r->role) < 0) {
            fprintf(stderr, "users_inject: role %s (use #N for a raw index)\n", argv[4]);
            return 64;
        }
        r->record_uid = argv[5];
        char *big = NULL;
        r->firstname = argv[6];
        if (argv[6][0] == '@') {
            size_t n = strtoul(argv[6] + 1, NULL, 10);
            if (n > MAX_VALUE || !(big = malloc(n + 1)))
                return 1;
            memset(big, 'x', n);
            big[n] = '\0';
            r->firstname = big;
        }
        r->lastname = argv[7];
        r->dry_run = o->dry_run;
        const char *key = argc == 9 ? key_arg(argv[8]) : argv[5];
        int rc = produce_msg(o, part_of(o, key ? key : argv[5]), key, &m, raw_role);
        free(big);
        return rc;
    }
    if (strcmp(cmd, "purge") == 0 && (argc == 3 || argc == 4)) {
        m.type = USERS_MSG_PURGE_DUE;
        m.u.purge.record_uid = argv[1];
        m.u.purge.purge_at_ms = atoll(argv[2]);
        m.u.purge.produced_at_ms = clock_wall_ms();
        const char *key = argc == 4 ? key_arg(argv[3]) : argv[1];
        return produce_msg(o, part_of(o, key ? key : argv[1]), key, &m, -1);
    }
    fprintf(stderr, "users_inject: bad arguments (see the header of users_inject.c)\n");
    return 64;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "-c") != 0)
        return 64;
    struct config cfg;
    char err[512];
    struct out o = {.cfg = &cfg};
    int first = 3;
    if (strcmp(argv[first], "--dry-run") == 0) {
        o.dry_run = true;
        first++;
    }
    if (first < argc && strcmp(argv[first], "-o") == 0) {
        if (argc < first + 3)
            return 64;
        o.file = argv[first + 1];
        first += 2;
    }
    if (first >= argc)
        return 64;
    if (cli_load(&cfg, "inject", argv[2], NULL) < 0)
        return 1;
    if (!o.file) {
        rd_kafka_conf_t *conf = kafka_conf_new(&cfg, err, sizeof(err));
        /* Room for the gigantic poison; the broker's own limit still applies. */
        if (conf)
            rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        if (conf && kafka_conf_set(conf, "message.max.bytes", "100000000", err, sizeof(err)) < 0) {
            rd_kafka_conf_destroy(conf);
            conf = NULL;
        }
        o.rk = conf ? kafka_producer_new(conf, err, sizeof(err)) : NULL;
        if (!o.rk) {
            fprintf(stderr, "users_inject: %s\n", err);
            config_free(&cfg);
            return 1;
        }
    }
    int rc = run(&o, argc - first, argv + first);
    if (o.rk) {
        if (rd_kafka_flush(o.rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || delivery_failed) {
            fprintf(stderr, "users_inject: not all messages were delivered\n");
            rc = 1;
        }
        rd_kafka_destroy(o.rk);
    }
    config_free(&cfg);
    return rc;
}
