/* Unit tests of config: defaults, a full file, and errors that name file, line and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "kafka_client.h"

static char tmpdir[] = "/tmp/sisopi-test-config-XXXXXX";

static char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads text; expects failure with an error containing want. */
static void expect_error(const char *text, const char *want)
{
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE];
    char *path = write_file("bad.cfg", text);
    int rc = config_load(&cfg, path, NULL, err, sizeof(err));
    if (rc == 0 || !strstr(err, want))
        fail_msg("config \"%s\": rc %d, error \"%s\", wanted \"%s\"", text, rc, err, want);
    config_free(&cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    assert_string_equal(cfg.kafka.topic_users, "sisopi.users");
    assert_string_equal(cfg.kafka.topic_events, "sisopi.events");
    assert_string_equal(cfg.kafka.topic_dlq, "sisopi.users.dlq");
    assert_int_equal(cfg.kafka.partitions, 12);
    assert_string_equal(cfg.import.limbo_ou, "limbo");
    assert_int_equal(cfg.import.deletion_grace_seconds, 90 * 86400);
    assert_int_equal(cfg.import.tolerate_errors, 0);
    assert_false(cfg.import.initial_password_generated);
    assert_int_equal(cfg.import.username_max_length[ROLE_STUDENT], 15);
    assert_int_equal(cfg.import.username_max_length[ROLE_TEACHER], 20);
    assert_string_equal(cfg.ldap.users_container[ROLE_TEACHER_AND_STAFF], "lehrer und mitarbeiter");
    config_free(&cfg);
}

static void test_example_file_loads(void **state)
{
    (void)state;
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE] = "";
    int rc = config_load(&cfg, SISOPI_TEST_DATA "/../../deploy/sisopi.cfg.example", NULL, err,
                         sizeof(err));
    if (rc != 0)
        fail_msg("the documented example does not load: %s", err);
    assert_string_equal(cfg.ldap.base, "dc=example,dc=org");
    config_use_account(&cfg, "reconciler");
    assert_string_equal(cfg.ldap.bind_dn, "cn=reconciler,cn=sisopi-accounts,dc=example,dc=org");
    assert_string_equal(cfg.ldap.password_file, "/etc/sisopi/ldap-reconciler.secret");
    assert_int_equal(cfg.import.csv.n_mapping, 8);
    assert_string_equal(cfg.import.csv.mapping[6].column, "Schüler-ID");
    assert_string_equal(cfg.import.csv.mapping[7].incell_delimiter, ";");
    assert_int_equal(cfg.kafka.n_properties, 1);
    assert_string_equal(cfg.import.csv.mapping[0].column, "Schulen");
    assert_int_equal(cfg.import.csv.mapping[0].target, CSV_T_SCHOOL);
    assert_int_equal(cfg.import.csv.n_allowed_missing, 3);
    assert_int_equal(cfg.import.deletion_grace_seconds, 90 * 86400);
    assert_true(cfg.import.deletion_guard_ratio > 0.19 && cfg.import.deletion_guard_ratio < 0.21);
    /* An empty source_uid means "not set": the ingest then demands --source-uid. */
    assert_null(cfg.import.source_uid);
    config_free(&cfg);
}

