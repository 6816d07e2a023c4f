/*
 * config: loads and validates the libconfig file over the built-in defaults.
 * Unknown keys are errors (a typo must not silently fall back to a default).
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "metrics_http.h"
#include "scheme.h"
#include "strutil.h"

/* Where a validation error points: the file, the setting's line, its dotted path. */
struct cfg_ctx {
    const char *file;
    char *errstr;
    size_t errstr_size;
};

static int cfg_fail(struct cfg_ctx *c, const config_setting_t *s, const char *key, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static int cfg_fail(struct cfg_ctx *c, const config_setting_t *s, const char *key, const char *fmt,
                    ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line = s ? (int)config_setting_source_line(s) : 0;
    snprintf(c->errstr, c->errstr_size, "%s:%d: %s: %s", c->file, line, key, msg);
    return -1;
}

static void path_of(const config_setting_t *s, char *buf, size_t n)
{
    const char *parts[16];
    int depth = 0;
    for (const config_setting_t *p = s; p && depth < 16; p = config_setting_parent(p)) {
        if (config_setting_name(p))
            parts[depth++] = config_setting_name(p);
    }
    buf[0] = '\0';
    size_t used = 0;
    for (int i = depth - 1; i >= 0 && used < n; i--)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", parts[i], i ? "." : "");
}

/* Rejects any member of group s whose name is not in allowed (NULL-terminated). */
static int check_keys(struct cfg_ctx *c, const config_setting_t *s, const char *const *allowed)
{
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(m);
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, name) == 0;
        if (!ok) {
            char path[256];
            path_of(m, path, sizeof(path));
            return cfg_fail(c, m, path, "unknown setting (see deploy/sisopi.cfg.example)");
        }
    }
    return 0;
}

static int get_group(struct cfg_ctx *c, const config_setting_t *parent, const char *name,
                     const char *const *allowed, const config_setting_t **out)
{
    *out = parent ? config_setting_get_member(parent, name) : NULL;
    if (!*out)
        return 0;
    if (!config_setting_is_group(*out)) {
        char path[256];
        path_of(*out, path, sizeof(path));
        return cfg_fail(c, *out, path, "must be a group { ... }");
    }
    return allowed ? check_keys(c, *out, allowed) : 0;
}

/* Replaces *dst with the string member `name` of grp, if present. */
static int get_str(struct cfg_ctx *c, const config_setting_t *grp, const char *name, char **dst)
{
    const config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
    if (!s)
        return 0;
    char path[256];
    path_of(s, path, sizeof(path));
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return cfg_fail(c, s, path, "must be a string in double quotes");
    free(*dst);
    *dst = xstrdup(config_setting_get_string(s));
    return 0;
}

static int get_int(struct cfg_ctx *c, const config_setting_t *grp, const char *name, int64_t min,
                   int64_t max, int64_t *dst)
{
    const config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
    if (!s)
        return 0;
    char path[256];
    path_of(s, path, sizeof(path));
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
        return cfg_fail(c, s, path, "must be an integer");
    long long v = config_setting_get_int64(s);
    if (t == CONFIG_TYPE_INT)
        v = config_setting_get_int(s);
    if (v < min || v > max)
        return cfg_fail(c, s, path, "%lld is out of range %lld..%lld", v, (long long)min,
                        (long long)max);
    *dst = v;
    return 0;
}

static int get_int32(struct cfg_ctx *c, const config_setting_t *grp, const char *name, int min,
                     int max, int *dst)
{
    int64_t v = *dst;
    if (get_int(c, grp, name, min, max, &v) < 0)
        return -1;
    *dst = (int)v;
    return 0;
}

static int get_bool(struct cfg_ctx *c, const config_setting_t *grp, const char *name, bool *dst)
{
    const config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
    if (!s)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        char path[256];
        path_of(s, path, sizeof(path));
        return cfg_fail(c, s, path, "must be true or false");
    }
    *dst = config_setting_get_bool(s) != 0;
    return 0;
}

static int get_ratio(struct cfg_ctx *c, const config_setting_t *grp, const char *name, double *dst)
{
    const config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
    if (!s)
        return 0;
    char path[256];
    path_of(s, path, sizeof(path));
    double v;
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_FLOAT:
        v = config_setting_get_float(s);
        break;
    case CONFIG_TYPE_INT:
        v = config_setting_get_int(s);
        break;
    default:
        return cfg_fail(c, s, path, "must be a number between 0 and 1");
    }
    if (v < 0.0 || v > 1.0)
        return cfg_fail(c, s, path, "%g is not between 0 and 1", v);
    *dst = v;
    return 0;
}

/* A duration: "90d"/"12h"/"30m"/"45s" string, or an integer number of days. */
static int get_duration(struct cfg_ctx *c, const config_setting_t *grp, const char *name,
                        int64_t *dst)
{
    const config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
    if (!s)
        return 0;
    char path[256];
    path_of(s, path, sizeof(path));
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
        int64_t days = 0;
        if (get_int(c, grp, name, 0, 36500, &days) < 0)
            return -1;
        *dst = days * 86400;
        return 0;
    }
    if (t != CONFIG_TYPE_STRING || config_parse_duration(config_setting_get_string(s), dst) < 0)
        return cfg_fail(c, s, path, "must be a duration like \"90d\", \"12h\", \"30m\", \"45s\"");
    return 0;
}

