/*
 * test_event_sink: dead letters against librdkafka's mock cluster, in this process (loopback
 * only). A dead letter keeps its value and key and gets headers saying why and where from; one
 * too large for the producer (message.max.bytes) or refused by the broker for its size goes
 * without its value, so that it cannot block its partition for ever (a retry fails the same).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "config.h"
#include "event_sink.h"
#include "kafka_client.h"
#include "strutil.h"

#define KAFKA_API_PRODUCE 0 /* the protocol's ApiKey of Produce requests */

struct fixture {
    rd_kafka_t *mrk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_topic_t *users; /* a topic handle, for the origin of the fake input messages */
    struct config cfg;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    f->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(f->mrk);
    f->mc = rd_kafka_mock_cluster_new(f->mrk, 1);
    assert_non_null(f->mc);
    config_defaults(&f->cfg);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, f->cfg.kafka.topic_dlq, 1, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, f->cfg.kafka.topic_events, 1, 1), 0);
    free(f->cfg.kafka.bootstrap);
    f->cfg.kafka.bootstrap = xstrdup(rd_kafka_mock_cluster_bootstraps(f->mc));
    f->users = rd_kafka_topic_new(f->mrk, f->cfg.kafka.topic_users, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rd_kafka_topic_destroy(f->users);
    config_free(&f->cfg);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->mrk);
    free(f);
    return 0;
}

static void set_property(struct config *cfg, const char *key, const char *value)
{
    cfg->kafka.properties =
        xrealloc(cfg->kafka.properties, (cfg->kafka.n_properties + 1) * sizeof(struct config_kv));
    cfg->kafka.properties[cfg->kafka.n_properties].key = xstrdup(key);
    cfg->kafka.properties[cfg->kafka.n_properties++].value = xstrdup(value);
}

/* The dead letters so far, read from the start (at most max, within 10 s) by *consumer, which
 * the caller destroys after the messages (librdkafka waits for them). */
static size_t read_dlq(struct fixture *f, rd_kafka_message_t **out, size_t max,
                       rd_kafka_t **consumer)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(
        rd_kafka_conf_set(conf, "bootstrap.servers", f->cfg.kafka.bootstrap, err, sizeof(err)),
        RD_KAFKA_CONF_OK);
    rd_kafka_conf_set(conf, "group.id", "test", err, sizeof(err));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(c);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, f->cfg.kafka.topic_dlq, 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(c, tp), 0);
    rd_kafka_topic_partition_list_destroy(tp);
    size_t n = 0;
    /* Up to 10 s for the first, then until 1 s passes without another. */
    for (int i = 0, idle = 0; i < 100 && n < max && idle < 10; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m) {
            idle += n > 0;
            continue;
        }
        idle = 0;
        if (m->err)
            rd_kafka_message_destroy(m);
        else
            out[n++] = m;
    }
    *consumer = c;
    return n;
}

static const char *header(const rd_kafka_message_t *m, const char *name, char *buf, size_t n)
{
    rd_kafka_headers_t *h;
    const void *v;
    size_t len;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &len) || len >= n)
        return NULL;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

/* A message as the reconciler consumed it from sisopi.users [3] at offset o. */
static rd_kafka_message_t input(struct fixture *f, int64_t o, const char *key, void *value,
                                size_t len)
{
    rd_kafka_message_t m;
    memset(&m, 0, sizeof(m));
    m.rkt = f->users;
    m.partition = 3;
    m.offset = o;
    m.key = (void *)key;
    m.key_len = strlen(key);
    m.payload = value;
    m.len = len;
    return m;
}

