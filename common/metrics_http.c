/*
 * metrics_http: libmicrohttpd with its internal polling thread; each answer is rendered into
 * memory under the registry's lock and handed over as a copy.
 */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "strutil.h"

struct metrics_http {
    struct MHD_Daemon *d;
    struct metrics *m;
    int port;
};

int metrics_parse_listen(const char *listen, struct sockaddr_storage *out, size_t *len, char *err,
                         size_t n)
{
    const char *colon = strrchr(listen ? listen : "", ':');
    if (!colon || colon == listen) {
        snprintf(err, n, "\"%s\": not HOST:PORT", listen ? listen : "");
        return -1;
    }
    char host[64];
    size_t hl = (size_t)(colon - listen);
    if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']') {
        listen++;
        hl -= 2;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    bool digits = end != colon + 1;
    /* PORT+N: a templated systemd unit (sisopi-reconciler@N) cannot add, so it passes
     * BASE+%i and instance 10 listens on BASE+10. */
    if (digits && *end == '+') {
        const char *off = end + 1;
        long plus = strtol(off, &end, 10);
        digits = end != off && *off >= '0' && *off <= '9';
        port += plus;
    }
    if (hl >= sizeof(host) || *end || !digits || port < 0 || port > 65535) {
        snprintf(err, n, "\"%s\": not HOST:PORT (or HOST:PORT+N) with a port up to 65535", listen);
        return -1;
    }
    memcpy(host, listen, hl);
    host[hl] = '\0';
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
    } else {
        snprintf(err, n, "\"%s\": the host must be a numeric IPv4 or IPv6 address", host);
        return -1;
    }
    return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    struct metrics_http *h = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return MHD_NO;
    unsigned status = MHD_HTTP_OK;
    const char *type = "text/plain; charset=utf-8";
    if (strcmp(url, "/metrics") == 0) {
        metrics_render(h->m, f);
        type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (strcmp(url, "/healthz") == 0) {
        char *why = NULL;
        if (!metrics_healthy(h->m, &why))
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
        fprintf(f, "%s\n", why);
        free(why);
    } else {
        status = MHD_HTTP_NOT_FOUND;
        fputs("not found: try /metrics or /healthz\n", f);
    }
    fclose(f);
    enum MHD_Result rc = reply(c, status, type, buf, len);
    free(buf);
    return rc;
}

struct metrics_http *metrics_http_start(struct metrics *m, const char *listen, char *err, size_t n)
{
    struct sockaddr_storage sa;
    size_t salen = 0;
    if (metrics_parse_listen(listen, &sa, &salen, err, n) < 0)
        return NULL;
    struct metrics_http *h = xcalloc(1, sizeof(*h));
    h->m = m;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Port 0 in the address asks the kernel for a free one; MHD's own port argument is then
     * ignored. */
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, answer, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, 16u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, n, "metrics: cannot listen on %s (in use, or not an address of this host)",
                 listen);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    return h;
}

int metrics_http_port(const struct metrics_http *h)
{
    return h ? h->port : 0;
}

void metrics_http_stop(struct metrics_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
