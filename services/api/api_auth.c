/*
 * api_auth: logins against the directory, the token table and the failed-login counters, each
 * under one mutex; the directory is asked outside it.
 */
#include "api_auth.h"

#include <ldap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "dir_escape.h"
#include "dir_session.h"
#include "log.h"
#include "strmap.h"
#include "strutil.h"

#define MAX_LIMIT_ENTRIES 100000 /* failed-login counters kept; beyond, all are forgotten */
#define MAX_TOKENS        100000 /* live tokens; beyond, the expired ones are dropped */

struct token {
    struct api_principal p;
    time_t expires; /* 0: revoked */
};

struct failures {
    int count;
    time_t since;
};

struct api_auth {
    const struct config *cfg;
    pthread_mutex_t lock;
    struct strmap *tokens;   /* token -> struct token */
    struct strmap *failures; /* "a:ADDRESS" / "u:USERNAME" -> struct failures */
};

static time_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

struct api_auth *api_auth_new(const struct config *cfg, char *err, size_t n)
{
    if (!cfg->ldap.uri || !*cfg->ldap.uri) {
        snprintf(err, n, "%s: ldap.uri: not set (the API checks logins against the directory)",
                 cfg->path ? cfg->path : "");
        return NULL;
    }
    struct api_auth *a = xcalloc(1, sizeof(*a));
    a->cfg = cfg;
    pthread_mutex_init(&a->lock, NULL);
    a->tokens = strmap_new(false);
    a->failures = strmap_new(true);
    return a;
}

static void free_token(void *v)
{
    struct token *t = v;
    api_principal_free(&t->p);
    free(t);
}

void api_auth_free(struct api_auth *a)
{
    if (!a)
        return;
    strmap_free(a->tokens, free_token);
    strmap_free(a->failures, free);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

int64_t api_auth_token_lifetime(const struct api_auth *a)
{
    return a->cfg->api.token_lifetime_seconds;
}

/* ---- failed logins ---- */

/* Seconds until key may try again (0: now). Caller holds the lock. */
static int limited_for(struct api_auth *a, const char *key, time_t now)
{
    const struct failures *f = strmap_get(a->failures, key);
    int64_t window = a->cfg->api.login_window_seconds;
    int limit = key[0] == 'a' ? a->cfg->api.login_failures_per_address : a->cfg->api.login_failures;
    if (!f || f->count < limit || now - f->since >= window)
        return 0;
    return (int)(window - (now - f->since)) + 1;
}

static void count_failure(struct api_auth *a, const char *key, time_t now)
{
    if (strmap_count(a->failures) >= MAX_LIMIT_ENTRIES) {
        /* Someone tries very many names or addresses: forgetting the counters is safer than
         * growing without bound; the directory's own password policy still applies. */
        strmap_free(a->failures, free);
        a->failures = strmap_new(true);
        log_kv(LEVEL_WARN, "login_counters_reset", "msg",
               "too many distinct failed logins to count; counters reset", NULL);
    }
    void **slot = strmap_slot(a->failures, key, NULL);
    struct failures *f = *slot;
    if (!f)
        *slot = f = xcalloc(1, sizeof(*f));
    if (f->count == 0 || now - f->since >= a->cfg->api.login_window_seconds) {
        f->count = 0;
        f->since = now;
    }
    f->count++;
}

static void clear_failures(struct api_auth *a, const char *key)
{
    struct failures *f = strmap_get(a->failures, key);
    if (f)
        f->count = 0;
}

/* ---- the directory ---- */

static bool ldap_unavailable(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ||
           rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY || rc == LDAP_LOCAL_ERROR ||
           rc == LDAP_TIMELIMIT_EXCEEDED || rc == LDAP_OTHER;
}

static int network_ms(const struct config *cfg)
{
    return (int)cfg->ldap.connect_timeout_seconds * 1000;
}

static int result_ms(const struct config *cfg)
{
    return (int)cfg->ldap.timeout_seconds * 1000;
}

/* The service's own bound handle. */
static int service_open(const struct config *cfg, LDAP **ld)
{
    struct dir_session_params p = {
        .uri = cfg->ldap.uri,
        .bind_dn = cfg->ldap.bind_dn,
        .password_file = cfg->ldap.password_file,
        .ca_file = cfg->ldap.ca_file,
        .starttls = cfg->ldap.starttls,
        .network_ms = network_ms(cfg),
        .result_ms = result_ms(cfg),
    };
    char err[512];
    int rc = dir_session_open(&p, ld, err, sizeof(err));
    if (rc != LDAP_SUCCESS)
        log_kv(LEVEL_ERROR, "login_directory_failed", "error", err, NULL);
    return rc;
}

/* The DN of the person with this uid, and the uid as the directory spells it (uid matches
 * case-insensitively): 0, 1 (none, or not exactly one), or -1 (unavailable). */
static int find_dn(LDAP *ld, const struct config *cfg, const char *username, char **dn, char **uid)
{
    char *v = dir_escape_filter_value(username);
    char *filter = xasprintf("(&(objectClass=inetOrgPerson)(uid=%s))", v);
    char *attrs[] = {"uid", NULL};
    LDAPMessage *res = NULL;
    struct timeval tv = {.tv_sec = cfg->ldap.timeout_seconds};
    int rc = ldap_search_ext_s(ld, cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL,
                               &tv, 2, &res);
    free(v);
    free(filter);
    int out = 1;
    if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
        if (rc == LDAP_SUCCESS && ldap_count_entries(ld, res) == 1) {
            LDAPMessage *e = ldap_first_entry(ld, res);
            char *d = ldap_get_dn(ld, e);
            if (d) {
                *dn = xstrdup(d);
                ldap_memfree(d);
                out = 0;
                struct berval **vals = ldap_get_values_len(ld, e, "uid");
                for (size_t i = 0; vals && vals[i]; i++)
                    if ((size_t)vals[i]->bv_len == strlen(username) &&
                        strncasecmp(vals[i]->bv_val, username, vals[i]->bv_len) == 0)
                        *uid = xstrndup(vals[i]->bv_val, vals[i]->bv_len);
                ldap_value_free_len(vals);
            }
        }
    } else if (ldap_unavailable(rc) || rc == LDAP_NO_SUCH_OBJECT) {
        log_kv(LEVEL_ERROR, "login_directory_failed", "error", ldap_err2string(rc), NULL);
        out = -1;
    }
    ldap_msgfree(res);
    return out;
}

