/*
 * bench_raw_produce: the raw limit for the ingest benchmark. Produces N pre-encoded messages of
 * one size into sisopi.users with the ingest's producer settings (idempotent, acks=all, keys,
 * explicit murmur2 partitions) and waits for every delivery report: what the broker and
 * librdkafka can take when nothing is read, validated or encoded.
 *
 *   bench_raw_produce -c CFG -n N -s BYTES [-k PREFIX] [-t TOPIC] [--poll-every K]
 *
 * Keys are PREFIX-0000000, PREFIX-0000001, ... (the shape of the benchmark's record_uids).
 * The topic must exist with kafka.partitions partitions (the devbroker creates sisopi.users;
 * asking for an unknown topic would auto-create it with 4). Prints one line of key=value
 * figures on stdout; exit 0 only when every message was acknowledged.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "kafka_client.h"
#include "partitioner.h"

#define FLUSH_SLICE_MS  500
#define FLUSH_LIMIT_S   120.0
#define MAX_VALUE_BYTES (1024 * 1024)

struct delivery {
    int64_t acked, failed;
    rd_kafka_resp_err_t first_err;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct delivery *d = opaque;
    (void)rk;
    if (msg->err) {
        if (d->failed++ == 0)
            d->first_err = msg->err;
        return;
    }
    d->acked++;
}

struct options {
    const char *config, *topic, *prefix;
    long n, size, poll_every;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_raw_produce -c CFG -n N -s BYTES [-k PREFIX] [-t TOPIC] "
            "[--poll-every K]\n"
            "  -n N            messages (1..100000000)\n"
            "  -s BYTES        value size of every message (1..%d)\n"
            "  -k PREFIX       key prefix (default Gym1): keys PREFIX-0000000, ...\n"
            "  -t TOPIC        default kafka.topics.users of the config\n"
            "  --poll-every K  serve delivery reports every K messages (default 1000;\n"
            "                  1 is what sisopi-ingest does)\n",
            MAX_VALUE_BYTES);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    enum { OPT_POLL_EVERY = 256 };
    static const struct option opts[] = {{"poll-every", required_argument, NULL, OPT_POLL_EVERY},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    *o = (struct options){.prefix = "Gym1", .poll_every = 1000};
    while ((c = getopt_long(argc, argv, "c:n:s:k:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'n':
            o->n = strtol(optarg, NULL, 10);
            break;
        case 's':
            o->size = strtol(optarg, NULL, 10);
            break;
        case 'k':
            o->prefix = optarg;
            break;
        case 't':
            o->topic = optarg;
            break;
        case OPT_POLL_EVERY:
            o->poll_every = strtol(optarg, NULL, 10);
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_OK);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc || o->n < 1 || o->n > 100000000 || o->size < 1 ||
        o->size > MAX_VALUE_BYTES || o->poll_every < 1 || strlen(o->prefix) > 64) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* Produces one message (librdkafka copies value and key), waiting for room in the queue. */
static rd_kafka_resp_err_t produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                                   const char *key, size_t key_len, const void *value, size_t len)
{
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return err;
        rd_kafka_poll(rk, 50);
    }
}

/* Flushes in slices until the queue is empty; bounded so that a dead broker cannot hang us. */
static int flush_all(rd_kafka_t *rk)
{
    double deadline = clock_mono_s() + FLUSH_LIMIT_S;
    while (rd_kafka_outq_len(rk) > 0) {
        if (clock_mono_s() > deadline) {
            fprintf(stderr, "bench_raw_produce: %d messages still queued after %.0f s\n",
                    rd_kafka_outq_len(rk), FLUSH_LIMIT_S);
            return -1;
        }
        rd_kafka_flush(rk, FLUSH_SLICE_MS);
    }
    rd_kafka_poll(rk, 0);
    return 0;
}

static rd_kafka_t *make_producer(const struct config *cfg, struct delivery *d)
{
    char err[512];
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, sizeof(err));
    if (!conf) {
        fprintf(stderr, "bench_raw_produce: %s\n", err);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, d);
    rd_kafka_t *rk = kafka_producer_new(conf, err, sizeof(err));
    if (!rk)
        fprintf(stderr, "bench_raw_produce: %s\n", err);
    return rk;
}

/* Produces o->n messages; returns 0 when all were acknowledged. */
static int run(rd_kafka_t *rk, const struct config *cfg, const struct options *o, const char *topic,
               struct delivery *d)
{
    char err[600];
    if (kafka_check_topic(rk, cfg, topic, 10000, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_raw_produce: %s\n", err);
        return -1;
    }
    /* Pre-encoded: one value, filled with bytes that do not compress, reused for every
     * message; the key buffer is rewritten in place. */
    unsigned char *value = malloc((size_t)o->size);
    if (!value) {
        fprintf(stderr, "bench_raw_produce: out of memory\n");
        return -1;
    }
    uint32_t x = 2463534242u;
    for (long i = 0; i < o->size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        value[i] = (unsigned char)x;
    }
    int rc = 0;
    double t0 = clock_mono_s();
    for (long i = 0; i < o->n; i++) {
        char key[96];
        int key_len = snprintf(key, sizeof(key), "%s-%07ld", o->prefix, i);
        int32_t p = partitioner_partition(key, (size_t)key_len, cfg->kafka.partitions);
        rd_kafka_resp_err_t e = produce(rk, topic, p, key, (size_t)key_len, value, (size_t)o->size);
        if (e) {
            fprintf(stderr, "bench_raw_produce: cannot produce to %s [%d]: %s\n", topic, p,
                    rd_kafka_err2str(e));
            rc = -1;
            break;
        }
        if ((i + 1) % o->poll_every == 0)
            rd_kafka_poll(rk, 0);
    }
    double t_queued = clock_mono_s();
    if (flush_all(rk) < 0)
        rc = -1;
    double t1 = clock_mono_s();
    free(value);

    char fatal[256];
    if (rd_kafka_fatal_error(rk, fatal, sizeof(fatal))) {
        fprintf(stderr, "bench_raw_produce: producer failed: %s\n", fatal);
        rc = -1;
    }
    if (d->failed || d->acked != o->n) {
        fprintf(stderr,
                "bench_raw_produce: %" PRId64 " of %ld messages not acknowledged "
                "(first error: %s)\n",
                o->n - d->acked, o->n, d->failed ? rd_kafka_err2str(d->first_err) : "none");
        rc = -1;
    }
    double s = t1 - t0;
    printf("bench_raw_produce topic=%s msgs=%ld value_bytes=%ld acked=%" PRId64 " failed=%" PRId64
           " queue_s=%.3f seconds=%.3f msgs_per_s=%.0f MiB_per_s=%.1f\n",
           topic, o->n, o->size, d->acked, d->failed, t_queued - t0, s,
           s > 0 ? (double)o->n / s : 0.0,
           s > 0 ? (double)o->n * (double)o->size / s / (1024.0 * 1024.0) : 0.0);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    struct config cfg;
    struct delivery d = {0};
    if (parse_options(argc, argv, &o) < 0)
        return EXIT_USAGE;
    if (cli_load(&cfg, "bench", o.config, NULL) < 0)
        return EXIT_FAILED;
    rd_kafka_t *rk = make_producer(&cfg, &d);
    if (!rk) {
        config_free(&cfg);
        return EXIT_FAILED;
    }
    int rc = run(rk, &cfg, &o, o.topic ? o.topic : cfg.kafka.topic_users, &d);
    if (rc < 0) /* do not let destroy wait for what the broker never took */
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk);
    config_free(&cfg);
    return rc < 0 ? EXIT_FAILED : EXIT_OK;
}