static void test_full_file(void **state)
{
    (void)state;
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE] = "";
    char *path =
        write_file("ok.cfg", "kafka: { bootstrap = \"127.0.0.1:1\"; partitions = 3;\n"
                             "  properties = ( [ \"linger.ms\", \"7\" ] ); };\n"
                             "import: { source_uid = \"db1\"; deletion_grace_period = \"30s\";\n"
                             "  initial_password = \"generated\";\n"
                             "  username_max_length: { default = 18; };\n"
                             "  csv: { mapping = ( [ \"Schüler ID\", \"record_uid\" ],\n"
                             "    [ \"Tel\", \"telephoneNumber\", \";\" ] ); }; };\n");
    if (config_load(&cfg, path, NULL, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.kafka.bootstrap, "127.0.0.1:1");
    assert_int_equal(cfg.kafka.partitions, 3);
    assert_int_equal(cfg.kafka.n_properties, 1);
    assert_string_equal(cfg.kafka.properties[0].key, "linger.ms");
    assert_string_equal(cfg.import.source_uid, "db1");
    assert_int_equal(cfg.import.deletion_grace_seconds, 30);
    assert_true(cfg.import.initial_password_generated);
    assert_int_equal(cfg.import.username_max_length[ROLE_STUDENT], 13);
    assert_int_equal(cfg.import.username_max_length[ROLE_STAFF], 18);
    assert_string_equal(cfg.import.csv.mapping[0].column, "Schüler ID");
    assert_int_equal(cfg.import.csv.mapping[1].target, CSV_T_EXTRA);
    assert_string_equal(cfg.import.csv.mapping[1].attribute, "telephoneNumber");
    assert_string_equal(cfg.import.csv.mapping[1].incell_delimiter, ";");
    config_free(&cfg);
}

static void test_bootstrap_override_order(void **state)
{
    (void)state;
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE];
    char *path = write_file("bs.cfg", "kafka: { bootstrap = \"file:1\"; };\n");
    unsetenv(CONFIG_ENV_BOOTSTRAP);
    assert_int_equal(config_load(&cfg, path, NULL, err, sizeof(err)), 0);
    assert_string_equal(cfg.kafka.bootstrap, "file:1");
    config_free(&cfg);
    setenv(CONFIG_ENV_BOOTSTRAP, "env:2", 1);
    assert_int_equal(config_load(&cfg, path, NULL, err, sizeof(err)), 0);
    assert_string_equal(cfg.kafka.bootstrap, "env:2");
    config_free(&cfg);
    assert_int_equal(config_load(&cfg, path, "cli:3", err, sizeof(err)), 0);
    assert_string_equal(cfg.kafka.bootstrap, "cli:3");
    config_free(&cfg);
    unsetenv(CONFIG_ENV_BOOTSTRAP);
}

static void test_errors_name_file_line_key(void **state)
{
    (void)state;
    expect_error("kafka: {\n  partitions = \"twelve\";\n};\n",
                 "bad.cfg:2: kafka.partitions: must be an integer");
    expect_error("kafka: {\n partitions = 0;\n};\n",
                 "bad.cfg:2: kafka.partitions: 0 is out of range");
    expect_error("import: {\n\n  tolerate_error = 3;\n};\n",
                 "bad.cfg:3: import.tolerate_error: unknown setting");
    expect_error("kafak: { };\n", "bad.cfg:1: kafak: unknown setting");
    expect_error("import: { csv: { mapping = (\n [ \"A\", \"uid\" ] ); }; };\n",
                 "bad.cfg:2: import.csv.mapping[1]: \"uid\" is neither");
    expect_error("import: { csv: { mapping = (\n [ \"A\", \"record_uid\" ],\n [ \"B\", "
                 "\"record_uid\" ] ); }; };\n",
                 "bad.cfg:3: import.csv.mapping[2]: \"record_uid\" is already the target of "
                 "column \"A\"");
    expect_error("import: { csv: { mapping = (\n [ \"A\" ] ); }; };\n",
                 "bad.cfg:2: import.csv.mapping: element 1 must be [ \"column\", \"target\"");
    expect_error("kafka: { properties = ( [ \"acks\" ] ); };\n",
                 "kafka.properties: element 1 must be [ \"property\", \"value\" ]");
    expect_error("import: { deletion_grace_period = \"3 weeks\"; };\n",
                 "bad.cfg:1: import.deletion_grace_period: must be a duration");
    expect_error("ldap: { uri = \"http://x\"; };\n", "ldap.uri: \"http://x\" is not an ldap://");
    expect_error("import: { limbo_ou = \"a,ou=b\"; };\n", "import.limbo_ou: \"a,ou=b\" is not");
    expect_error("output: { log_format = \"xml\"; };\n", "output.log_format");
    expect_error("import: { csv: {\n encoding = \"KLINGON-7\"; }; };\n",
                 "bad.cfg:2: import.csv.encoding: \"KLINGON-7\" is not an encoding");
    expect_error("import: {\n initial_password = \"secret\"; };\n",
                 "bad.cfg:2: import.initial_password: \"secret\" is neither \"unknown\" nor");
    expect_error("kafka: {\n  partitions = ;\n};\n", "bad.cfg:2: syntax error");
    expect_error("import: { deletion_guard: { max_ratio = 1.5; }; };\n",
                 "import.deletion_guard.max_ratio: 1.5 is not between 0 and 1");
    expect_error(
        "import: { scheme: { username: {\n student = \"<firstname>[0].<lastname\"; }; }; };\n",
        "bad.cfg:2: import.scheme.username.student: ");
    expect_error("import: { scheme: { username: {\n default = "
                 "\"<firstname>[COUNTER2][ALWAYSCOUNTER]\"; }; }; };\n",
                 "bad.cfg:2: import.scheme.username.default: ");
    expect_error("import: { scheme: {\n email = \"<firstname>@<maildomain>\"; }; };\n",
                 "import.scheme.email: uses <maildomain>, but import.maildomain is not set");
}