/* Binds as dn with password on a connection of its own: 0 accepted, 1 refused, -1 unavailable. */
static int user_bind(const struct config *cfg, const char *dn, const char *password)
{
    LDAP *ld = NULL;
    struct dir_session_guard g;
    int out = -1, rc;
    dir_session_guard_begin(&g);
    if ((rc = ldap_initialize(&ld, cfg->ldap.uri)) != LDAP_SUCCESS)
        goto out;
    int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    dir_session_set_timeouts(ld, network_ms(cfg), result_ms(cfg));
    if (cfg->ldap.ca_file)
        ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, cfg->ldap.ca_file);
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
    if (cfg->ldap.starttls && strncasecmp(cfg->ldap.uri, "ldaps://", 8) != 0 &&
        (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS)
        goto out;
    struct berval cred = {.bv_len = strlen(password), .bv_val = (char *)password};
    rc = ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    out = rc == LDAP_SUCCESS ? 0 : ldap_unavailable(rc) ? -1 : 1;
out:
    if (out < 0)
        log_kv(LEVEL_ERROR, "login_directory_failed", "error", ldap_err2string(rc), NULL);
    if (ld)
        ldap_unbind_ext_s(ld, NULL, NULL);
    dir_session_guard_end(&g);
    return out;
}

static void grant(struct api_principal *p, const char *school, unsigned roles)
{
    for (size_t i = 0; i < p->n_grants; i++)
        if (strcasecmp(p->grants[i].school, school) == 0) {
            p->grants[i].roles |= roles;
            return;
        }
    p->grants = xrealloc(p->grants, (p->n_grants + 1) * sizeof(*p->grants));
    p->grants[p->n_grants].school = xstrdup(school);
    p->grants[p->n_grants++].roles = roles;
}