static void test_dead_letters(void **state)
{
    struct fixture *f = *state;
    char err[256], h[256];
    /* The producer may send 20,000 bytes; the broker refuses the next produce for its size. */
    set_property(&f->cfg, "message.max.bytes", "20000");
    struct event_sink *s = event_sink_open(&f->cfg, err, sizeof(err));
    assert_non_null(s);

    char small[] = "\x01\x02not avro", *big = xcalloc(1, 50000);
    rd_kafka_message_t m1 = input(f, 10, "k1", small, sizeof(small) - 1);
    assert_int_equal(
        event_sink_dead_letter(s, &m1, DEAD_LETTER_DECODE, "not Avro", err, sizeof(err)), 0);
    assert_int_equal(event_sink_flush(s, 10000, err, sizeof(err)), 0);
    /* Over message.max.bytes: refused locally, at once. */
    rd_kafka_message_t m2 = input(f, 11, "k2", big, 50000);
    assert_int_equal(
        event_sink_dead_letter(s, &m2, DEAD_LETTER_INVALID, "too big to read", err, sizeof(err)),
        0);
    assert_int_equal(event_sink_flush(s, 10000, err, sizeof(err)), 0);
    /* Under it, but the broker says too large (its max.message.bytes is smaller). */
    rd_kafka_mock_push_request_errors(f->mc, KAFKA_API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    rd_kafka_message_t m3 = input(f, 12, "k3", big, 15000);
    assert_int_equal(
        event_sink_dead_letter(s, &m3, DEAD_LETTER_MISPLACED, "broker refused", err, sizeof(err)),
        0);
    if (event_sink_flush(s, 10000, err, sizeof(err)) != 0)
        fail_msg("flush after the broker's refusal: %s", err);
    struct event_sink_stats st = event_sink_stats(s);
    assert_int_equal(st.dead_letters, 3);
    assert_int_equal(st.events, 0);
    assert_int_equal(st.failed, 0);
    event_sink_close(s);

    rd_kafka_message_t *d[4];
    rd_kafka_t *c;
    size_t n = read_dlq(f, d, 4, &c);
    assert_int_equal(n, 3);
    /* Unchanged, with why and where. */
    assert_int_equal(d[0]->len, sizeof(small) - 1);
    assert_memory_equal(d[0]->payload, small, sizeof(small) - 1);
    assert_memory_equal(d[0]->key, "k1", 2);
    assert_string_equal(header(d[0], "sisopi-error", h, sizeof(h)), "not Avro");
    assert_string_equal(header(d[0], "sisopi-topic", h, sizeof(h)), "sisopi.users");
    assert_string_equal(header(d[0], "sisopi-partition", h, sizeof(h)), "3");
    assert_string_equal(header(d[0], "sisopi-offset", h, sizeof(h)), "10");
    assert_null(header(d[0], "sisopi-value-omitted", h, sizeof(h)));
    /* The same as Kafka Connect writes it: text, numbers in decimal. */
    assert_string_equal(header(d[0], "__connect.errors.topic", h, sizeof(h)), "sisopi.users");
    assert_string_equal(header(d[0], "__connect.errors.partition", h, sizeof(h)), "3");
    assert_string_equal(header(d[0], "__connect.errors.offset", h, sizeof(h)), "10");
    assert_string_equal(header(d[0], "__connect.errors.exception.class.name", h, sizeof(h)),
                        "sisopi.DecodeError");
    assert_string_equal(header(d[0], "__connect.errors.exception.message", h, sizeof(h)),
                        "not Avro");
    /* Without the value, said so, the rest as always. */
    for (size_t i = 1; i < 3; i++) {
        assert_null(d[i]->payload);
        assert_memory_equal(d[i]->key, i == 1 ? "k2" : "k3", 2);
        assert_string_equal(header(d[i], "sisopi-error", h, sizeof(h)),
                            i == 1 ? "too big to read" : "broker refused");
        assert_string_equal(header(d[i], "sisopi-offset", h, sizeof(h)), i == 1 ? "11" : "12");
        assert_string_equal(header(d[i], "sisopi-value-bytes", h, sizeof(h)),
                            i == 1 ? "50000" : "15000");
        assert_non_null(header(d[i], "sisopi-value-omitted", h, sizeof(h)));
        assert_non_null(strstr(h, i == 1 ? "stays in sisopi.users [3] at offset 11"
                                         : "stays in sisopi.users [3] at offset 12"));
        assert_string_equal(header(d[i], "__connect.errors.partition", h, sizeof(h)), "3");
        assert_string_equal(header(d[i], "__connect.errors.offset", h, sizeof(h)),
                            i == 1 ? "11" : "12");
        assert_string_equal(header(d[i], "__connect.errors.exception.class.name", h, sizeof(h)),
                            i == 1 ? "sisopi.ValidationError" : "sisopi.MisplacedError");
        assert_string_equal(header(d[i], "__connect.errors.exception.message", h, sizeof(h)),
                            i == 1 ? "too big to read" : "broker refused");
    }
    for (size_t i = 0; i < n; i++)
        rd_kafka_message_destroy(d[i]);
    rd_kafka_consumer_close(c);
    kafka_consumer_destroy(c);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dead_letters, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