int config_parse_duration(const char *s, int64_t *seconds)
{
    if (!s || !*s)
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -1;
    int64_t unit = 86400;
    if (*end) {
        switch (*end) {
        case 'd':
            unit = 86400;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'm':
            unit = 60;
            break;
        case 's':
            unit = 1;
            break;
        default:
            return -1;
        }
        if (end[1])
            return -1;
    }
    if (v > INT64_MAX / unit || v > 100LL * 365 * 86400)
        return -1;
    *seconds = (int64_t)v * unit;
    return 0;
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    struct kafka_config *k = &cfg->kafka;
    k->topic_users = xstrdup("sisopi.users");
    k->topic_events = xstrdup("sisopi.events");
    k->topic_dlq = xstrdup("sisopi.users.dlq");
    k->topic_journal = xstrdup("sisopi.reconciler.journal");
    k->partitions = 12;
    k->replication_factor = 3;

    struct dir_config *l = &cfg->ldap;
    l->uri = xstrdup("ldap://127.0.0.1:389/");
    l->account_key = "ldap";
    l->connect_timeout_seconds = 10;
    l->timeout_seconds = 60;
    l->users_container[ROLE_STUDENT] = xstrdup("schueler");
    l->users_container[ROLE_TEACHER] = xstrdup("lehrer");
    l->users_container[ROLE_STAFF] = xstrdup("mitarbeiter");
    l->users_container[ROLE_TEACHER_AND_STAFF] = xstrdup("lehrer und mitarbeiter");

    struct import_config *im = &cfg->import;
    im->limbo_ou = xstrdup("limbo");
    im->deletion_grace_seconds = 90LL * 86400;
    im->password_length = 15;
    im->class_replacement = xstrdup("-");
    im->scheme_username[ROLE_COUNT] = xstrdup("<:umlauts><firstname>[0].<lastname>[COUNTER2]");
    for (int r = 0; r < ROLE_COUNT; r++)
        im->username_max_length[r] = r == ROLE_STUDENT ? 15 : 20;
    im->deletion_guard_ratio = 0.2;
    im->deletion_guard_count = 500;
    im->csv.encoding = xstrdup("auto");
    im->csv.delimiters = xstrdup(",;\t");
    im->csv.incell_delimiter = xstrdup(",");
    im->csv.max_field_bytes = 4096;
    im->csv.max_line_bytes = 65536;
    im->csv.max_columns = 1024;

    cfg->reconciler.group_id = xstrdup("sisopi-reconciler");
    cfg->reconciler.state_dir = xstrdup("/var/lib/sisopi/reconciler");
    cfg->reconciler.window = 64;
    cfg->reconciler.batch_size = 1000;
    cfg->scheduler.sweep_interval_seconds = 3600;
    cfg->metrics.reconciler = xstrdup("127.0.0.1:9464");
    cfg->metrics.scheduler = xstrdup("127.0.0.1:9465");
    cfg->metrics.ingest = xstrdup("127.0.0.1:9466");
    cfg->api.listen = xstrdup("127.0.0.1:9480");
    cfg->api.state_dir = xstrdup("/var/lib/sisopi/api");
    cfg->api.max_upload_bytes = 16 << 20;
    cfg->api.max_jobs_per_school = 2;
    cfg->api.connection_limit = 64;
    cfg->api.per_ip_connection_limit = 16;
    cfg->api.connection_timeout_seconds = 30;
    cfg->api.token_lifetime_seconds = 900;
    cfg->api.login_failures = 5;
    cfg->api.login_failures_per_address = 50;
    cfg->api.login_window_seconds = 300;
    cfg->output.log_format = xstrdup("kv");
    cfg->output.log_level = xstrdup("info");
    cfg->connector.group_prefix = xstrdup("sisopi-connector-");
    cfg->connector.topic_dlq = xstrdup("sisopi.connector.dlq");
    cfg->connector.metrics = xstrdup("127.0.0.1:9467");
}

int config_csv_target(const char *name)
{
    static const struct {
        const char *name;
        enum csv_target t;
    } targets[] = {
        {"__ignore", CSV_T_IGNORE},
        {"record_uid", CSV_T_RECORD_UID},
        {"source_uid", CSV_T_SOURCE_UID},
        {"firstname", CSV_T_FIRSTNAME},
        {"lastname", CSV_T_LASTNAME},
        {"name", CSV_T_USERNAME},
        {"school", CSV_T_SCHOOL},
        {"schools", CSV_T_SCHOOLS},
        {"school_classes", CSV_T_SCHOOL_CLASSES},
        {"email", CSV_T_EMAIL},
        {"birthday", CSV_T_BIRTHDAY},
        {"password", CSV_T_PASSWORD},
    };
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        if (strcmp(name, targets[i].name) == 0)
            return (int)targets[i].t;
    }
    /* Anything else must be an LDAP attribute name (RFC 4512 descr). Attributes sisopi
     * manages itself are refused: a CSV column must not rewrite them behind its back. */
    static const char *const reserved[] = {"uid",
                                           "objectClass",
                                           "ucsschoolSchool",
                                           "ucsschoolRole",
                                           "ucsschoolSourceUID",
                                           "ucsschoolRecordUID",
                                           "ucsschoolPurgeTimestamp",
                                           "shadowExpire",
                                           "pwdAccountLockedTime",
                                           "userPassword",
                                           "cn",
                                           "sn",
                                           "givenName",
                                           "mail",
                                           "homeDirectory",
                                           "uidNumber",
                                           "gidNumber",
                                           "departmentNumber",
                                           NULL};
    if (!str_is_attr_name(name))
        return -1;
    for (const char *const *r = reserved; *r; r++) {
        if (strcasecmp(*r, name) == 0)
            return -1;
    }
    return CSV_T_EXTRA;
}

/* A list of [ "a", "b" (, "c") ] string arrays, as libconfig names cannot hold "." or
 * spaces. Fills up to 3 strings per element; *count gets the element's length. */
static int get_tuple(struct cfg_ctx *c, const config_setting_t *list, int i, int min, int max,
                     const char *what, const char **out, int *count)
{
    const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
    char path[256];
    path_of(list, path, sizeof(path));
    int n = config_setting_is_array(e) ? config_setting_length(e) : -1;
    if (n < min || n > max)
        return cfg_fail(c, e, path, "element %d must be %s", i + 1, what);
    for (int j = 0; j < n; j++) {
        out[j] = config_setting_get_string_elem(e, (unsigned)j);
        if (!out[j])
            return cfg_fail(c, e, path, "element %d must be %s", i + 1, what);
    }
    *count = n;
    return 0;
}

static const config_setting_t *get_list(struct cfg_ctx *c, const config_setting_t *grp,
                                        const char *name, int *n, int *rc)
{
    const config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
    *n = 0;
    *rc = 0;
    if (!s)
        return NULL;
    if (!config_setting_is_list(s) && !(config_setting_is_array(s) && !config_setting_length(s))) {
        char path[256];
        path_of(s, path, sizeof(path));
        *rc = cfg_fail(c, s, path, "must be a list ( [ \"...\", \"...\" ], ... )");
        return NULL;
    }
    *n = config_setting_length(s);
    return s;
}

/* The first line of a secret file, which group and others must not be able to read. NULL with
 * errstr ("PATH: what is wrong") otherwise. what names the file in errors. */
