/*
 * sisopi-audit: read-only answers from the topics. For now `dump`, which decodes every
 * message of sisopi.users or sisopi.events (kcat cannot read Avro single-object encoding).
 * history, imports, report and verify come with issue #4.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_codec.h"
#include "cli.h"
#include "json_out.h"
#include "topic_reader.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: sisopi-audit [-c FILE] [--bootstrap SERVERS] COMMAND\n"
               "\n"
               "Answers questions from the topics; needs no write access anywhere.\n"
               "\n"
               "Commands:\n"
               "  dump [--topic users|events|dlq|NAME] [--timeout SEC]\n"
               "        every message of the topic (default users), decoded, one JSON object a\n"
               "        line: topic, partition, offset, key, timestamp and the message; a message\n"
               "        that cannot be decoded is shown with \"error\" instead.\n"
               "  history RECORD_UID | imports | report IMPORT_ID | verify\n"
               "        (to come with issue #4)\n"
               "\n"
               "Exit codes: 0 all read and decoded; 2 some messages could not be decoded;\n"
               "1 the topic could not be read; 64 bad command line.\n");
}

struct dump_ctx {
    bool events;
    int64_t messages, undecodable;
};

static int dump_one(const rd_kafka_message_t *m, void *opaque)
{
    struct dump_ctx *d = opaque;
    char err[256];
    struct json_out j;
    d->messages++;
    json_out_init(&j, stdout);
    json_out_begin_object(&j);
    json_out_key(&j, "topic");
    json_out_string(&j, rd_kafka_topic_name(m->rkt));
    json_out_key(&j, "partition");
    json_out_int(&j, m->partition);
    json_out_key(&j, "offset");
    json_out_int(&j, m->offset);
    json_out_key(&j, "key");
    if (m->key) {
        char *key = strndup(m->key, m->key_len);
        json_out_string(&j, key);
        free(key);
    } else {
        json_out_null(&j);
    }
    json_out_key(&j, "timestamp");
    json_out_int(&j, rd_kafka_message_timestamp(m, NULL));
    int rc;
    if (d->events) {
        struct event e;
        rc = event_decode(m->payload, m->len, &e, err, sizeof(err));
        if (rc == 0) {
            json_out_key(&j, "event");
            json_out_event(&j, &e);
        }
        event_free(&e);
    } else {
        struct users_msg u;
        rc = users_msg_decode(m->payload, m->len, &u, err, sizeof(err));
        if (rc == 0) {
            json_out_key(&j, "message");
            json_out_users_msg(&j, &u);
        }
        users_msg_free(&u);
    }
    if (rc < 0) {
        d->undecodable++;
        json_out_key(&j, "error");
        json_out_string(&j, err);
    }
    json_out_end_object(&j);
    fputc('\n', stdout);
    return 0;
}

static int cmd_dump(const struct config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"topic", required_argument, NULL, 't'},
                                         {"timeout", required_argument, NULL, 'T'},
                                         {NULL, 0, NULL, 0}};
    const char *which = "users";
    int timeout = 30, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
        if (c == 't')
            which = optarg;
        else if (c == 'T')
            timeout = atoi(optarg);
        else
            return EXIT_USAGE;
    }
    /* A short name or a topic's own name; only the events topic holds Event messages. */
    const char *topic = strcmp(which, "users") == 0    ? cfg->kafka.topic_users
                        : strcmp(which, "dlq") == 0    ? cfg->kafka.topic_dlq
                        : strcmp(which, "events") == 0 ? cfg->kafka.topic_events
                                                       : which;
    bool events = strcmp(topic, cfg->kafka.topic_events) == 0;

    struct dump_ctx d = {.events = events};
    char err[512];
    if (topic_read_all(cfg, topic, timeout * 1000, dump_one, &d, err, sizeof(err)) < 0) {
        fprintf(stderr, "sisopi-audit: %s\n", err);
        return EXIT_FAILED;
    }
    fflush(stdout);
    fprintf(stderr, "sisopi-audit: %s: %" PRId64 " messages, %" PRId64 " undecodable\n", topic,
            d.messages, d.undecodable);
    return d.undecodable ? EXIT_WITH_ERRORS : EXIT_OK;
}

int main(int argc, char **argv)
{
    struct cli_global g;
    int exit_code = cli_parse_global(argc, argv, "audit", usage, &g);
    if (exit_code >= 0)
        return exit_code;
    const char *cmd = argv[g.command];
    if (strcmp(cmd, "dump") != 0) {
        fprintf(stderr, "sisopi-audit: %s: %s\n", cmd,
                strstr("history imports report verify", cmd) ? "not implemented yet (issue #4)"
                                                             : "unknown command (see --help)");
        return strstr("history imports report verify", cmd) ? EXIT_FAILED : EXIT_USAGE;
    }
    struct config cfg;
    if (cli_load(&cfg, "audit", g.config, g.bootstrap) < 0)
        return EXIT_FAILED;
    int rc = cmd_dump(&cfg, argc - g.command, argv + g.command);
    config_free(&cfg);
    return rc;
}
