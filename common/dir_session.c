/*
 * dir_session: connect, TLS and bind for one libldap handle.
 */
#include "dir_session.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "strutil.h"

static void set_timeval(struct timeval *tv, int ms)
{
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

void dir_session_set_timeouts(LDAP *ld, int network_ms, int result_ms)
{
    struct timeval net, res;
    set_timeval(&net, network_ms);
    set_timeval(&res, result_ms);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &res); /* bounds synchronous calls: bind, StartTLS */
}

void dir_session_guard_begin(struct dir_session_guard *g)
{
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
}

void dir_session_guard_end(struct dir_session_guard *g)
{
    if (!sigismember(&g->old, SIGPIPE)) {
        /* The outermost guard: discard a SIGPIPE our writes raised before unblocking. */
        sigset_t pending, pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        const struct timespec zero = {0, 0};
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
            sigtimedwait(&pipe, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

void dir_session_close(LDAP *ld)
{
    if (!ld)
        return;
    struct dir_session_guard g;
    dir_session_guard_begin(&g);
    ldap_unbind_ext(ld, NULL, NULL);
    dir_session_guard_end(&g);
}

/* "URI: WHAT: Invalid credentials (49): server message"; returns rc. With tls set, a failure
 * that libldap leaves unexplained (GnuTLS's verification errors reach it as "(unknown error
 * code)") is explained by what must hold for TLS to succeed, and returned as
 * LDAP_CONNECT_ERROR. */
static int fail_msg(const struct dir_session_params *p, LDAP *ld, int rc, const char *what,
                    bool tls, char *err, size_t n)
{
    char *diag = NULL;
    if (ld)
        ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    const char *why = diag ? diag : "";
    char hint[600];
    if (tls && (strcmp(why, "(unknown error code)") == 0 || (!*why && rc == LDAP_CONNECT_ERROR))) {
        rc = LDAP_CONNECT_ERROR; /* ldaps:// reports LDAP_SERVER_DOWN: not a reason to retry */
        snprintf(hint, sizeof(hint),
                 "TLS handshake failed: is the server certificate issued by a CA in %s, valid "
                 "now, and made out to the host in the URI?",
                 p->ca_file ? p->ca_file : "the system's CA list (ldap.ca_file is not set)");
        why = hint;
    }
    snprintf(err, n, "%s: %s: %s (%d)%s%s", p->uri, what, ldap_err2string(rc), rc, *why ? ": " : "",
             why);
    ldap_memfree(diag);
    return rc;
}

/* Says which setting ran out, so that a slow remote directory is told from a dead one. */
static void timeout_hint(char *err, size_t n, const char *what, int ms, const char *key)
{
    size_t len = strnlen(err, n);
    if (len + 1 < n)
        snprintf(err + len, n - len, "; %s within %g s (%s)", what, ms / 1000.0, key);
}

/* GnuTLS takes a file without any certificate as an empty CA list, and every handshake then
 * fails for a reason libldap cannot name: say so up front. */
static int check_ca_file(const struct dir_session_params *p, char *err, size_t n)
{
    FILE *f = fopen(p->ca_file, "r");
    if (!f) {
        snprintf(err, n, "%s: cannot read ldap.ca_file %s: %s", p->uri, p->ca_file,
                 strerror(errno));
        return LDAP_LOCAL_ERROR;
    }
    char line[256];
    bool found = false;
    for (int i = 0; i < 100000 && !found && fgets(line, sizeof(line), f); i++)
        found = strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0;
    fclose(f);
    if (!found) {
        snprintf(err, n, "%s: ldap.ca_file %s holds no PEM certificate", p->uri, p->ca_file);
        return LDAP_LOCAL_ERROR;
    }
    return LDAP_SUCCESS;
}

/* Options of a fresh handle; TLS needs them before the connection is opened. */
static int set_options(const struct dir_session_params *p, LDAP *ld, bool tls, char *err, size_t n)
{
    int v3 = LDAP_VERSION3, rc;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    /* A signal (SIGCHLD, a shutdown flag handler) must not look like a lost connection. */
    ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
    dir_session_set_timeouts(ld, p->network_ms, p->result_ms);
    /* A peer that vanishes without a FIN (cable, firewall state) is noticed within ~90 s. */
    int idle = 60, probes = 3, interval = 10;
    ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_IDLE, &idle);
    ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_PROBES, &probes);
    ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_INTERVAL, &interval);
    if (!tls)
        return LDAP_SUCCESS;
    if (p->ca_file && (rc = check_ca_file(p, err, n)) != LDAP_SUCCESS)
        return rc;
    int demand = LDAP_OPT_X_TLS_DEMAND, is_server = 0;
    if ((rc = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand)) != LDAP_OPT_SUCCESS ||
        (p->ca_file &&
         (rc = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, p->ca_file)) != LDAP_OPT_SUCCESS) ||
        (rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server)) != LDAP_OPT_SUCCESS) {
        /* NEWCTX fails for an unreadable or malformed CA file. */
        snprintf(err, n, "%s: cannot set up TLS with ca_file %s: %s (%d)", p->uri,
                 p->ca_file ? p->ca_file : "(system CAs)", ldap_err2string(rc), rc);
        return rc == LDAP_OPT_ERROR ? LDAP_LOCAL_ERROR : rc;
    }
    return LDAP_SUCCESS;
}