/* ldap.accounts.NAME: the program's own account replaces the shared one; others keep it. */
static void test_ldap_accounts(void **state)
{
    (void)state;
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE];
    char *path =
        write_file("acc.cfg", "ldap: {\n"
                              " bind_dn = \"cn=shared\"; password_file = \"/s\";\n"
                              " accounts: {\n"
                              "  reconciler: { bind_dn = \"cn=rec\"; "
                              "password_file = \"/r\"; };\n"
                              "  audit: { bind_dn = \"cn=aud\"; password_file = \"/a\"; };\n"
                              " };\n"
                              "};\n");
    assert_int_equal(config_load(&cfg, path, NULL, err, sizeof(err)), 0);
    assert_string_equal(cfg.ldap.bind_dn, "cn=shared");
    config_use_account(&cfg, "reconciler");
    assert_string_equal(cfg.ldap.bind_dn, "cn=rec");
    assert_string_equal(cfg.ldap.password_file, "/r");
    assert_string_equal(cfg.ldap.account_key, "ldap.accounts.reconciler");
    config_free(&cfg);

    assert_int_equal(config_load(&cfg, path, NULL, err, sizeof(err)), 0);
    config_use_account(&cfg, "scheduler"); /* no account of its own: the shared one */
    assert_string_equal(cfg.ldap.bind_dn, "cn=shared");
    assert_string_equal(cfg.ldap.password_file, "/s");
    assert_string_equal(cfg.ldap.account_key, "ldap");
    config_use_account(&cfg, "devbroker");
    assert_string_equal(cfg.ldap.bind_dn, "cn=shared");
    config_free(&cfg);

    /* Without a shared account, a program without its own has none. */
    path = write_file("acc2.cfg", "ldap: { accounts: { admin: { bind_dn = \"cn=adm\"; "
                                  "password_file = \"/m\"; }; }; };\n");
    assert_int_equal(config_load(&cfg, path, NULL, err, sizeof(err)), 0);
    config_use_account(&cfg, "ingest");
    assert_null(cfg.ldap.bind_dn);
    config_use_account(&cfg, "admin");
    assert_string_equal(cfg.ldap.bind_dn, "cn=adm");
    config_free(&cfg);

    expect_error("ldap: { accounts: {\n reconcilr: { bind_dn = \"x\"; }; }; };\n",
                 "bad.cfg:2: ldap.accounts.reconcilr: unknown setting");
    expect_error("ldap: { accounts: {\n audit: {\n bind_dn = \"x\"; }; }; };\n",
                 "bad.cfg:2: ldap.accounts.audit.password_file: must be set");
    expect_error("ldap: { accounts: { audit: {\n password_file = \"/x\"; }; }; };\n",
                 "ldap.accounts.audit.bind_dn: must be set");
    expect_error("ldap: { accounts: { audit: {\n bind_dn = \"x\";\n password = \"p\"; }; }; };\n",
                 "bad.cfg:3: ldap.accounts.audit.password: unknown setting");
    expect_error("ldap: { accounts: {\n ingest = \"cn=x\"; }; };\n",
                 "bad.cfg:2: ldap.accounts.ingest: must be a group");
}