static char *read_secret_file(const char *path, const char *what, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open the %s: %s", path, what, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0077)) {
        snprintf(errstr, errstr_size,
                 "%s: the %s is readable by group or others (mode %03o); chmod 600 it", path, what,
                 (unsigned)(st.st_mode & 0777));
        fclose(f);
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    if (n <= 0) {
        free(line);
        snprintf(errstr, errstr_size, "%s: the %s is empty", path, what);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* A librdkafka property; "NAME_file" sets NAME to the first line of that file (a secret such
 * as sasl.password stays out of the config file; no librdkafka property ends in "_file"). */
static int add_property(struct cfg_ctx *c, const config_setting_t *s, struct kafka_config *k,
                        const char *key, const char *value)
{
    static const char suffix[] = "_file";
    size_t kl = strlen(key), sl = sizeof(suffix) - 1;
    char *name, *val;
    if (kl > sl && strcmp(key + kl - sl, suffix) == 0) {
        char why[CONFIG_ERRSTR_SIZE], path[256];
        name = xstrndup(key, kl - sl);
        snprintf(path, sizeof(path), "kafka.properties: %s", key);
        val = read_secret_file(value, "secret file", why, sizeof(why));
        if (!val) {
            free(name);
            return cfg_fail(c, s, path, "%s", why);
        }
    } else {
        name = xstrdup(key);
        val = xstrdup(value);
    }
    k->properties[k->n_properties].key = name;
    k->properties[k->n_properties++].value = val;
    return 0;
}

static int load_kafka(struct cfg_ctx *c, const config_setting_t *root, struct kafka_config *k)
{
    static const char *const keys[] = {"bootstrap",          "topics",     "partitions",
                                       "replication_factor", "properties", NULL};
    static const char *const topic_keys[] = {"users", "events", "dlq", "journal", NULL};
    const config_setting_t *g, *t, *p;
    int64_t parts = k->partitions, repl = k->replication_factor;
    if (get_group(c, root, "kafka", keys, &g) < 0 ||
        get_str(c, g, "bootstrap", &k->bootstrap) < 0 ||
        get_group(c, g, "topics", topic_keys, &t) < 0 ||
        get_str(c, t, "users", &k->topic_users) < 0 ||
        get_str(c, t, "events", &k->topic_events) < 0 || get_str(c, t, "dlq", &k->topic_dlq) < 0 ||
        get_str(c, t, "journal", &k->topic_journal) < 0 ||
        get_int(c, g, "partitions", 1, 10000, &parts) < 0 ||
        get_int(c, g, "replication_factor", 1, 100, &repl) < 0)
        return -1;
    k->partitions = (int)parts;
    k->replication_factor = (int)repl;
    int n, lrc;
    p = get_list(c, g, "properties", &n, &lrc);
    if (lrc < 0)
        return -1;
    k->properties = xcalloc((size_t)n + 1, sizeof(*k->properties));
    for (int i = 0; i < n; i++) {
        const char *v[3];
        int cnt;
        if (get_tuple(c, p, i, 2, 2, "[ \"property\", \"value\" ]", v, &cnt) < 0 ||
            add_property(c, config_setting_get_elem(p, (unsigned)i), k, v[0], v[1]) < 0)
            return -1;
    }
    return 0;
}

static const char *const account_programs[] = CONFIG_ACCOUNT_PROGRAMS;

/* ldap.accounts: { reconciler: { bind_dn = "..."; password_file = "..."; }; ... }. Both keys
 * are required: a program's own DN with the shared password (or the reverse) is a mistake. */
static int load_accounts(struct cfg_ctx *c, const config_setting_t *ldap, struct dir_config *l)
{
    static const char *const names[] = {"reconciler", "scheduler", "audit",     "ingest",
                                        "admin",      "api",       "connector", NULL};
    static const char *const keys[] = {"bind_dn", "password_file", NULL};
    const config_setting_t *g, *a;
    if (get_group(c, ldap, "accounts", names, &g) < 0)
        return -1;
    for (int i = 0; g && i < CONFIG_ACCOUNT_COUNT; i++) {
        struct dir_account *acc = &l->accounts[i];
        char path[256];
        if (get_group(c, g, account_programs[i], keys, &a) < 0)
            return -1;
        if (!a)
            continue;
        if (get_str(c, a, "bind_dn", &acc->bind_dn) < 0 ||
            get_str(c, a, "password_file", &acc->password_file) < 0)
            return -1;
        const char *missing = !acc->bind_dn || !*acc->bind_dn               ? "bind_dn"
                              : !acc->password_file || !*acc->password_file ? "password_file"
                                                                            : NULL;
        if (missing) {
            snprintf(path, sizeof(path), "ldap.accounts.%s.%s", account_programs[i], missing);
            return cfg_fail(c, a, path,
                            "must be set (a program's account needs both bind_dn "
                            "and password_file)");
        }
    }
    return 0;
}

void config_use_account(struct config *cfg, const char *program)
{
    /* Static storage: account_key outlives any caller's buffer. */
    static const char *const keys[] = {"ldap.accounts.reconciler", "ldap.accounts.scheduler",
                                       "ldap.accounts.audit",      "ldap.accounts.ingest",
                                       "ldap.accounts.admin",      "ldap.accounts.api",
                                       "ldap.accounts.connector"};
    struct dir_config *l = &cfg->ldap;
    for (int i = 0; program && i < CONFIG_ACCOUNT_COUNT; i++) {
        if (strcmp(program, account_programs[i]) != 0 || !l->accounts[i].bind_dn)
            continue;
        free(l->bind_dn);
        free(l->password_file);
        l->bind_dn = xstrdup(l->accounts[i].bind_dn);
        l->password_file = xstrdup(l->accounts[i].password_file);
        l->account_key = keys[i];
        return;
    }
}

static int load_ldap(struct cfg_ctx *c, const config_setting_t *root, struct dir_config *l)
{
    static const char *const keys[] = {"uri",
                                       "base",
                                       "bind_dn",
                                       "password_file",
                                       "starttls",
                                       "ca_file",
                                       "connect_timeout",
                                       "timeout",
                                       "containers",
                                       "accounts",
                                       NULL};
    static const char *const roles[] = {"student", "teacher", "staff", "teacher_and_staff", NULL};
    const config_setting_t *g, *ct;
    if (get_group(c, root, "ldap", keys, &g) < 0 || get_str(c, g, "uri", &l->uri) < 0 ||
        get_str(c, g, "base", &l->base) < 0 || get_str(c, g, "bind_dn", &l->bind_dn) < 0 ||
        get_str(c, g, "password_file", &l->password_file) < 0 ||
        get_bool(c, g, "starttls", &l->starttls) < 0 || get_str(c, g, "ca_file", &l->ca_file) < 0 ||
        get_duration(c, g, "connect_timeout", &l->connect_timeout_seconds) < 0 ||
        get_duration(c, g, "timeout", &l->timeout_seconds) < 0 ||
        get_group(c, g, "containers", roles, &ct) < 0 || load_accounts(c, g, l) < 0)
        return -1;
    /* 0 would fail every connect or every operation at once; a plain number is days, which
     * nobody means for a network wait. */
    if (l->connect_timeout_seconds < 1 || l->connect_timeout_seconds > 3600)
        return cfg_fail(c, config_setting_get_member(g, "connect_timeout"), "ldap.connect_timeout",
                        "must be between \"1s\" and \"1h\" (a plain number means days)");
    if (l->timeout_seconds < 1 || l->timeout_seconds > 86400)
        return cfg_fail(c, config_setting_get_member(g, "timeout"), "ldap.timeout",
                        "must be between \"1s\" and \"1d\" (a plain number means days)");
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (get_str(c, ct, roles[r], &l->users_container[r]) < 0)
            return -1;
    }
    if (strncmp(l->uri, "ldap://", 7) != 0 && strncmp(l->uri, "ldaps://", 8) != 0 &&
        strncmp(l->uri, "ldapi://", 8) != 0)
        return cfg_fail(c, config_setting_get_member(g, "uri"), "ldap.uri",
                        "\"%s\" is not an ldap://, ldaps:// or ldapi:// URI", l->uri);
    return 0;
}

static int load_mapping(struct cfg_ctx *c, const config_setting_t *csv, struct csv_config *cc)
{
    int n, rc;
    const config_setting_t *map = get_list(c, csv, "mapping", &n, &rc);
    if (rc < 0)
        return -1;
    cc->mapping = xcalloc((size_t)n + 1, sizeof(*cc->mapping));
    for (int i = 0; i < n; i++) {
        const char *v[3];
        int k;
        char path[256];
        if (get_tuple(c, map, i, 2, 3, "[ \"column\", \"target\" (, \"in-cell delimiter\") ]", v,
                      &k) < 0)
            return -1;
        const config_setting_t *e = config_setting_get_elem(map, (unsigned)i);
        snprintf(path, sizeof(path), "import.csv.mapping[%d]", i + 1);
        int t = config_csv_target(v[1]);
        if (!*v[0])
            return cfg_fail(c, e, path, "the column name is empty");
        if (t < 0)
            return cfg_fail(c, e, path,
                            "\"%s\" is neither a sisopi attribute nor an LDAP attribute a CSV may "
                            "set",
                            v[1]);
        for (size_t j = 0; j < cc->n_mapping; j++) {
            if (strcmp(cc->mapping[j].column, v[0]) == 0)
                return cfg_fail(c, e, path, "column \"%s\" is mapped twice", v[0]);
            if (t != CSV_T_IGNORE && t != CSV_T_EXTRA &&
                cc->mapping[j].target == (enum csv_target)t)
                return cfg_fail(c, e, path, "\"%s\" is already the target of column \"%s\"", v[1],
                                cc->mapping[j].column);
        }
        if (k == 3 && !*v[2])
            return cfg_fail(c, e, path, "the in-cell delimiter is empty");
        struct csv_column_map *cm = &cc->mapping[cc->n_mapping++];
        cm->column = xstrdup(v[0]);
        cm->target = (enum csv_target)t;
        cm->attribute = t == CSV_T_EXTRA ? xstrdup(v[1]) : NULL;
        cm->incell_delimiter = k == 3 ? xstrdup(v[2]) : NULL;
        cm->line = (int)config_setting_source_line(e);
    }
    return 0;
}

static int load_csv(struct cfg_ctx *c, const config_setting_t *im, struct csv_config *cc)
{
    static const char *const keys[] = {"encoding",
                                       "delimiters",
                                       "incell_delimiter",
                                       "max_field_bytes",
                                       "max_line_bytes",
                                       "max_columns",
                                       "mapping",
                                       "allowed_missing_columns",
                                       NULL};
    const config_setting_t *g, *am;
    int64_t mf = (int64_t)cc->max_field_bytes, ml = (int64_t)cc->max_line_bytes,
            mc = (int64_t)cc->max_columns;
    if (get_group(c, im, "csv", keys, &g) < 0 || get_str(c, g, "encoding", &cc->encoding) < 0 ||
        get_str(c, g, "delimiters", &cc->delimiters) < 0 ||
        get_str(c, g, "incell_delimiter", &cc->incell_delimiter) < 0 ||
        get_int(c, g, "max_field_bytes", 16, 1 << 24, &mf) < 0 ||
        get_int(c, g, "max_line_bytes", 64, 1 << 26, &ml) < 0 ||
        get_int(c, g, "max_columns", 1, 1 << 16, &mc) < 0 || load_mapping(c, g, cc) < 0)
        return -1;
    cc->max_field_bytes = (size_t)mf;
    cc->max_line_bytes = (size_t)ml;
    cc->max_columns = (size_t)mc;
    if (strcmp(cc->encoding, "auto") != 0) {
        /* A name iconv knows, checked now rather than at the first file. */
        iconv_t cd = iconv_open("UTF-8", cc->encoding);
        if (cd == (iconv_t)-1)
            return cfg_fail(c, config_setting_get_member(g, "encoding"), "import.csv.encoding",
                            "\"%s\" is not an encoding this system can convert from (\"auto\", or "
                            "a name `iconv -l` lists, e.g. \"WINDOWS-1252\")",
                            cc->encoding);
        iconv_close(cd);
    }
    if (!*cc->delimiters || strlen(cc->delimiters) > 8)
        return cfg_fail(c, config_setting_get_member(g, "delimiters"), "import.csv.delimiters",
                        "must list 1 to 8 candidate characters");
    if (!*cc->incell_delimiter)
        return cfg_fail(c, config_setting_get_member(g, "incell_delimiter"),
                        "import.csv.incell_delimiter", "must not be empty");
    am = g ? config_setting_get_member(g, "allowed_missing_columns") : NULL;
    if (am) {
        if (!config_setting_is_array(am) && !config_setting_is_list(am))
            return cfg_fail(c, am, "import.csv.allowed_missing_columns",
                            "must be a list of column names [ \"...\" ]");
        int n = config_setting_length(am);
        cc->allowed_missing_columns = xcalloc((size_t)n + 1, sizeof(char *));
        for (int i = 0; i < n; i++) {
            const char *s = config_setting_get_string_elem(am, (unsigned)i);
            if (!s)
                return cfg_fail(c, am, "import.csv.allowed_missing_columns",
                                "element %d is not a string", i);
            cc->allowed_missing_columns[cc->n_allowed_missing++] = xstrdup(s);
        }
    }
    return 0;
}

static int load_schemes(struct cfg_ctx *c, const config_setting_t *im, struct import_config *ic)
{
    static const char *const keys[] = {"username", "email", NULL};
    static const char *const ukeys[] = {"student",           "teacher", "staff",
                                        "teacher_and_staff", "default", NULL};
    const config_setting_t *sc, *u, *ml;
    if (get_group(c, im, "scheme", keys, &sc) < 0 || get_group(c, sc, "username", ukeys, &u) < 0 ||
        get_str(c, sc, "email", &ic->scheme_email) < 0 ||
        get_group(c, im, "username_max_length", ukeys, &ml) < 0)
        return -1;
    char why[256], path[64];
    for (int r = 0; r <= ROLE_COUNT; r++) {
        if (get_str(c, u, ukeys[r], &ic->scheme_username[r]) < 0)
            return -1;
        snprintf(path, sizeof(path), "import.scheme.username.%s", ukeys[r]);
        if (ic->scheme_username[r] && scheme_check(ic->scheme_username[r], why, sizeof(why)) < 0)
            return cfg_fail(c, u ? config_setting_get_member(u, ukeys[r]) : NULL, path, "%s", why);
    }
    if (ic->scheme_email && scheme_check(ic->scheme_email, why, sizeof(why)) < 0)
        return cfg_fail(c, config_setting_get_member(sc, "email"), "import.scheme.email", "%s",
                        why);
    int def = 20;
    if (get_int32(c, ml, "default", 4, 255, &def) < 0)
        return -1;
    for (int r = 0; r < ROLE_COUNT; r++) {
        /* Students leave room for the "exam-" prefix of exam accounts, as the reference does. */
        int v = r == ROLE_STUDENT ? def - 5 : def;
        if (get_int32(c, ml, ukeys[r], 4, 255, &v) < 0)
            return -1;
        ic->username_max_length[r] = v;
    }
    return 0;
}

/* import.initial_password: "unknown" (default) or "generated". */
static int get_initial_password(struct cfg_ctx *c, const config_setting_t *g,
                                struct import_config *ic)
{
    char *v = NULL;
    if (get_str(c, g, "initial_password", &v) < 0)
        return -1;
    int rc = 0;
    if (v && strcmp(v, "generated") == 0)
        ic->initial_password_generated = true;
    else if (v && strcmp(v, "unknown") != 0)
        rc =
            cfg_fail(c, config_setting_get_member(g, "initial_password"), "import.initial_password",
                     "\"%s\" is neither \"unknown\" nor \"generated\"", v);
    free(v);
    return rc;
}

static int load_import(struct cfg_ctx *c, const config_setting_t *root, struct import_config *ic)
{
    static const char *const keys[] = {"source_uid",
                                       "limbo_ou",
                                       "deletion_grace_period",
                                       "tolerate_errors",
                                       "password_length",
                                       "initial_password",
                                       "school_classes_invalid_character_replacement",
                                       "school_classes_keep_if_empty",
                                       "maildomain",
                                       "scheme",
                                       "username_max_length",
                                       "deletion_guard",
                                       "csv",
                                       NULL};
    static const char *const guard_keys[] = {"max_ratio", "max_count", NULL};
    const config_setting_t *g, *dg;
    if (get_group(c, root, "import", keys, &g) < 0 ||
        get_str(c, g, "source_uid", &ic->source_uid) < 0 ||
        get_str(c, g, "limbo_ou", &ic->limbo_ou) < 0 ||
        get_duration(c, g, "deletion_grace_period", &ic->deletion_grace_seconds) < 0 ||
        get_int32(c, g, "tolerate_errors", -1, 1 << 30, &ic->tolerate_errors) < 0 ||
        get_int32(c, g, "password_length", 8, 256, &ic->password_length) < 0 ||
        get_initial_password(c, g, ic) < 0 ||
        get_str(c, g, "school_classes_invalid_character_replacement", &ic->class_replacement) < 0 ||
        get_bool(c, g, "school_classes_keep_if_empty", &ic->school_classes_keep_if_empty) < 0 ||
        get_str(c, g, "maildomain", &ic->maildomain) < 0 || load_schemes(c, g, ic) < 0 ||
        get_group(c, g, "deletion_guard", guard_keys, &dg) < 0 ||
        get_ratio(c, dg, "max_ratio", &ic->deletion_guard_ratio) < 0 ||
        get_int(c, dg, "max_count", 0, INT64_MAX, &ic->deletion_guard_count) < 0 ||
        load_csv(c, g, &ic->csv) < 0)
        return -1;
    if (ic->scheme_email && scheme_references(ic->scheme_email, "maildomain") && !ic->maildomain)
        return cfg_fail(c, g ? config_setting_get_member(g, "scheme") : NULL, "import.scheme.email",
                        "uses <maildomain>, but import.maildomain is not set");
    const char *rep = ic->class_replacement;
    if (strlen(rep) > 1 || (*rep && !strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                            "0123456789 -.",
                                            *rep)))
        return cfg_fail(
            c, config_setting_get_member(g, "school_classes_invalid_character_replacement"),
            "import.school_classes_invalid_character_replacement",
            "must be empty or one of [A-Za-z0-9 -.]");
    if (!*ic->limbo_ou || !str_is_school_name(ic->limbo_ou))
        return cfg_fail(c, config_setting_get_member(g, "limbo_ou"), "import.limbo_ou",
                        "\"%s\" is not a valid OU name", ic->limbo_ou);
    if (ic->source_uid && !*ic->source_uid) {
        free(ic->source_uid);
        ic->source_uid = NULL;
    }
    return 0;
}

