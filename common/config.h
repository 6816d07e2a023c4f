/*
 * config: the one libconfig file every service reads (deploy/sisopi.cfg.example documents it).
 * Loading validates everything up front; every error names the file, the line and the key.
 *
 * Ownership: config_load() fills a struct config that owns all its strings and arrays;
 * config_free() releases them. Defaults apply to every setting the file leaves out.
 */
#ifndef SISOPI_CONFIG_H
#define SISOPI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

#define CONFIG_ERRSTR_SIZE   512
#define CONFIG_ENV_BOOTSTRAP "SISOPI_BOOTSTRAP"

/* A string->string pair, e.g. a librdkafka property or a CSV column mapping. */
struct config_kv {
    char *key;
    char *value;
};

/* What a CSV column may be mapped to (import.csv.mapping values). */
enum csv_target {
    CSV_T_IGNORE = 0,     /* "__ignore" */
    CSV_T_RECORD_UID,     /* "record_uid" */
    CSV_T_SOURCE_UID,     /* "source_uid" */
    CSV_T_FIRSTNAME,      /* "firstname" */
    CSV_T_LASTNAME,       /* "lastname" */
    CSV_T_USERNAME,       /* "name" */
    CSV_T_SCHOOL,         /* "school" */
    CSV_T_SCHOOLS,        /* "schools" */
    CSV_T_SCHOOL_CLASSES, /* "school_classes" */
    CSV_T_EMAIL,          /* "email" */
    CSV_T_BIRTHDAY,       /* "birthday" */
    CSV_T_PASSWORD,       /* "password" */
    CSV_T_EXTRA,          /* any other name: an LDAP attribute of the user ("description") */
};

struct csv_column_map {
    char *column; /* header name in the file (compared after trimming, case-sensitive) */
    enum csv_target target;
    char *attribute;        /* for CSV_T_EXTRA: the LDAP attribute name; else NULL */
    char *incell_delimiter; /* NULL: use csv.incell_delimiter */
    int line;               /* of the mapping entry in the config file, for later errors */
};

struct csv_config {
    char *encoding;         /* "auto" (detected), or an iconv name the exports are known to be in */
    char *delimiters;       /* candidates for sniffing, default ",;\t" */
    char *incell_delimiter; /* default "," */
    struct csv_column_map *mapping;
    size_t n_mapping;
    char **allowed_missing_columns;
    size_t n_allowed_missing;
    size_t max_field_bytes; /* default 4096 */
    size_t max_line_bytes;  /* default 65536 */
    size_t max_columns;     /* default 1024 */
};

struct import_config {
    char *source_uid;
    char *limbo_ou;                 /* default "limbo" */
    int64_t deletion_grace_seconds; /* default 90 days */
    int tolerate_errors;            /* default 0; -1 = unlimited */
    int password_length;            /* default 15 */
    /* The password of a new account whose record has none: false (default "unknown") stores a
     * random SHA-512 crypt value that is the hash of no password anyone knows; true
     * ("generated") generates a password as the reference does and hashes it. Either way
     * nobody can log in until an administrator sets a password (decisions.md). */
    bool initial_password_generated;
    char *class_replacement; /* default "-"; "" = keep the character */
    bool school_classes_keep_if_empty;
    char *maildomain;                      /* NULL: no generated email */
    char *scheme_username[ROLE_COUNT + 1]; /* [ROLE_COUNT] = default */
    char *scheme_email;                    /* NULL: none */
    int username_max_length[ROLE_COUNT];   /* default 20, students 15 */
    double deletion_guard_ratio;           /* default 0.2 */
    int64_t deletion_guard_count;          /* default 500 */
    struct csv_config csv;
};

struct kafka_config {
    char *bootstrap;              /* after --bootstrap / SISOPI_BOOTSTRAP overrides */
    char *topic_users;            /* default "sisopi.users" */
    char *topic_events;           /* default "sisopi.events" */
    char *topic_dlq;              /* default "sisopi.users.dlq" */
    char *topic_journal;          /* default "sisopi.reconciler.journal" (internal) */
    int partitions;               /* default 12 */
    int replication_factor;       /* default 3; the devbroker ignores it */
    struct config_kv *properties; /* passed to librdkafka as they are */
    size_t n_properties;
};

/* The programs that may have a directory account of their own (ldap.accounts.NAME): the
 * names cli_load() passes to config_use_account(). */
#define CONFIG_ACCOUNT_PROGRAMS                                                                    \
    {                                                                                              \
        "reconciler", "scheduler", "audit", "ingest", "admin", "api", "connector"                  \
    }
enum { CONFIG_ACCOUNT_COUNT = 7 };

/* ldap.accounts.NAME: one program's bind DN and password file (both set, or the entry is
 * absent: NULL). */
struct dir_account {
    char *bind_dn;
    char *password_file;
};

struct dir_config {
    char *uri;
    char *base;
    /* The account in use: ldap.bind_dn / ldap.password_file, or the program's
     * ldap.accounts.NAME once config_use_account() chose it. */
    char *bind_dn;
    char *password_file; /* the bind password is read from here, never from argv */
    /* Which setting bind_dn and password_file came from, for messages: "ldap" or
     * "ldap.accounts.NAME" (static storage). */
    const char *account_key;
    struct dir_account accounts[CONFIG_ACCOUNT_COUNT]; /* CONFIG_ACCOUNT_PROGRAMS order */
    bool starttls;
    char *ca_file;
    /* ldap.connect_timeout (default 10 s): connecting (TCP) gives up after this.
     * ldap.timeout (default 60 s): the longest wait for an answer: the bind, StartTLS, and
     * any operation (no answer to the oldest one outstanding = connection lost, retried). */
    int64_t connect_timeout_seconds;
    int64_t timeout_seconds;
    char *users_container[ROLE_COUNT]; /* "schueler", "lehrer", "mitarbeiter", ... */
};

