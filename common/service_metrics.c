/*
 * service_metrics: the LDAP figures come from dir_conn's own counters (kept on the service's
 * thread without locks), copied into the registry when the service publishes.
 */
#include "service_metrics.h"

#include <stdio.h>

#include "log.h"

int service_metrics_start(struct metrics *m, const char *listen, struct metrics_http **out,
                          char *err, size_t n)
{
    *out = NULL;
    if (!listen || !*listen)
        return 0;
    if (!(*out = metrics_http_start(m, listen, err, n)))
        return -1;
    char port[16];
    snprintf(port, sizeof(port), "%d", metrics_http_port(*out));
    log_kv(LEVEL_INFO, "metrics_listening", "listen", listen, "port", port, NULL);
    return 0;
}

void service_metrics_declare_ldap(struct metrics *m)
{
    metrics_declare(m, "sisopi_ldap_operations_total", METRICS_COUNTER,
                    "LDAP operations completed, by type (add, modify, rename, delete, search, "
                    "counter) and result (success, error).");
    metrics_declare(m, "sisopi_ldap_latency_seconds", METRICS_HISTOGRAM,
                    "LDAP operation latency from submit to result, by type.");
    metrics_declare(m, "sisopi_ldap_connection_losses_total", METRICS_COUNTER,
                    "Times the directory connection was lost (each is followed by a reconnect).");
}

void service_metrics_publish_ldap(struct metrics *m, const struct dir_conn *c)
{
    if (!c)
        return;
    struct dir_conn_stats s;
    dir_conn_get_stats(c, &s);
    double bounds[DIR_CONN_LATENCY_BUCKETS];
    for (size_t b = 0; b < DIR_CONN_LATENCY_BUCKETS; b++)
        bounds[b] = (double)dir_conn_latency_bounds_us[b] / 1e6;
    for (int op = 0; op < DIR_CONN_OP_COUNT; op++) {
        const struct dir_conn_op_stats *o = &s.op[op];
        char ok[64] = "", bad[64] = "", lab[64] = "";
        metrics_label(ok, sizeof(ok), "op", dir_conn_op_name((enum dir_conn_op)op));
        metrics_label(lab, sizeof(lab), "op", dir_conn_op_name((enum dir_conn_op)op));
        snprintf(bad, sizeof(bad), "%s", ok);
        metrics_label(ok, sizeof(ok), "result", "success");
        metrics_label(bad, sizeof(bad), "result", "error");
        metrics_set(m, "sisopi_ldap_operations_total", ok, (double)(o->count - o->errors));
        metrics_set(m, "sisopi_ldap_operations_total", bad, (double)o->errors);
        metrics_set_histogram(m, "sisopi_ldap_latency_seconds", lab, bounds, o->latency,
                              DIR_CONN_LATENCY_BUCKETS, o->count, (double)o->sum_us / 1e6);
    }
    metrics_set(m, "sisopi_ldap_connection_losses_total", NULL, (double)s.conn_lost);
}
