/* Unit tests of metrics (Prometheus text rendering, labels, health) and of listen parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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
    assert_non_null(
        strstr(t, "# TYPE sisopi_build_info gauge\nsisopi_build_info{service=\"reconciler\","
                  "version=\"" SISOPI_VERSION "\",commit=\"" SISOPI_COMMIT "\"} 1\n"));
    /* The process's own figures, read from /proc: present, and plausible. */
    const char *rss = strstr(t, "\nprocess_resident_memory_bytes ");
    assert_non_null(rss);
    assert_true(strtod(rss + strlen("\nprocess_resident_memory_bytes "), NULL) > 1024 * 1024);
    const char *fds = strstr(t, "\nprocess_open_fds ");
    assert_non_null(fds);
    assert_true(strtod(fds + strlen("\nprocess_open_fds "), NULL) >= 3); /* stdin, out, err */
    const char *start = strstr(t, "\nprocess_start_time_seconds ");
    assert_non_null(start);
    double started = strtod(start + strlen("\nprocess_start_time_seconds "), NULL);
    assert_true(started > (double)time(NULL) - 3600 && started <= (double)time(NULL) + 1);
    assert_non_null(
        strstr(t, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "));
    free(t);
    metrics_clear(m, "sisopi_lat_seconds");
    t = render(m);
    assert_null(strstr(t, "sisopi_lat_seconds_bucket"));
    assert_non_null(strstr(t, "# TYPE sisopi_lat_seconds histogram\n"));
    free(t);
    metrics_free(m);
}

/* Bucket bounds and values as the shortest decimal that reads back exactly: what an operator
 * writes in a query (le="0.00025"), never a binary expansion (0.00025000000000000001). */
static void test_shortest_decimals(void **state)
{
    (void)state;
    struct metrics *m = metrics_new("reconciler");
    metrics_declare(m, "sisopi_lat_seconds", METRICS_HISTOGRAM, "Latency.");
    const double bounds[] = {0.00025, 0.1, 2.5};
    const uint64_t counts[] = {1, 0, 0};
    metrics_set_histogram(m, "sisopi_lat_seconds", NULL, bounds, counts, 3, 1, 0.1 + 0.2);
    char *t = render(m);
    assert_non_null(strstr(t, "sisopi_lat_seconds_bucket{le=\"0.00025\"} 1\n"
                              "sisopi_lat_seconds_bucket{le=\"0.1\"} 1\n"
                              "sisopi_lat_seconds_bucket{le=\"2.5\"} 1\n"));
    /* 0.1 + 0.2 is not 0.3: the value keeps every digit it needs, and no more. */
    assert_non_null(strstr(t, "sisopi_lat_seconds_sum 0.30000000000000004\n"));
    assert_null(strstr(t, "00000000001"));
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
    /* BASE+N, for sisopi-reconciler@N: instance 10 is 9480, not "947" "10". */
    assert_int_equal(metrics_parse_listen("127.0.0.1:9470+10", &sa, &len, err, sizeof(err)), 0);
    assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 9480);
    assert_int_equal(metrics_parse_listen("127.0.0.1:9470+1", &sa, &len, err, sizeof(err)), 0);
    assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 9471);
    assert_int_equal(metrics_parse_listen("127.0.0.1:65535+1", &sa, &len, err, sizeof(err)), -1);
    assert_int_equal(metrics_parse_listen("127.0.0.1:9470+", &sa, &len, err, sizeof(err)), -1);
    assert_int_equal(metrics_parse_listen("127.0.0.1:9470+-5", &sa, &len, err, sizeof(err)), -1);
    assert_int_equal(metrics_parse_listen("127.0.0.1:9470+x", &sa, &len, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),         cmocka_unit_test(test_shortest_decimals),
        cmocka_unit_test(test_labels_escaped), cmocka_unit_test(test_health),
        cmocka_unit_test(test_listen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