/* The api group (sisopi-api): defaults, every key, and errors naming file, line and key. */
static void test_api_section(void **state)
{
    (void)state;
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE];
    config_defaults(&cfg);
    assert_string_equal(cfg.api.listen, "127.0.0.1:9480");
    assert_null(cfg.api.tls_cert);
    assert_int_equal(cfg.api.max_upload_bytes, 16 << 20);
    assert_int_equal(cfg.api.max_jobs_per_school, 2);
    assert_int_equal(cfg.api.token_lifetime_seconds, 900);
    config_free(&cfg);
    char *path = write_file("api.cfg", "api: {\n"
                                       "  listen = \"[::1]:8443\";\n"
                                       "  tls_cert = \"/etc/sisopi/api.crt\";\n"
                                       "  tls_key = \"/etc/sisopi/api.key\";\n"
                                       "  state_dir = \"/srv/api\";\n"
                                       "  max_upload_bytes = 1048576;\n"
                                       "  max_jobs_per_school = 3;\n"
                                       "  connection_limit = 10;\n"
                                       "  per_ip_connection_limit = 2;\n"
                                       "  connection_timeout = \"10s\";\n"
                                       "  token_lifetime = \"1h\";\n"
                                       "  login_failures = 4;\n"
                                       "  login_failures_per_address = 40;\n"
                                       "  login_window = \"10m\";\n"
                                       "};\n");
    assert_int_equal(config_load(&cfg, path, NULL, err, sizeof(err)), 0);
    assert_string_equal(cfg.api.listen, "[::1]:8443");
    assert_string_equal(cfg.api.tls_key, "/etc/sisopi/api.key");
    assert_string_equal(cfg.api.state_dir, "/srv/api");
    assert_int_equal(cfg.api.max_upload_bytes, 1048576);
    assert_int_equal(cfg.api.max_jobs_per_school, 3);
    assert_int_equal(cfg.api.per_ip_connection_limit, 2);
    assert_int_equal(cfg.api.connection_timeout_seconds, 10);
    assert_int_equal(cfg.api.token_lifetime_seconds, 3600);
    assert_int_equal(cfg.api.login_failures_per_address, 40);
    assert_int_equal(cfg.api.login_window_seconds, 600);
    config_free(&cfg);
    expect_error("api: {\n  listen = \"localhost:80\";\n};\n",
                 "bad.cfg:2: api.listen: \"localhost\": the host must be a numeric");
    expect_error("api: {\n  tls_cert = \"a.crt\";\n};\n",
                 "bad.cfg:2: api.tls_key: must be set too");
    expect_error("api: {\n\n  max_upload_bytes = 10;\n};\n", "bad.cfg:3: api.max_upload_bytes");
    expect_error("api: {\n  token_lifetime = \"1s\";\n};\n",
                 "bad.cfg:2: api.token_lifetime: must be from 1m to 24h");
    expect_error("api: {\n  tls = true;\n};\n", "bad.cfg:2: api.tls: unknown setting");
}