static int do_bind(const struct dir_session_params *p, LDAP *ld, char *err, size_t n)
{
    int rc;
    if (!p->bind_dn || !*p->bind_dn) {
        if (strncmp(p->uri, "ldapi://", 8) != 0) {
            snprintf(err, n, "%s: ldap.bind_dn is not set (only ldapi:// binds without one)",
                     p->uri);
            return LDAP_PARAM_ERROR;
        }
        /* An empty initial response (no authzid): one round trip, no SASL interaction. */
        struct berval none = {0, (char *)""};
        rc = ldap_sasl_bind_s(ld, NULL, "EXTERNAL", &none, NULL, NULL, NULL);
        return rc ? fail_msg(p, ld, rc, "SASL EXTERNAL bind failed", false, err, n) : LDAP_SUCCESS;
    }
    struct config tmp = {0};
    tmp.ldap.password_file = (char *)p->password_file;
    char perr[CONFIG_ERRSTR_SIZE];
    char *pw = config_read_password(&tmp, perr, sizeof(perr));
    if (!pw) {
        snprintf(err, n, "%s: bind as %s: %s", p->uri, p->bind_dn, perr);
        return LDAP_LOCAL_ERROR;
    }
    size_t len = strlen(pw);
    struct berval cred = {len, pw};
    rc = ldap_sasl_bind_s(ld, p->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    explicit_bzero(pw, len);
    free(pw);
    if (rc != LDAP_SUCCESS) {
        char what[512];
        snprintf(what, sizeof(what), "bind as %s failed", p->bind_dn);
        return fail_msg(p, ld, rc, what, false, err, n);
    }
    return LDAP_SUCCESS;
}

static int session_open(const struct dir_session_params *p, LDAP **out, char *err, size_t n)
{
    LDAP *ld = NULL;
    *out = NULL;
    bool ldaps = strncmp(p->uri, "ldaps://", 8) == 0, starttls = p->starttls && !ldaps;
    int rc = ldap_initialize(&ld, p->uri);
    if (rc != LDAP_SUCCESS) {
        snprintf(err, n, "%s: not a usable LDAP URI: %s (%d)", p->uri, ldap_err2string(rc), rc);
        log_kv(LEVEL_WARN, "ldap_connect_failed", "uri", p->uri, "error", err, NULL);
        return rc;
    }
    if ((rc = set_options(p, ld, ldaps || starttls, err, n)) != LDAP_SUCCESS)
        goto fail;
    /* Connect first, so that "cannot reach" and "bind refused" read differently. */
    errno = 0;
    if ((rc = ldap_connect(ld)) != LDAP_SUCCESS) {
        int e = errno;
        rc = fail_msg(p, ld, rc, ldaps ? "cannot connect (TLS)" : "cannot connect", ldaps, err, n);
        if (e == ETIMEDOUT || rc == LDAP_TIMEOUT)
            timeout_hint(err, n, "no connection", p->network_ms, "ldap.connect_timeout");
        goto fail;
    }
    if (starttls && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
        int timed_out = rc == LDAP_TIMEOUT;
        rc = fail_msg(p, ld, rc, "StartTLS failed", true, err, n);
        if (timed_out)
            timeout_hint(err, n, "no answer", p->result_ms, "ldap.timeout");
        goto fail;
    }
    if ((rc = do_bind(p, ld, err, n)) != LDAP_SUCCESS) {
        if (rc == LDAP_TIMEOUT)
            timeout_hint(err, n, "no answer", p->result_ms, "ldap.timeout");
        goto fail;
    }
    log_kv(LEVEL_INFO, "ldap_connected", "uri", p->uri, "bind_dn",
           p->bind_dn && *p->bind_dn ? p->bind_dn : "(SASL EXTERNAL)", "tls",
           ldaps      ? "ldaps"
           : starttls ? "starttls"
                      : "none",
           NULL);
    *out = ld;
    return LDAP_SUCCESS;
fail:
    log_kv(LEVEL_WARN, "ldap_connect_failed", "uri", p->uri, "error", err, NULL);
    ldap_unbind_ext(ld, NULL, NULL);
    return rc;
}

int dir_session_open(const struct dir_session_params *p, LDAP **out, char *err, size_t n)
{
    struct dir_session_guard g;
    dir_session_guard_begin(&g);
    int rc = session_open(p, out, err, n);
    dir_session_guard_end(&g);
    return rc;
}