static int load_metrics(struct cfg_ctx *c, const config_setting_t *root, struct metrics_config *mc)
{
    static const char *const keys[] = {"reconciler", "scheduler", "ingest", NULL};
    char **dst[] = {&mc->reconciler, &mc->scheduler, &mc->ingest};
    const config_setting_t *g;
    if (get_group(c, root, "metrics", keys, &g) < 0)
        return -1;
    for (size_t i = 0; keys[i]; i++) {
        if (get_str(c, g, keys[i], dst[i]) < 0)
            return -1;
        struct sockaddr_storage sa;
        size_t len;
        char why[160], path[64];
        snprintf(path, sizeof(path), "metrics.%s", keys[i]);
        if (**dst[i] && metrics_parse_listen(*dst[i], &sa, &len, why, sizeof(why)) < 0)
            return cfg_fail(c, config_setting_get_member(g, keys[i]), path,
                            "%s (\"\" turns it off)", why);
    }
    return 0;
}

/* api: sisopi-api's listener, limits and state (docs/api.md). */
static int load_api(struct cfg_ctx *c, const config_setting_t *root, struct api_config *a)
{
    static const char *const keys[] = {"listen",
                                       "tls_cert",
                                       "tls_key",
                                       "state_dir",
                                       "max_upload_bytes",
                                       "max_jobs_per_school",
                                       "connection_limit",
                                       "per_ip_connection_limit",
                                       "connection_timeout",
                                       "token_lifetime",
                                       "login_failures",
                                       "login_failures_per_address",
                                       "login_window",
                                       NULL};
    const config_setting_t *g;
    if (get_group(c, root, "api", keys, &g) < 0 || get_str(c, g, "listen", &a->listen) < 0 ||
        get_str(c, g, "tls_cert", &a->tls_cert) < 0 || get_str(c, g, "tls_key", &a->tls_key) < 0 ||
        get_str(c, g, "state_dir", &a->state_dir) < 0 ||
        get_int(c, g, "max_upload_bytes", 1024, INT64_C(1) << 34, &a->max_upload_bytes) < 0 ||
        get_int32(c, g, "max_jobs_per_school", 1, 1000, &a->max_jobs_per_school) < 0 ||
        get_int32(c, g, "connection_limit", 1, 100000, &a->connection_limit) < 0 ||
        get_int32(c, g, "per_ip_connection_limit", 1, 100000, &a->per_ip_connection_limit) < 0 ||
        get_duration(c, g, "connection_timeout", &a->connection_timeout_seconds) < 0 ||
        get_duration(c, g, "token_lifetime", &a->token_lifetime_seconds) < 0 ||
        get_int32(c, g, "login_failures", 1, 1000000, &a->login_failures) < 0 ||
        get_int32(c, g, "login_failures_per_address", 1, 1000000, &a->login_failures_per_address) <
            0 ||
        get_duration(c, g, "login_window", &a->login_window_seconds) < 0)
        return -1;
    struct sockaddr_storage sa;
    size_t len;
    char why[160];
    if (metrics_parse_listen(a->listen, &sa, &len, why, sizeof(why)) < 0)
        return cfg_fail(c, config_setting_get_member(g, "listen"), "api.listen", "%s", why);
    if (a->tls_cert && !*a->tls_cert) {
        free(a->tls_cert);
        a->tls_cert = NULL;
    }
    if (a->tls_key && !*a->tls_key) {
        free(a->tls_key);
        a->tls_key = NULL;
    }
    if (!a->tls_cert != !a->tls_key)
        return cfg_fail(c, config_setting_get_member(g, a->tls_cert ? "tls_cert" : "tls_key"),
                        a->tls_cert ? "api.tls_key" : "api.tls_cert",
                        "must be set too: TLS needs both the certificate and its key");
    if (!*a->state_dir)
        return cfg_fail(c, config_setting_get_member(g, "state_dir"), "api.state_dir",
                        "must not be empty");
    if (a->connection_timeout_seconds < 1 || a->connection_timeout_seconds > 3600)
        return cfg_fail(c, config_setting_get_member(g, "connection_timeout"),
                        "api.connection_timeout", "must be from 1s to 1h");
    if (a->token_lifetime_seconds < 60 || a->token_lifetime_seconds > 86400)
        return cfg_fail(c, config_setting_get_member(g, "token_lifetime"), "api.token_lifetime",
                        "must be from 1m to 24h");
    if (a->login_window_seconds < 1)
        return cfg_fail(c, config_setting_get_member(g, "login_window"), "api.login_window",
                        "must be at least 1s");
    return 0;
}

