/*
 * api_server: the HTTP(S) listener of sisopi-api on libmicrohttpd: a thread per connection
 * (an import holds its request while it is read and published) within api.connection_limit
 * and api.per_ip_connection_limit, idle connections closed after api.connection_timeout, TLS
 * with GnuTLS when api.tls_cert/api.tls_key are set.
 */
#ifndef SISOPI_API_SERVER_H
#define SISOPI_API_SERVER_H

#include <stddef.h>

#include "api.h"

struct api_server;

/* Listens on api.listen (port 0: any free one). NULL with err. */
struct api_server *api_server_start(struct api *api, char *err, size_t errlen);
int api_server_port(const struct api_server *s);
void api_server_stop(struct api_server *s); /* NULL is fine */

#endif
