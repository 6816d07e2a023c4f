/* Unit tests of metrics (Prometheus text rendering, labels, health) and of listen parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics.h"
#include "metrics_http.h"

static char *render(struct metrics *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    metrics_render(m, f);
    fclose(f);
    return buf;
}

static void test_render(void **state)
{
    (void)state;
    struct metrics *m = metrics_new("reconciler");
    metrics_declare(m, "sisopi_x_total", METRICS_COUNTER, "Things.");
    metrics_declare(m, "sisopi_lat_seconds", METRICS_HISTOGRAM, "Latency.");
    metrics_set(m, "sisopi_x_total", NULL, 3);
    metrics_set(m, "sisopi_x_total", NULL, 5); /* absolute values: the last one wins */
    char lab[64] = "";
    metrics_label(lab, sizeof(lab), "op", "add");
    const double bounds[] = {0.001, 0.01};
    const uint64_t counts[] = {2, 3}; /* per bucket; 1 more above the last bound */
    metrics_set_histogram(m, "sisopi_lat_seconds", lab, bounds, counts, 2, 6, 0.25);
    metrics_set(m, "sisopi_undeclared", NULL, 1); /* dropped, never rendered without TYPE */
    metrics_health(m, true, "ok");
    metrics_heartbeat(m);
    char *t = render(m);
    assert_non_null(strstr(t, "# TYPE sisopi_up gauge\nsisopi_up{service=\"reconciler\"} 1\n"));
    assert_non_null(strstr(t, "# HELP sisopi_x_total Things.\n# TYPE sisopi_x_total counter\n"
                              "sisopi_x_total 5\n"));
    assert_non_null(strstr(t, "sisopi_lat_seconds_bucket{op=\"add\",le=\"0.001\"} 2\n"
                              "sisopi_lat_seconds_bucket{op=\"add\",le=\"0.01\"} 5\n"
                              "sisopi_lat_seconds_bucket{op=\"add\",le=\"+Inf\"} 6\n"
                              "sisopi_lat_seconds_sum{op=\"add\"} 0.25\n"
                              "sisopi_lat_seconds_count{op=\"add\"} 6\n"));
    assert_null(strstr(t, "sisopi_undeclared"));
    free(t);
    metrics_clear(m, "sisopi_lat_seconds");
    t = render(m);
    assert_null(strstr(t, "sisopi_lat_seconds_bucket"));
    assert_non_null(strstr(t, "# TYPE sisopi_lat_seconds histogram\n"));
    free(t);
    metrics_free(m);
}

static void test_labels_escaped(void **state)
{
    (void)state;
    char lab[64] = "";
    metrics_label(lab, sizeof(lab), "school", "a\"b\\c\nd");
    assert_string_equal(lab, "school=\"a\\\"b\\\\c\\nd\"");
    metrics_label(lab, sizeof(lab), "role", "x");
    assert_string_equal(lab, "school=\"a\\\"b\\\\c\\nd\",role=\"x\"");
    char tiny[12] = "";
    metrics_label(tiny, sizeof(tiny), "partition", "123456789");
    assert_true(strlen(tiny) < sizeof(tiny)); /* cut, never overflowing */
}

static void test_health(void **state)
{
    (void)state;
    struct metrics *m = metrics_new("scheduler");
    char *why = NULL;
    assert_false(metrics_healthy(m, &why)); /* not ok until the service says so */
    assert_string_equal(why, "starting");
    free(why);
    metrics_health(m, false, "the last directory sweep failed");
    assert_false(metrics_healthy(m, &why));
    assert_string_equal(why, "the last directory sweep failed");
    free(why);
    metrics_health(m, true, "ok");
    assert_true(metrics_healthy(m, NULL));
    metrics_set_stale_after(m, -1); /* a loop silent for longer than allowed */
    assert_false(metrics_healthy(m, &why));
    assert_non_null(strstr(why, "main loop silent"));
    free(why);
    char *t = render(m);
    assert_non_null(strstr(t, "sisopi_up{service=\"scheduler\"} 0\n"));
    free(t);
    metrics_free(m);
}

static void test_listen(void **state)
{
    (void)state;
    struct sockaddr_storage sa;
    size_t len;
    char err[128];
    assert_int_equal(metrics_parse_listen("127.0.0.1:9464", &sa, &len, err, sizeof(err)), 0);
    assert_int_equal(sa.ss_family, AF_INET);
    assert_int_equal(metrics_parse_listen("[::1]:0", &sa, &len, err, sizeof(err)), 0);
    assert_int_equal(sa.ss_family, AF_INET6);
    assert_int_equal(metrics_parse_listen("0.0.0.0:65535", &sa, &len, err, sizeof(err)), 0);
    assert_int_equal(metrics_parse_listen("localhost:9464", &sa, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "numeric"));
    assert_int_equal(metrics_parse_listen("127.0.0.1:65536", &sa, &len, err, sizeof(err)), -1);
    assert_int_equal(metrics_parse_listen("127.0.0.1:", &sa, &len, err, sizeof(err)), -1);
    assert_int_equal(metrics_parse_listen("9464", &sa, &len, err, sizeof(err)), -1);
    assert_int_equal(metrics_parse_listen(":9464", &sa, &len, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_labels_escaped),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_listen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