static int load_services(struct cfg_ctx *c, const config_setting_t *root, struct config *cfg)
{
    static const char *const rkeys[] = {"group_id", "state_dir", "window", "batch_size", NULL};
    static const char *const skeys[] = {"sweep_interval", NULL};
    static const char *const okeys[] = {"log_format", "log_level", "report_dir", NULL};
    const config_setting_t *r, *s, *o;
    struct reconciler_config *rc = &cfg->reconciler;
    if (get_group(c, root, "reconciler", rkeys, &r) < 0 ||
        get_str(c, r, "group_id", &rc->group_id) < 0 ||
        get_str(c, r, "state_dir", &rc->state_dir) < 0 ||
        get_int32(c, r, "window", 1, 4096, &rc->window) < 0 ||
        get_int32(c, r, "batch_size", 1, 1000000, &rc->batch_size) < 0 ||
        get_group(c, root, "scheduler", skeys, &s) < 0 ||
        get_duration(c, s, "sweep_interval", &cfg->scheduler.sweep_interval_seconds) < 0 ||
        get_group(c, root, "output", okeys, &o) < 0 ||
        get_str(c, o, "log_format", &cfg->output.log_format) < 0 ||
        get_str(c, o, "log_level", &cfg->output.log_level) < 0 ||
        get_str(c, o, "report_dir", &cfg->output.report_dir) < 0)
        return -1;
    if (load_metrics(c, root, &cfg->metrics) < 0 || load_api(c, root, &cfg->api) < 0)
        return -1;
    if (cfg->scheduler.sweep_interval_seconds < 1)
        return cfg_fail(c, config_setting_get_member(s, "sweep_interval"),
                        "scheduler.sweep_interval", "must be at least 1s");
    if (strcmp(cfg->output.log_format, "kv") != 0 && strcmp(cfg->output.log_format, "json") != 0)
        return cfg_fail(c, config_setting_get_member(o, "log_format"), "output.log_format",
                        "must be \"kv\" or \"json\"");
    if (!strstr(",debug,info,warn,error,", cfg->output.log_level) ||
        strchr(cfg->output.log_level, ','))
        return cfg_fail(c, config_setting_get_member(o, "log_level"), "output.log_level",
                        "must be debug, info, warn or error");
    return 0;
}

