/*
 * sisopi-admin: what an operator does by hand: make and list schools and import groups, release
 * a held import, list the purges to come, check or create the topics, replay dead letters.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avro_codec.h"
#include "cli.h"
#include "clock.h"
#include "dlq.h"
#include "import_group.h"
#include "import_id.h"
#include "kafka_client.h"
#include "log.h"
#include "purge.h"
#include "school.h"
#include "topics.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: sisopi-admin [-c FILE] [-b SERVERS] COMMAND\n"
            "\n"
            "Commands:\n"
            "  release IMPORT_ID   let an import the deletion guard held proceed: writes an\n"
            "                      ImportRelease to every partition of sisopi.users; each\n"
            "                      reconciler then removes the persons the import did not list\n"
            "  purge list [--due] [--json]\n"
            "                      the accounts with a purge date (ucsschoolPurgeTimestamp),\n"
            "                      by date: when each is due, and which ones the scheduler\n"
            "                      skips (no school role, active); --due: only those due now\n"
            "  topics check [--timeout SEC]\n"
            "                      the three topics against the config: present, sisopi.users\n"
            "                      with exactly kafka.partitions partitions, retention.ms -1\n"
            "                      (kept forever) for sisopi.events and the dead letters\n"
            "  topics create [--timeout SEC]\n"
            "                      creates the missing ones (Admin API CreateTopics, with\n"
            "                      kafka.partitions and kafka.replication_factor), then checks;\n"
            "                      the dev broker cannot create topics (it makes its own)\n"
            "  school create NAME... [--display-name TEXT]\n"
            "                      makes every entry a school needs (its OU, the user\n"
            "                      containers per role, Domain Users NAME, the role groups and\n"
            "                      the class container, as deploy/ldap/school.ldif.in says);\n"
            "                      adds only what is missing, so it completes an interrupted\n"
            "                      create, and a complete school is left as it is (exit 0).\n"
            "                      NAME: 1-64 ASCII letters, digits, _ and -, starting and\n"
            "                      ending with a letter or digit; not the limbo OU, and not an\n"
            "                      existing school's name in another case. --display-name\n"
            "                      (one NAME only): the OU's displayName (default: NAME)\n"
            "  school list [--json]\n"
            "                      every school OU (the limbo OU last) with its display name\n"
            "                      and its accounts per role: the accounts that list the school\n"
            "                      in ucsschoolSchool (a person in two schools counts in both;\n"
            "                      the limbo OU's are deactivated, waiting for their purge)\n"
            "  school show NAME    one school: its entries (present or missing), accounts per\n"
            "                      role, classes, other entries\n"
            "  school delete NAME  removes a school's entries, deepest first; refused (saying\n"
            "                      how many) while it holds any account, class or other entry,\n"
            "                      or any account elsewhere still lists it\n"
            "  import-group create NAME --school S... --role R... --member UID...\n"
            "                      makes the import group cn=NAME,ou=<first school>,BASE:\n"
            "                      its members may import the roles R for the schools S\n"
            "                      through sisopi-api. Each school must exist and not be the\n"
            "                      limbo OU; R: student, teacher, staff, teacher_and_staff;\n"
            "                      each UID must name exactly one person (stored as its DN).\n"
            "                      --school, --role, --member: each at least once, repeatable\n"
            "  import-group add-member NAME UID...\n"
            "  import-group remove-member NAME UID...\n"
            "                      adds or removes members (the last one stays: delete the\n"
            "                      group instead); a new login of the person sees the change\n"
            "  import-group list [--school S] [--json]\n"
            "                      every import group (granting S only, with --school): name,\n"
            "                      schools, roles, members as uids\n"
            "  import-group delete NAME\n"
            "                      removes the import group\n"
            "  dlq replay (--offset N --partition P | --all [--partition P]) [--dry-run]\n"
            "                      [--timeout SEC]\n"
            "                      sends dead letters back once their cause is fixed: each\n"
            "                      selected message of the dead-letter topic goes with its key\n"
            "                      and value to the partition of sisopi.users it came from\n"
            "                      (headers sisopi-topic, sisopi-partition); one line per dead\n"
            "                      letter, then a summary. --offset N --partition P: the one at\n"
            "                      that offset of the dead-letter topic's partition P; --all:\n"
            "                      every one (of partition P only, if given); one of them is\n"
            "                      required. --dry-run: says what would be sent, sends nothing.\n"
            "                      Refused: dead letters of another topic, and those whose key\n"
            "                      came again after them (a newer record of the person, or their\n"
            "                      own earlier replay); not replayable: those sent without their\n"
            "                      value. --timeout: for reading and delivery (default 30)\n"
            "\n");
    cli_print_global_options(f);
    fprintf(f, "\n"
               "Exit codes: 0 done; 1 failed or refused (the directory unreachable, a school that\n"
               "does not exist or is not empty, a dead letter not replayed, an import group\n"
               "refused: what and why); 64 bad command line or school name.\n");
}

static int cmd_release(const struct config *cfg, const char *import_id)
{
    char err[512];
    if (!import_id_valid(import_id)) {
        fprintf(stderr,
                "sisopi-admin: \"%s\" is not an import_id (a UUID as sisopi-ingest "
                "prints it)\n",
                import_id);
        return EXIT_USAGE;
    }
    rd_kafka_conf_t *conf = kafka_conf_new(cfg, err, sizeof(err));
    rd_kafka_t *rk = conf ? kafka_producer_new(conf, err, sizeof(err)) : NULL;
    if (!rk) {
        fprintf(stderr, "sisopi-admin: %s\n", err);
        return EXIT_FAILED;
    }
    int rc = EXIT_FAILED;
    if (kafka_check_topic(rk, cfg, cfg->kafka.topic_users, 10000, err, sizeof(err)) < 0) {
        fprintf(stderr, "sisopi-admin: %s\n", err);
        goto out;
    }
    struct passwd *pw = getpwuid(getuid());
    struct users_msg m = {.type = USERS_MSG_IMPORT_RELEASE};
    m.u.release.import_id = (char *)import_id;
    m.u.release.released_by = pw ? pw->pw_name : "unknown";
    m.u.release.produced_at_ms = clock_wall_ms();
    for (int p = 0; p < cfg->kafka.partitions; p++) {
        if (kafka_produce_users_msg(rk, cfg, p, import_id, &m, NULL, NULL, err, sizeof(err)) < 0) {
            fprintf(stderr, "sisopi-admin: %s\n", err);
            goto out;
        }
    }
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "sisopi-admin: the release was not delivered within 30 s\n");
        goto out;
    }
    printf("released %s on %d partitions (by %s)\n", import_id, cfg->kafka.partitions,
           m.u.release.released_by);
    log_kv(LEVEL_INFO, "import_release_sent", "import_id", import_id, NULL);
    rc = EXIT_OK;
out:
    rd_kafka_destroy(rk);
    return rc;
}

int main(int argc, char **argv)
{
    struct cli_global g;
    int exit_code = cli_parse_global(argc, argv, "admin", usage, &g);
    if (exit_code >= 0)
        return exit_code;
    const char *cmd = argv[g.command];
    bool purge = strcmp(cmd, "purge") == 0, topics = strcmp(cmd, "topics") == 0;
    bool school = strcmp(cmd, "school") == 0, dlq = strcmp(cmd, "dlq") == 0;
    bool group = strcmp(cmd, "import-group") == 0;
    if (strcmp(cmd, "release") != 0 && !purge && !topics && !school && !dlq && !group) {
        fprintf(stderr, "sisopi-admin: %s: unknown command (see --help)\n", cmd);
        return EXIT_USAGE;
    }
    if (!purge && !topics && !school && !dlq && !group && g.command + 2 != argc) {
        fprintf(stderr, "sisopi-admin: release takes exactly one IMPORT_ID\n");
        return EXIT_USAGE;
    }
    struct config cfg;
    if (cli_load(&cfg, "admin", g.config, g.bootstrap) < 0)
        return EXIT_FAILED;
    int rc = purge    ? admin_purge(&cfg, argc - g.command, argv + g.command)
             : topics ? admin_topics(&cfg, argc - g.command, argv + g.command)
             : school ? admin_school(&cfg, argc - g.command, argv + g.command)
             : dlq    ? admin_dlq(&cfg, argc - g.command, argv + g.command)
             : group  ? admin_import_group(&cfg, argc - g.command, argv + g.command)
                      : cmd_release(&cfg, argv[g.command + 1]);
    config_free(&cfg);
    return rc;
}
