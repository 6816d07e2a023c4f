/*
 * users_inject: writes crafted messages to sisopi.users for tests: raw bytes (poison), an
 * ImportEnd with any count, an ImportRelease, a PurgeDue, or a UserRecord with any fields
 * (invalid ones included). Never used in production.
 *
 *   users_inject -c CFG raw PARTITION KEY FILE
 *   users_inject -c CFG end PARTITION IMPORT_ID SOURCE SCHOOL ROLE COUNT [PRODUCED_AT_MS]
 *   users_inject -c CFG record IMPORT_ID SOURCE SCHOOL ROLE RECORD_UID FIRST LAST
 *   users_inject -c CFG purge RECORD_UID PURGE_AT_MS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_codec.h"
#include "cli.h"
#include "import_id.h"
#include "kafka_client.h"
#include "partitioner.h"

static int produce(rd_kafka_t *rk, const char *topic, int32_t part, const char *key,
                   const void *buf, size_t len)
{
    rd_kafka_resp_err_t e =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                          RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)buf, len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e) {
        fprintf(stderr, "users_inject: %s\n", rd_kafka_err2str(e));
        return 1;
    }
    return 0;
}

static int produce_msg(rd_kafka_t *rk, const struct config *cfg, int32_t part, const char *key,
                       const struct users_msg *m)
{
    void *buf;
    size_t len;
    char err[256];
    if (users_msg_encode(m, &buf, &len, err, sizeof(err)) < 0) {
        fprintf(stderr, "users_inject: %s\n", err);
        return 1;
    }
    int rc = produce(rk, cfg->kafka.topic_users, part, key, buf, len);
    free(buf);
    return rc;
}

static int run(rd_kafka_t *rk, const struct config *cfg, int argc, char **argv)
{
    const char *cmd = argv[0];
    struct users_msg m;
    memset(&m, 0, sizeof(m));
    if (strcmp(cmd, "raw") == 0 && argc == 4) {
        FILE *f = fopen(argv[3], "rb");
        if (!f)
            return 1;
        static char buf[16 << 20];
        size_t len = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        return produce(rk, cfg->kafka.topic_users, atoi(argv[1]), argv[2], buf, len);
    }
    if (strcmp(cmd, "end") == 0 && (argc == 7 || argc == 8)) {
        m.type = USERS_MSG_IMPORT_END;
        m.u.end.import_id = argv[2];
        m.u.end.source_uid = argv[3];
        m.u.end.school = argv[4];
        role_parse(argv[5], &m.u.end.role);
        m.u.end.record_count = atoll(argv[6]);
        m.u.end.first_offset = -1;
        m.u.end.produced_at_ms = argc == 8 ? atoll(argv[7]) : now_ms();
        m.u.end.partition = atoi(argv[1]);
        m.u.end.partition_count = cfg->kafka.partitions;
        return produce_msg(rk, cfg, atoi(argv[1]), argv[2], &m);
    }
    if (strcmp(cmd, "record") == 0 && argc == 8) {
        m.type = USERS_MSG_USER_RECORD;
        struct user_record *r = &m.u.user;
        r->import_id = argv[1];
        r->source_uid = argv[2];
        r->school = argv[3];
        role_parse(argv[4], &r->role);
        r->record_uid = argv[5];
        r->firstname = argv[6];
        r->lastname = argv[7];
        int32_t p = partitioner_partition(argv[5], strlen(argv[5]), cfg->kafka.partitions);
        return produce_msg(rk, cfg, p, argv[5], &m);
    }
    if (strcmp(cmd, "purge") == 0 && argc == 3) {
        m.type = USERS_MSG_PURGE_DUE;
        m.u.purge.record_uid = argv[1];
        m.u.purge.purge_at_ms = atoll(argv[2]);
        m.u.purge.produced_at_ms = now_ms();
        int32_t p = partitioner_partition(argv[1], strlen(argv[1]), cfg->kafka.partitions);
        return produce_msg(rk, cfg, p, argv[1], &m);
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
    if (cli_load(&cfg, "inject", argv[2], NULL) < 0)
        return 1;
    rd_kafka_conf_t *conf = kafka_conf_new(&cfg, err, sizeof(err));
    rd_kafka_t *rk = conf ? kafka_producer_new(conf, err, sizeof(err)) : NULL;
    if (!rk) {
        fprintf(stderr, "users_inject: %s\n", err);
        return 1;
    }
    int rc = run(rk, &cfg, argc - 3, argv + 3);
    if (rd_kafka_flush(rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = 1;
    rd_kafka_destroy(rk);
    config_free(&cfg);
    return rc;
}