/* The import groups dn is a member of, as grants. 0 or -1 (unavailable). */
static int read_grants(LDAP *ld, const struct config *cfg, struct api_principal *p)
{
    char *v = dir_escape_filter_value(p->dn);
    char *filter = xasprintf("(&(objectClass=ucsschoolImportGroup)(member=%s))", v);
    char *attrs[] = {"ucsschoolImportSchool", "ucsschoolImportRole", NULL};
    LDAPMessage *res = NULL;
    struct timeval tv = {.tv_sec = cfg->ldap.timeout_seconds};
    int rc = ldap_search_ext_s(ld, cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL,
                               &tv, 0, &res);
    free(v);
    free(filter);
    if (rc != LDAP_SUCCESS) {
        log_kv(LEVEL_ERROR, "login_directory_failed", "error", ldap_err2string(rc), NULL);
        ldap_msgfree(res);
        return -1;
    }
    for (LDAPMessage *e = ldap_first_entry(ld, res); e; e = ldap_next_entry(ld, e)) {
        struct berval **schools = ldap_get_values_len(ld, e, "ucsschoolImportSchool");
        struct berval **roles = ldap_get_values_len(ld, e, "ucsschoolImportRole");
        unsigned mask = 0;
        for (size_t i = 0; roles && roles[i]; i++) {
            char *r = xstrndup(roles[i]->bv_val, roles[i]->bv_len);
            enum role role;
            if (role_parse(r, &role) == 0)
                mask |= 1u << role;
            free(r);
        }
        for (size_t i = 0; mask && schools && schools[i]; i++) {
            char *s = xstrndup(schools[i]->bv_val, schools[i]->bv_len);
            if (str_is_school_name(s) && strcasecmp(s, cfg->import.limbo_ou) != 0)
                grant(p, s, mask);
            free(s);
        }
        ldap_value_free_len(schools);
        ldap_value_free_len(roles);
    }
    ldap_msgfree(res);
    return 0;
}

enum api_auth_rc api_auth_login(struct api_auth *a, const char *username, const char *password,
                                const char *address, struct api_principal *out, int *retry_after)
{
    memset(out, 0, sizeof(*out));
    *retry_after = 0;
    char *akey = xasprintf("a:%s", address ? address : "?");
    char *ukey = xasprintf("u:%s", username ? username : "");
    time_t now = now_s();
    pthread_mutex_lock(&a->lock);
    int wait_a = limited_for(a, akey, now), wait_u = limited_for(a, ukey, now);
    pthread_mutex_unlock(&a->lock);
    enum api_auth_rc rc = API_AUTH_DENIED;
    if (wait_a || wait_u) {
        *retry_after = wait_a > wait_u ? wait_a : wait_u;
        log_kv(LEVEL_WARN, "login_limited", "address", address, "username", username, NULL);
        rc = API_AUTH_LIMITED;
        goto out;
    }
    /* An empty password would be an unauthenticated bind, which LDAP accepts as anonymous. */
    if (!username || !*username || !password || !*password || strlen(username) > 256)
        goto failed;
    LDAP *ld = NULL;
    int lrc = service_open(a->cfg, &ld);
    if (lrc != LDAP_SUCCESS) {
        rc = API_AUTH_UNAVAILABLE;
        goto out;
    }
    char *dn = NULL, *uid = NULL;
    int found = find_dn(ld, a->cfg, username, &dn, &uid);
    int bound = found == 0 ? user_bind(a->cfg, dn, password) : found;
    if (found < 0 || bound < 0) {
        rc = API_AUTH_UNAVAILABLE;
    } else if (bound == 0) {
        out->username = xstrdup(uid ? uid : username);
        out->dn = dn;
        dn = NULL;
        rc = read_grants(ld, a->cfg, out) == 0 ? API_AUTH_OK : API_AUTH_UNAVAILABLE;
        if (rc != API_AUTH_OK)
            api_principal_free(out);
    }
    free(dn);
    free(uid);
    dir_session_close(ld);
    if (rc == API_AUTH_OK) {
        pthread_mutex_lock(&a->lock);
        clear_failures(a, ukey);
        pthread_mutex_unlock(&a->lock);
        log_kv(LEVEL_INFO, "login", "address", address, "username", username, NULL);
        goto out;
    }
    if (rc != API_AUTH_DENIED)
        goto out;
failed:
    pthread_mutex_lock(&a->lock);
    count_failure(a, akey, now);
    count_failure(a, ukey, now);
    pthread_mutex_unlock(&a->lock);
    log_kv(LEVEL_WARN, "login_failed", "address", address, "username", username, NULL);
    rc = API_AUTH_DENIED;
out:
    free(akey);
    free(ukey);
    return rc;
}

