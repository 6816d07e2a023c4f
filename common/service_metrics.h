/*
 * service_metrics: what every long-running service publishes the same way: the endpoint's
 * start (logged with the port actually bound), its LDAP connection's operations by type and
 * result, their latency histogram, and connection losses.
 */
#ifndef SISOPI_SERVICE_METRICS_H
#define SISOPI_SERVICE_METRICS_H

#include <stddef.h>

#include "dir_conn.h"
#include "metrics.h"
#include "metrics_http.h"

/* Serves m on listen unless listen is "" (then *out = NULL). Logs metrics_listening with the
 * address and port. Returns 0, or -1 with err (bad address, port in use). */
int service_metrics_start(struct metrics *m, const char *listen, struct metrics_http **out,
                          char *err, size_t errlen);

/* Declares the LDAP families once; publishes c's counters (c may be NULL: nothing). */
void service_metrics_declare_ldap(struct metrics *m);
void service_metrics_publish_ldap(struct metrics *m, const struct dir_conn *c);

#endif