/* ---- connector: the school authorities' own directories (sisopi-connector) ---- */

/* Attributes the connector always writes itself, which a mapping must not name. */
static const char *const connector_reserved[] = {"objectClass",
                                                 "uid",
                                                 "cn",
                                                 "sn",
                                                 "userPassword",
                                                 "ucsschoolSchool",
                                                 "ucsschoolRole",
                                                 "ucsschoolSourceUID",
                                                 "ucsschoolRecordUID",
                                                 "ucsschoolPurgeTimestamp",
                                                 "shadowExpire",
                                                 "pwdAccountLockedTime",
                                                 "departmentNumber",
                                                 NULL};

static bool connector_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* attributes = { student = [ "givenName", ... ]; ... }: the role's list, or the default. */
static int load_connector_attrs(struct cfg_ctx *c, const config_setting_t *a,
                                struct connector_authority *au)
{
    static const char *const roles[] = {"student", "teacher", "staff", "teacher_and_staff", NULL};
    static const char *const defaults[] = {"givenName", "displayName", "mail", "sisopiBirthday"};
    const config_setting_t *g;
    if (get_group(c, a, "attributes", roles, &g) < 0)
        return -1;
    for (int r = 0; r < ROLE_COUNT; r++) {
        const config_setting_t *l = g ? config_setting_get_member(g, roles[r]) : NULL;
        char path[256];
        if (!l) {
            size_t n = sizeof(defaults) / sizeof(defaults[0]);
            au->attributes[r] = xcalloc(n + 1, sizeof(char *));
            for (size_t i = 0; i < n; i++)
                au->attributes[r][i] = xstrdup(defaults[i]);
            au->n_attributes[r] = n;
            continue;
        }
        path_of(l, path, sizeof(path));
        if (!config_setting_is_array(l) && !config_setting_is_list(l))
            return cfg_fail(c, l, path, "must be a list of attribute names [ \"...\" ]");
        int n = config_setting_length(l);
        au->attributes[r] = xcalloc((size_t)n + 1, sizeof(char *));
        for (int i = 0; i < n; i++) {
            const char *s = config_setting_get_string_elem(l, (unsigned)i);
            if (!s || !str_is_attr_name(s))
                return cfg_fail(c, l, path, "element %d is not an attribute name", i + 1);
            for (const char *const *rs = connector_reserved; *rs; rs++) {
                if (strcasecmp(*rs, s) == 0)
                    return cfg_fail(c, l, path,
                                    "%s is written by the connector itself and cannot be mapped%s",
                                    s,
                                    strcasecmp(s, "userPassword") == 0
                                        ? " (passwords = true makes password hashes travel)"
                                        : "");
            }
            au->attributes[r][au->n_attributes[r]++] = xstrdup(s);
        }
    }
    return 0;
}

