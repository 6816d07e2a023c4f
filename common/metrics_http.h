/*
 * metrics_http: serves GET /metrics (Prometheus text) and GET /healthz (200 "ok", or 503 with
 * the reason) from a metrics registry, on a thread of libmicrohttpd's own. Anything else: 404;
 * methods other than GET/HEAD: 405. No TLS and no authentication: bind it to loopback (the
 * default) or a network only the monitoring can reach.
 */
#ifndef SISOPI_METRICS_HTTP_H
#define SISOPI_METRICS_HTTP_H

#include <stddef.h>

#include "metrics.h"

struct metrics_http;

/*
 * Listens on listen ("127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464"; port 0: any free port)
 * and serves m, which must outlive the server. Returns NULL with err (bad address, port in
 * use). metrics_http_port() tells the port actually bound.
 */
struct metrics_http *metrics_http_start(struct metrics *m, const char *listen, char *err,
                                        size_t errlen);
int metrics_http_port(const struct metrics_http *h);
void metrics_http_stop(struct metrics_http *h); /* NULL is fine */

/* Splits "host:port" / "[v6]:port" into a socket address; the port may be written BASE+N
 * (what a templated unit passes: 127.0.0.1:9470+%i). Returns 0 or -1 with err. */
struct sockaddr_storage;
int metrics_parse_listen(const char *listen, struct sockaddr_storage *out, size_t *len, char *err,
                         size_t errlen);

#endif
