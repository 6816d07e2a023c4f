/*
 * sisopi-api: the HTTP import: schools upload their exports (JSON API and a web page), see a
 * dry run computed from the directory, start the import and follow it to its outcome.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "api_http.h"
#include "api_server.h"
#include "cli.h"
#include "ingest.h"
#include "kafka_client.h"
#include "log.h"
#include "strutil.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: sisopi-api [-c FILE] [--bootstrap SERVERS] [--listen HOST:PORT]\n"
            "\n"
            "Serves the HTTP import: a JSON API under /api/v1/ and the web page at /, with\n"
            "/metrics and /healthz. Callers log in with their directory account; import\n"
            "groups in the directory say which schools and roles each may import. Uploads\n"
            "go through the same checks and publisher as sisopi-ingest.\n"
            "\n"
            "  -c, --config FILE      config file (default $%s or %s)\n"
            "  -b, --bootstrap SERVERS\n"
            "                         Kafka bootstrap servers (overrides the config and\n"
            "                         $%s)\n"
            "  -l, --listen HOST:PORT listen there (default api.listen; port 0: any free one,\n"
            "                         logged as api_listening)\n"
            "  -h, --help             this help\n"
            "  -V, --version          version\n"
            "\n"
            "Exit codes: 0 stopped by SIGTERM or SIGINT; 1 could not start (config, state\n"
            "directory, address, certificate); 64 bad command line.\n",
            CLI_ENV_CONFIG, CLI_DEFAULT_CONFIG, CONFIG_ENV_BOOTSTRAP);
}

void api_count_reply(struct api *api, unsigned status)
{
    pthread_mutex_lock(&api->stats_lock);
    if (status < 600)
        api->replies[status]++;
    pthread_mutex_unlock(&api->stats_lock);
}

void api_count_login(struct api *api, int rc)
{
    pthread_mutex_lock(&api->stats_lock);
    if (rc >= 0 && rc < 4)
        api->logins[rc]++;
    pthread_mutex_unlock(&api->stats_lock);
}

void api_count_import(struct api *api, bool dryrun, int rc)
{
    pthread_mutex_lock(&api->stats_lock);
    if (rc >= 0 && rc < 4)
        api->imports[dryrun][rc]++;
    pthread_mutex_unlock(&api->stats_lock);
}

static void publish_metrics(struct api *api)
{
    static const char *const login_results[] = {"ok", "denied", "limited", "unavailable"};
    static const char *const import_results[] = {"ok", "invalid_file", "unavailable", "failed"};
    char lab[128]; /* metrics_label appends: each set of labels starts empty */
    pthread_mutex_lock(&api->stats_lock);
    for (int i = 0; i < 4; i++) {
        lab[0] = '\0';
        metrics_label(lab, sizeof(lab), "result", login_results[i]);
        metrics_set(api->metrics, "sisopi_api_logins_total", lab, (double)api->logins[i]);
        for (int d = 0; d < 2; d++) {
            lab[0] = '\0';
            metrics_label(lab, sizeof(lab), "dryrun", d ? "true" : "false");
            metrics_label(lab, sizeof(lab), "result", import_results[i]);
            metrics_set(api->metrics, "sisopi_api_uploads_total", lab, (double)api->imports[d][i]);
        }
    }
    for (unsigned s = 100; s < 600; s++) {
        if (!api->replies[s])
            continue;
        char code[8];
        snprintf(code, sizeof(code), "%u", s);
        lab[0] = '\0';
        metrics_label(lab, sizeof(lab), "code", code);
        metrics_set(api->metrics, "sisopi_api_responses_total", lab, (double)api->replies[s]);
    }
    pthread_mutex_unlock(&api->stats_lock);
    char why[600];
    bool ok = api_jobs_following(api->jobs, why, sizeof(why));
    metrics_health(api->metrics, ok, ok ? "ok" : why);
    metrics_heartbeat(api->metrics);
}

static rd_kafka_t *make_producer(const struct config *cfg)
{
    char err[512];
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, sizeof(err));
    if (!conf) {
        fprintf(stderr, "sisopi-api: %s\n", err);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, ingest_dr_cb);
    rd_kafka_t *rk = kafka_producer_new(conf, err, sizeof(err));
    if (!rk)
        fprintf(stderr, "sisopi-api: %s\n", err);
    return rk;
}

static int serve(struct api *api)
{
    char err[512];
    struct api_server *srv = NULL;
    if (api_jobs_follow_start(api->jobs, err, sizeof(err)) < 0 ||
        !(srv = api_server_start(api, err, sizeof(err)))) {
        fprintf(stderr, "sisopi-api: %s\n", err);
        return EXIT_FAILED;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", api_server_port(srv));
    log_kv(LEVEL_INFO, "api_listening", "listen", api->cfg->api.listen, "port", port, "tls",
           api->cfg->api.tls_cert ? "yes" : "no", NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    struct timespec tick = {.tv_sec = 1};
    for (;;) {
        publish_metrics(api);
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    log_kv(LEVEL_INFO, "api_stopping", NULL);
    api_server_stop(srv);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_SHARED_OPTIONS, {"listen", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0}};
    struct cli_shared sh = {0};
    const char *listen = NULL;
    int c, rc;
    while ((c = getopt_long(argc, argv, CLI_SHARED_SHORT "l:", opts, NULL)) != -1) {
        if (c == 'l') {
            listen = optarg;
        } else if ((rc = cli_shared_option(c, optarg, "api", usage, &sh)) != CLI_GO_ON) {
            return rc;
        }
    }
    if ((rc = cli_no_operands("api", argc, argv, optind)) != CLI_GO_ON)
        return rc;
    /* SIGTERM and SIGINT are taken by sigtimedwait in serve(); every thread inherits the mask.
     * A client or server that goes away must not kill the process. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct config cfg;
    if (cli_load(&cfg, "api", sh.config, sh.bootstrap) < 0)
        return EXIT_FAILED;
    if (listen) {
        free(cfg.api.listen);
        cfg.api.listen = xstrdup(listen);
    }
    struct api api = {.cfg = &cfg};
    pthread_mutex_init(&api.ingest_lock, NULL);
    pthread_mutex_init(&api.stats_lock, NULL);
    api.metrics = metrics_new("api");
    metrics_declare(api.metrics, "sisopi_api_responses_total", METRICS_COUNTER,
                    "HTTP responses by status code");
    metrics_declare(api.metrics, "sisopi_api_logins_total", METRICS_COUNTER,
                    "logins (Basic or token requests) by result");
    metrics_declare(api.metrics, "sisopi_api_uploads_total", METRICS_COUNTER,
                    "uploads by dry run and result (ok: a job was made)");
    metrics_set_stale_after(api.metrics, 30);
    char err[512];
    rc = EXIT_FAILED;
    if (!(api.auth = api_auth_new(&cfg, err, sizeof(err))) ||
        !(api.jobs = api_jobs_open(&cfg, err, sizeof(err)))) {
        fprintf(stderr, "sisopi-api: %s\n", err);
        goto out;
    }
    if (!(api.producer = make_producer(&cfg)))
        goto out;
    rc = serve(&api);
out:
    api_jobs_free(api.jobs);
    if (api.producer) {
        rd_kafka_flush(api.producer, 10000);
        rd_kafka_destroy(api.producer);
    }
    api_auth_free(api.auth);
    metrics_free(api.metrics);
    pthread_mutex_destroy(&api.ingest_lock);
    pthread_mutex_destroy(&api.stats_lock);
    config_free(&cfg);
    return rc;
}