static int load_connector_authority(struct cfg_ctx *c, const config_setting_t *a,
                                    const struct config *cfg, struct connector_authority *au)
{
    static const char *const keys[] = {"name",          "uri",       "base",       "bind_dn",
                                       "password_file", "starttls",  "ca_file",    "limbo_ou",
                                       "leave",         "passwords", "attributes", NULL};
    char path[256], *leave = NULL;
    path_of(a, path, sizeof(path));
    if (!config_setting_is_group(a))
        return cfg_fail(c, a, "connector.authorities", "each element must be a group { ... }");
    if (check_keys(c, a, keys) < 0 || get_str(c, a, "name", &au->name) < 0 ||
        get_str(c, a, "uri", &au->uri) < 0 || get_str(c, a, "base", &au->base) < 0 ||
        get_str(c, a, "bind_dn", &au->bind_dn) < 0 ||
        get_str(c, a, "password_file", &au->password_file) < 0 ||
        get_bool(c, a, "starttls", &au->starttls) < 0 ||
        get_str(c, a, "ca_file", &au->ca_file) < 0 ||
        get_str(c, a, "limbo_ou", &au->limbo_ou) < 0 || get_str(c, a, "leave", &leave) < 0 ||
        get_bool(c, a, "passwords", &au->passwords) < 0 || load_connector_attrs(c, a, au) < 0) {
        free(leave);
        return -1;
    }
    const char *missing = !au->name ? "name" : !au->uri ? "uri" : !au->base ? "base" : NULL;
    if (missing) {
        free(leave);
        return cfg_fail(c, a, "connector.authorities", "an authority without %s", missing);
    }
    if (!connector_name_ok(au->name)) {
        free(leave);
        return cfg_fail(c, config_setting_get_member(a, "name"), "connector.authorities.name",
                        "\"%s\" must be 1 to 64 letters, digits, \"_\" or \"-\"", au->name);
    }
    int rc = 0;
    if (leave && strcmp(leave, "limbo") == 0)
        au->leave_limbo = true;
    else if (leave && strcmp(leave, "delete") != 0)
        rc = cfg_fail(c, config_setting_get_member(a, "leave"), "connector.authorities.leave",
                      "\"%s\" is neither \"delete\" nor \"limbo\"", leave);
    free(leave);
    if (rc < 0)
        return -1;
    if (strncmp(au->uri, "ldap://", 7) != 0 && strncmp(au->uri, "ldaps://", 8) != 0 &&
        strncmp(au->uri, "ldapi://", 8) != 0)
        return cfg_fail(c, config_setting_get_member(a, "uri"), "connector.authorities.uri",
                        "\"%s\" must start with ldap://, ldaps:// or ldapi://", au->uri);
    if (!au->bind_dn != !au->password_file)
        return cfg_fail(c, a, "connector.authorities.bind_dn",
                        "authority %s: bind_dn and password_file go together", au->name);
    if (!au->limbo_ou)
        au->limbo_ou = xstrdup(cfg->import.limbo_ou);
    if (!str_is_school_name(au->limbo_ou))
        return cfg_fail(c, config_setting_get_member(a, "limbo_ou"),
                        "connector.authorities.limbo_ou", "\"%s\" is not a valid OU name",
                        au->limbo_ou);
    return 0;
}

/* school_to_authority = ( [ "School", "authority", ... ], ... ) */
static int load_connector_schools(struct cfg_ctx *c, const config_setting_t *g,
                                  struct connector_config *cc)
{
    int n, lrc;
    const config_setting_t *l = get_list(c, g, "school_to_authority", &n, &lrc);
    if (lrc < 0)
        return -1;
    cc->schools = xcalloc((size_t)n + 1, sizeof(*cc->schools));
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(l, (unsigned)i);
        int m = config_setting_is_array(e) ? config_setting_length(e) : -1;
        if (m < 2)
            return cfg_fail(c, e, "connector.school_to_authority",
                            "element %d must be [ \"school\", \"authority\", ... ]", i + 1);
        struct connector_school *s = &cc->schools[cc->n_schools++];
        s->authorities = xcalloc((size_t)m, sizeof(char *));
        for (int j = 0; j < m; j++) {
            const char *v = config_setting_get_string_elem(e, (unsigned)j);
            if (!v)
                return cfg_fail(c, e, "connector.school_to_authority",
                                "element %d must hold strings only", i + 1);
            if (j == 0) {
                if (!str_is_school_name(v))
                    return cfg_fail(c, e, "connector.school_to_authority",
                                    "\"%s\" is not a school name", v);
                for (size_t k = 0; k + 1 < cc->n_schools; k++) {
                    if (strcasecmp(cc->schools[k].school, v) == 0)
                        return cfg_fail(c, e, "connector.school_to_authority",
                                        "school \"%s\" is listed twice (names compare without "
                                        "case): list all its authorities in one element",
                                        v);
                }
                s->school = xstrdup(v);
                continue;
            }
            bool known = false;
            for (size_t k = 0; k < cc->n_authorities && !known; k++)
                known = strcmp(cc->authorities[k].name, v) == 0;
            if (!known)
                return cfg_fail(c, e, "connector.school_to_authority",
                                "school \"%s\": \"%s\" is not in connector.authorities", s->school,
                                v);
            s->authorities[s->n_authorities++] = xstrdup(v);
        }
    }
    return 0;
}

static int load_connector(struct cfg_ctx *c, const config_setting_t *root, struct config *cfg)
{
    static const char *const keys[] = {"group_prefix", "dead_letter_topic",   "metrics",
                                       "authorities",  "school_to_authority", NULL};
    struct connector_config *cc = &cfg->connector;
    const config_setting_t *g;
    if (get_group(c, root, "connector", keys, &g) < 0 ||
        get_str(c, g, "group_prefix", &cc->group_prefix) < 0 ||
        get_str(c, g, "dead_letter_topic", &cc->topic_dlq) < 0 ||
        get_str(c, g, "metrics", &cc->metrics) < 0)
        return -1;
    struct sockaddr_storage sa;
    size_t salen;
    char why[160];
    if (*cc->metrics && metrics_parse_listen(cc->metrics, &sa, &salen, why, sizeof(why)) < 0)
        return cfg_fail(c, config_setting_get_member(g, "metrics"), "connector.metrics",
                        "%s (\"\" turns it off)", why);
    int n, lrc;
    const config_setting_t *l = get_list(c, g, "authorities", &n, &lrc);
    if (lrc < 0)
        return -1;
    cc->authorities = xcalloc((size_t)n + 1, sizeof(*cc->authorities));
    for (int i = 0; i < n; i++) {
        struct connector_authority *au = &cc->authorities[cc->n_authorities++];
        if (load_connector_authority(c, config_setting_get_elem(l, (unsigned)i), cfg, au) < 0)
            return -1;
        for (size_t k = 0; k + 1 < cc->n_authorities; k++) {
            if (strcmp(cc->authorities[k].name, au->name) == 0)
                return cfg_fail(c, config_setting_get_elem(l, (unsigned)i),
                                "connector.authorities.name", "authority \"%s\" is listed twice",
                                au->name);
        }
    }
    return load_connector_schools(c, g, cc);
}