struct reconciler_config {
    char *group_id;
    char *state_dir;
    int window;     /* outstanding LDAP operations */
    int batch_size; /* messages per LMDB commit */
};

/* The scheduler keeps no state of its own: the directory and sisopi.events are its truth. */
struct scheduler_config {
    int64_t sweep_interval_seconds; /* default 1 h; also when an order not carried out is sent
                                       again */
};

struct output_config {
    char *log_format; /* "kv" or "json" */
    char *log_level;  /* "debug", "info", "warn", "error" */
    char *report_dir; /* where ingest --watch writes reports; NULL = beside the file */
};

/* Where each long-running service serves /metrics and /healthz ("HOST:PORT"; "" = off).
 * Defaults: 127.0.0.1:9464 (reconciler), :9465 (scheduler), :9466 (ingest --watch). */
struct metrics_config {
    char *reconciler;
    char *scheduler;
    char *ingest;
};

/* sisopi-api: the HTTP import (docs/api.md). */
struct api_config {
    char *listen;                       /* "HOST:PORT", default 127.0.0.1:9480 */
    char *tls_cert, *tls_key;           /* PEM files; both or neither (plain HTTP) */
    char *state_dir;                    /* jobs and first passwords; default /var/lib/sisopi/api */
    int64_t max_upload_bytes;           /* default 16 MiB */
    int max_jobs_per_school;            /* jobs in flight per school, default 2 */
    int connection_limit;               /* default 64 */
    int per_ip_connection_limit;        /* default 16 */
    int64_t connection_timeout_seconds; /* an idle or slow connection is closed, default 30 s */
    int64_t token_lifetime_seconds;     /* default 15 min */
    int login_failures;                 /* failed logins per account, default 5 */
    int login_failures_per_address;     /* failed logins per client address, default 50 */
    int64_t login_window_seconds;       /* ... within this time, then refused as long, 5 min */
};

/* connector.authorities[i]: one school authority's own directory (sisopi-connector). */
struct connector_authority {
    char *name; /* [A-Za-z0-9_-]{1,64}; the consumer group is group_prefix + name */
    char *uri;
    char *base;
    char *bind_dn;
    char *password_file;
    bool starttls;
    char *ca_file;
    char *limbo_ou; /* where persons wait deactivated at this authority; default import.limbo_ou */
    bool leave_limbo; /* leave = "limbo": a person with no school here left is moved to the
                         limbo OU and deactivated; "delete" (default): deleted */
    bool passwords;   /* password hashes travel (all or nothing); default false */
    /* Attributes that travel, per role (enum role order), besides the ones the connector always
     * writes (ids, uid, cn, sn, schools, roles); NULL-terminated. */
    char **attributes[ROLE_COUNT];
    size_t n_attributes[ROLE_COUNT];
};

/* connector.school_to_authority: a school (compared case-insensitively) and its authorities. */
struct connector_school {
    char *school;
    char **authorities; /* names of connector.authorities */
    size_t n_authorities;
};

struct connector_config {
    char *group_prefix; /* default "sisopi-connector-" */
    char *topic_dlq;    /* default "sisopi.connector.dlq" */
    char *metrics;      /* default "127.0.0.1:9467" */
    struct connector_authority *authorities;
    size_t n_authorities;
    struct connector_school *schools;
    size_t n_schools;
};

struct config {
    char *path;
    struct kafka_config kafka;
    struct dir_config ldap;
    struct import_config import;
    struct reconciler_config reconciler;
    struct scheduler_config scheduler;
    struct output_config output;
    struct metrics_config metrics;
    struct api_config api;
    struct connector_config connector;
};

/* Fills *cfg with the built-in defaults (no file). */
void config_defaults(struct config *cfg);

/*
 * Loads path over the defaults. bootstrap_override (may be NULL) wins over SISOPI_BOOTSTRAP,
 * which wins over kafka.bootstrap in the file. Returns 0, or -1 with err set to
 * "FILE:LINE: KEY: what is wrong".
 */
int config_load(struct config *cfg, const char *path, const char *bootstrap_override, char *err,
                size_t errlen);

void config_free(struct config *cfg);

/*
 * Makes program's own directory account (ldap.accounts.PROGRAM, if the file has one) the one
 * ldap.bind_dn and ldap.password_file name; without one the shared ldap.bind_dn stays.
 * cli_load() calls it with the program's name. Unknown names keep the shared account.
 */
void config_use_account(struct config *cfg, const char *program);

/* Parses "90d", "12h", "30m", "45s" or a plain number of days. Returns 0 or -1. */
int config_parse_duration(const char *s, int64_t *seconds);

/*
 * Reads the bind password from ldap.password_file (the first line, without its newline).
 * Refuses a file that others can read. Returns a malloc'd string or NULL with err set.
 */
char *config_read_password(const struct config *cfg, char *err, size_t errlen);

/* Maps a mapping target name ("record_uid", "__ignore", ...) to its enum; CSV_T_EXTRA for
 * anything that looks like an LDAP attribute name, -1 for anything else. */
int config_csv_target(const char *name);

/* The authority called name, or NULL. */
const struct connector_authority *config_connector_authority(const struct config *cfg,
                                                             const char *name);

/* Whether school (case-insensitively) belongs to the authority called name. */
bool config_connector_school_of(const struct config *cfg, const char *school, const char *name);

#endif