static void test_missing_file(void **state)
{
    (void)state;
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE];
    assert_int_equal(config_load(&cfg, "/nonexistent/sisopi.cfg", NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/sisopi.cfg: cannot read"));
    config_free(&cfg);
}

static void test_durations(void **state)
{
    (void)state;
    int64_t s;
    assert_int_equal(config_parse_duration("90d", &s), 0);
    assert_int_equal(s, 90 * 86400);
    assert_int_equal(config_parse_duration("12h", &s), 0);
    assert_int_equal(s, 12 * 3600);
    assert_int_equal(config_parse_duration("5m", &s), 0);
    assert_int_equal(s, 300);
    assert_int_equal(config_parse_duration("30s", &s), 0);
    assert_int_equal(s, 30);
    assert_int_equal(config_parse_duration("7", &s), 0);
    assert_int_equal(s, 7 * 86400);
    assert_int_equal(config_parse_duration("0", &s), 0);
    assert_int_equal(s, 0);
    assert_int_equal(config_parse_duration("", &s), -1);
    assert_int_equal(config_parse_duration("-1d", &s), -1);
    assert_int_equal(config_parse_duration("1w", &s), -1);
    assert_int_equal(config_parse_duration("1dd", &s), -1);
    assert_int_equal(config_parse_duration("99999999999999d", &s), -1);
}

/* ldap.connect_timeout and ldap.timeout: durations like the others, 10 s and 60 s by default
 * (a remote directory over a WAN), bounded so that neither 0 nor "60" (days) slips through. */
static void test_ldap_timeouts(void **state)
{
    (void)state;
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE] = "";
    config_defaults(&cfg);
    assert_int_equal(cfg.ldap.connect_timeout_seconds, 10);
    assert_int_equal(cfg.ldap.timeout_seconds, 60);
    config_free(&cfg);
    char *path = write_file("ldap.cfg", "ldap: { base = \"dc=x\"; connect_timeout = \"3s\";\n"
                                        "  timeout = \"2m\"; };\n");
    if (config_load(&cfg, path, NULL, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.ldap.connect_timeout_seconds, 3);
    assert_int_equal(cfg.ldap.timeout_seconds, 120);
    config_free(&cfg);
    path = write_file("ldap.cfg", "ldap: { base = \"dc=x\"; timeout = \"1d\"; };\n");
    if (config_load(&cfg, path, NULL, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.ldap.connect_timeout_seconds, 10);
    assert_int_equal(cfg.ldap.timeout_seconds, 86400);
    config_free(&cfg);
    expect_error("ldap: {\n connect_timeout = \"0s\"; };\n",
                 "bad.cfg:2: ldap.connect_timeout: must be between \"1s\" and \"1h\"");
    expect_error("ldap: {\n connect_timeout = \"2h\"; };\n",
                 "bad.cfg:2: ldap.connect_timeout: must be between");
    expect_error("ldap: {\n\n timeout = 60; };\n",
                 "bad.cfg:3: ldap.timeout: must be between \"1s\" and \"1d\" (a plain number "
                 "means days)");
    expect_error("ldap: {\n timeout = \"0\"; };\n", "bad.cfg:2: ldap.timeout: must be between");
    expect_error("ldap: {\n timeout = \"60 s\"; };\n",
                 "bad.cfg:2: ldap.timeout: must be a duration");
    expect_error("ldap: {\n connect_timeout = true; };\n",
                 "bad.cfg:2: ldap.connect_timeout: must be a duration");
}

static void test_password_file(void **state)
{
    (void)state;
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE];
    config_defaults(&cfg);
    char *path = write_file("secret", "s3cret\n");
    cfg.ldap.password_file = strdup(path);
    chmod(path, 0600);
    char *pw = config_read_password(&cfg, err, sizeof(err));
    assert_non_null(pw);
    assert_string_equal(pw, "s3cret");
    free(pw);
    chmod(path, 0644);
    assert_null(config_read_password(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "readable by group or others"));
    /* The error must never echo the secret. */
    assert_null(strstr(err, "s3cret"));
    config_free(&cfg);
}

/* The value librdkafka holds for name in conf. */
static void expect_conf(rd_kafka_conf_t *conf, const char *name, const char *want)
{
    char v[512];
    size_t n = sizeof(v);
    if (rd_kafka_conf_get(conf, name, v, &n) != RD_KAFKA_CONF_OK)
        fail_msg("librdkafka has no %s", name);
    if (strcmp(v, want) != 0)
        fail_msg("%s: \"%s\", expected \"%s\"", name, v, want);
}

/* TLS and SASL reach librdkafka through kafka.properties, for every client (they all start
 * from kafka_conf_new), and a secret can come from a file instead of the config file. */
static void test_kafka_security_properties(void **state)
{
    (void)state;
    struct config cfg;
    char err[CONFIG_ERRSTR_SIZE] = "", text[1024];
    char *secret = strdup(write_file("kafka.secret", "s3cret-kafka\n"));
    chmod(secret, 0600);
    snprintf(text, sizeof(text),
             "kafka: { bootstrap = \"broker1:9093\";\n"
             "  properties = ( [ \"security.protocol\", \"SASL_SSL\" ],\n"
             "    [ \"ssl.ca.location\", \"/etc/sisopi/kafka-ca.pem\" ],\n"
             "    [ \"sasl.mechanisms\", \"SCRAM-SHA-512\" ],\n"
             "    [ \"sasl.username\", \"sisopi\" ],\n"
             "    [ \"sasl.password_file\", \"%s\" ] ); };\n",
             secret);
    char *path = write_file("sasl.cfg", text);
    if (config_load(&cfg, path, NULL, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.kafka.n_properties, 5);
    assert_string_equal(cfg.kafka.properties[4].key, "sasl.password");
    assert_string_equal(cfg.kafka.properties[4].value, "s3cret-kafka");
    rd_kafka_conf_t *conf = kafka_conf_new(&cfg, err, sizeof(err));
    if (!conf)
        fail_msg("%s", err);
    expect_conf(conf, "bootstrap.servers", "broker1:9093");
    expect_conf(conf, "security.protocol", "sasl_ssl");
    expect_conf(conf, "ssl.ca.location", "/etc/sisopi/kafka-ca.pem");
    expect_conf(conf, "sasl.mechanisms", "SCRAM-SHA-512");
    expect_conf(conf, "sasl.username", "sisopi");
    expect_conf(conf, "sasl.password", "s3cret-kafka");
    rd_kafka_conf_destroy(conf);
    config_free(&cfg);

    /* A secret file others can read, a missing or an empty one: FILE:LINE: KEY: why, and
     * never the secret. */
    chmod(secret, 0644);
    expect_error(text, "bad.cfg:6: kafka.properties: sasl.password_file: ");
    expect_error(text, "the secret file is readable by group or others (mode 644)");
    assert_int_equal(config_load(&cfg, path, NULL, err, sizeof(err)), -1);
    assert_null(strstr(err, "s3cret"));
    config_free(&cfg);
    unlink(secret);
    expect_error(text, "cannot open the secret file: No such file or directory");
    write_file("kafka.secret", "");
    chmod(secret, 0600);
    expect_error(text, "the secret file is empty");
    unlink(secret);
    free(secret);
    /* A property librdkafka does not know fails where the clients are made, naming it. */
    path = write_file("typo.cfg", "kafka: { bootstrap = \"b:1\";\n"
                                  "  properties = ( [ \"sasl.pasword\", \"x\" ] ); };\n");
    assert_int_equal(config_load(&cfg, path, NULL, err, sizeof(err)), 0);
    assert_null(kafka_conf_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "kafka property sasl.pasword"));
    assert_non_null(strstr(err, "typo.cfg: kafka.properties"));
    config_free(&cfg);
}

static void test_csv_targets(void **state)
{
    (void)state;
    assert_int_equal(config_csv_target("record_uid"), CSV_T_RECORD_UID);
    assert_int_equal(config_csv_target("__ignore"), CSV_T_IGNORE);
    assert_int_equal(config_csv_target("name"), CSV_T_USERNAME);
    assert_int_equal(config_csv_target("description"), CSV_T_EXTRA);
    assert_int_equal(config_csv_target("userPassword"), -1);
    assert_int_equal(config_csv_target("ucsschoolSchool"), -1);
    assert_int_equal(config_csv_target("bad name"), -1);
    assert_int_equal(config_csv_target("__role"), -1);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_example_file_loads),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_bootstrap_override_order),
        cmocka_unit_test(test_errors_name_file_line_key),
        cmocka_unit_test(test_ldap_accounts),
        cmocka_unit_test(test_api_section),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_ldap_timeouts),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_kafka_security_properties),
        cmocka_unit_test(test_csv_targets),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}