static void connector_free(struct connector_config *cc)
{
    free(cc->group_prefix);
    free(cc->topic_dlq);
    free(cc->metrics);
    for (size_t i = 0; i < cc->n_authorities; i++) {
        struct connector_authority *a = &cc->authorities[i];
        free(a->name);
        free(a->uri);
        free(a->base);
        free(a->bind_dn);
        free(a->password_file);
        free(a->ca_file);
        free(a->limbo_ou);
        for (int r = 0; r < ROLE_COUNT; r++) {
            for (size_t k = 0; k < a->n_attributes[r]; k++)
                free(a->attributes[r][k]);
            free(a->attributes[r]);
        }
    }
    free(cc->authorities);
    for (size_t i = 0; i < cc->n_schools; i++) {
        free(cc->schools[i].school);
        for (size_t k = 0; k < cc->schools[i].n_authorities; k++)
            free(cc->schools[i].authorities[k]);
        free(cc->schools[i].authorities);
    }
    free(cc->schools);
}

const struct connector_authority *config_connector_authority(const struct config *cfg,
                                                             const char *name)
{
    for (size_t i = 0; name && i < cfg->connector.n_authorities; i++) {
        if (strcmp(cfg->connector.authorities[i].name, name) == 0)
            return &cfg->connector.authorities[i];
    }
    return NULL;
}

bool config_connector_school_of(const struct config *cfg, const char *school, const char *name)
{
    for (size_t i = 0; school && i < cfg->connector.n_schools; i++) {
        const struct connector_school *s = &cfg->connector.schools[i];
        if (strcasecmp(s->school, school) != 0)
            continue;
        for (size_t k = 0; k < s->n_authorities; k++) {
            if (strcmp(s->authorities[k], name) == 0)
                return true;
        }
    }
    return false;
}

int config_load(struct config *cfg, const char *path, const char *bootstrap_override, char *errstr,
                size_t errstr_size)
{
    config_t lc;
    struct cfg_ctx c = {.file = path, .errstr = errstr, .errstr_size = errstr_size};
    static const char *const top[] = {"kafka",  "ldap",    "import", "reconciler", "scheduler",
                                      "output", "metrics", "api",    "connector",  NULL};
    int rc = -1;

    config_defaults(cfg);
    cfg->path = xstrdup(path);
    config_init(&lc);
    if (!config_read_file(&lc, path)) {
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
            snprintf(errstr, errstr_size, "%s: cannot read: %s", path, strerror(errno));
        else
            snprintf(errstr, errstr_size, "%s:%d: syntax error: %s",
                     config_error_file(&lc) ? config_error_file(&lc) : path, config_error_line(&lc),
                     config_error_text(&lc));
        goto out;
    }
    const config_setting_t *root = config_root_setting(&lc);
    if (check_keys(&c, root, top) < 0 || load_kafka(&c, root, &cfg->kafka) < 0 ||
        load_ldap(&c, root, &cfg->ldap) < 0 || load_import(&c, root, &cfg->import) < 0 ||
        load_services(&c, root, cfg) < 0)
        goto out;
    if (load_connector(&c, root, cfg) < 0)
        goto out;

    const char *env = getenv(CONFIG_ENV_BOOTSTRAP);
    const char *bs = bootstrap_override ? bootstrap_override : (env && *env ? env : NULL);
    if (bs) {
        free(cfg->kafka.bootstrap);
        cfg->kafka.bootstrap = xstrdup(bs);
    }
    rc = 0;
out:
    config_destroy(&lc);
    return rc;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    struct kafka_config *k = &cfg->kafka;
    free(cfg->path);
    free(k->bootstrap);
    free(k->topic_users);
    free(k->topic_events);
    free(k->topic_dlq);
    free(k->topic_journal);
    for (size_t i = 0; i < k->n_properties; i++) {
        free(k->properties[i].key);
        /* Some are secrets (sasl.password): leave no copy in freed memory. */
        explicit_bzero(k->properties[i].value, strlen(k->properties[i].value));
        free(k->properties[i].value);
    }
    free(k->properties);
    struct dir_config *l = &cfg->ldap;
    free(l->uri);
    free(l->base);
    free(l->bind_dn);
    free(l->password_file);
    free(l->ca_file);
    for (int i = 0; i < CONFIG_ACCOUNT_COUNT; i++) {
        free(l->accounts[i].bind_dn);
        free(l->accounts[i].password_file);
    }
    for (int r = 0; r < ROLE_COUNT; r++)
        free(l->users_container[r]);
    struct import_config *im = &cfg->import;
    free(im->source_uid);
    free(im->limbo_ou);
    free(im->class_replacement);
    free(im->maildomain);
    for (int r = 0; r <= ROLE_COUNT; r++)
        free(im->scheme_username[r]);
    free(im->scheme_email);
    struct csv_config *cc = &im->csv;
    free(cc->encoding);
    free(cc->delimiters);
    free(cc->incell_delimiter);
    for (size_t i = 0; i < cc->n_mapping; i++) {
        free(cc->mapping[i].column);
        free(cc->mapping[i].attribute);
        free(cc->mapping[i].incell_delimiter);
    }
    free(cc->mapping);
    for (size_t i = 0; i < cc->n_allowed_missing; i++)
        free(cc->allowed_missing_columns[i]);
    free(cc->allowed_missing_columns);
    free(cfg->reconciler.group_id);
    free(cfg->reconciler.state_dir);
    free(cfg->output.log_format);
    free(cfg->output.log_level);
    free(cfg->output.report_dir);
    free(cfg->metrics.reconciler);
    free(cfg->metrics.scheduler);
    free(cfg->metrics.ingest);
    free(cfg->api.listen);
    free(cfg->api.tls_cert);
    free(cfg->api.tls_key);
    free(cfg->api.state_dir);
    connector_free(&cfg->connector);
    memset(cfg, 0, sizeof(*cfg));
}

char *config_read_password(const struct config *cfg, char *errstr, size_t errstr_size)
{
    const char *path = cfg->ldap.password_file;
    if (!path) {
        snprintf(errstr, errstr_size, "%s: %s.password_file: not set", cfg->path ? cfg->path : "",
                 cfg->ldap.account_key ? cfg->ldap.account_key : "ldap");
        return NULL;
    }
    return read_secret_file(path, "bind password file", errstr, errstr_size);
}