/* ---- tokens ---- */

static void base64url(const unsigned char *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = abc[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = abc[v & 63];
    }
    out[o] = '\0';
}

static void drop_expired(const char *key, void *value, void *opaque)
{
    (void)key;
    struct token *t = value;
    if (t->expires <= *(time_t *)opaque) {
        api_principal_free(&t->p);
        t->expires = 0;
    }
}

int api_auth_token_new(struct api_auth *a, const struct api_principal *p, char *out, size_t outsz)
{
    unsigned char raw[32];
    if (outsz < API_TOKEN_LEN + 1 || getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -1;
    base64url(raw, sizeof(raw), out);
    struct token *t = xcalloc(1, sizeof(*t));
    api_principal_copy(&t->p, p);
    time_t now = now_s();
    t->expires = now + (time_t)a->cfg->api.token_lifetime_seconds;
    pthread_mutex_lock(&a->lock);
    if (strmap_count(a->tokens) >= MAX_TOKENS)
        strmap_each(a->tokens, drop_expired, &now);
    void **slot = strmap_slot(a->tokens, out, NULL);
    if (*slot)
        free_token(*slot);
    *slot = t;
    pthread_mutex_unlock(&a->lock);
    return 0;
}

enum api_auth_rc api_auth_token_get(struct api_auth *a, const char *token,
                                    struct api_principal *out)
{
    memset(out, 0, sizeof(*out));
    enum api_auth_rc rc = API_AUTH_DENIED;
    pthread_mutex_lock(&a->lock);
    struct token *t = strmap_get(a->tokens, token);
    if (t && t->expires > now_s()) {
        api_principal_copy(out, &t->p);
        rc = API_AUTH_OK;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

void api_auth_token_revoke(struct api_auth *a, const char *token)
{
    pthread_mutex_lock(&a->lock);
    struct token *t = strmap_get(a->tokens, token);
    if (t)
        t->expires = 0;
    pthread_mutex_unlock(&a->lock);
}

/* ---- principals ---- */

bool api_principal_may(const struct api_principal *p, const char *school, enum role role)
{
    for (size_t i = 0; i < p->n_grants; i++)
        if (strcasecmp(p->grants[i].school, school) == 0)
            return (p->grants[i].roles & (1u << role)) != 0;
    return false;
}

bool api_principal_sees(const struct api_principal *p, const char *school)
{
    for (size_t i = 0; i < p->n_grants; i++)
        if (strcasecmp(p->grants[i].school, school) == 0)
            return true;
    return false;
}

void api_principal_copy(struct api_principal *dst, const struct api_principal *src)
{
    dst->username = src->username ? xstrdup(src->username) : NULL;
    dst->dn = src->dn ? xstrdup(src->dn) : NULL;
    dst->n_grants = src->n_grants;
    dst->grants = src->n_grants ? xcalloc(src->n_grants, sizeof(*dst->grants)) : NULL;
    for (size_t i = 0; i < src->n_grants; i++) {
        dst->grants[i].school = xstrdup(src->grants[i].school);
        dst->grants[i].roles = src->grants[i].roles;
    }
}

void api_principal_free(struct api_principal *p)
{
    if (!p)
        return;
    free(p->username);
    free(p->dn);
    for (size_t i = 0; i < p->n_grants; i++)
        free(p->grants[i].school);
    free(p->grants);
    memset(p, 0, sizeof(*p));
}
