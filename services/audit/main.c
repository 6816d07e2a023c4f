/*
 * sisopi-audit: read-only answers from the topics (and, for verify, the directory): dump,
 * history, imports, report, verify. This file parses the command line and dispatches; each
 * command is in its own file, its logic in the audit_*.c modules beside it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: sisopi-audit [-c FILE] [-b SERVERS] COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "Answers questions from the topics; needs no write access anywhere.\n"
            "Every command takes --timeout SEC (default 30: the time to read each topic to its\n"
            "end) and, except dump and report --csv, --json (one JSON object per line, for\n"
            "programs; plain text for people otherwise). Times are UTC ISO-8601.\n"
            "\n"
            "Commands:\n"
            "  dump [--topic users|events|dlq|NAME]\n"
            "        every message of the topic (default users), decoded, one JSON object a\n"
            "        line: topic, partition, offset, key, time (ISO-8601), timestamp (epoch\n"
            "        milliseconds) and the message; a message that cannot be decoded is\n"
            "        shown with \"error\" instead.\n"
            "        Exit: 0 all decoded; 2 some could not be decoded; 1 not read.\n"
            "  history RECORD_UID [--json]\n"
            "        everything about one person (record_uid, case-insensitive), in time order:\n"
            "        its UserRecords and PurgeDue orders on sisopi.users and its events on\n"
            "        sisopi.events, each with time, topic[partition]@offset, import_id or cause,\n"
            "        type and what changed; dry runs are marked \"(dry run)\".\n"
            "        Exit: 0 found; 1 nothing about that record_uid (or not read).\n"
            "  imports [--json]\n"
            "        every import seen, by time: import_id, school, role, source, time, dry run,\n"
            "        state (completed, held, incomplete, pending), partitions reported, and the\n"
            "        counts summed over the partitions.\n"
            "        Exit: 0 read; 1 not read.\n"
            "  report IMPORT_ID [--csv] [--output FILE] [--json]\n"
            "        the import's summary as the reference writes it: errors, added (A),\n"
            "        modified (M) and deleted (D, i.e. a school taken away) persons, by line,\n"
            "        with the totals. --csv: the summary CSV (excel dialect, every field\n"
            "        quoted, a leading ' before = + - @ TAB CR); --output FILE: the CSV into\n"
            "        FILE (mode 0600: it holds personal data) and the totals on stdout.\n"
            "        Exit: 0 done; 1 unknown import (or not read, or FILE not written).\n"
            "  verify [--json]\n"
            "        compares the directory with what the topic history implies, person by\n"
            "        person: account, DN, role, active/limbo, schools, purge date, classes per\n"
            "        school; one line per difference, \"RECORD_UID FIELD: expected X, directory\n"
            "        has Y\", then \"verify: N persons checked, M differences\".\n"
            "        Exit: 0 no difference; 2 differences (drift); 1 not read.\n"
            "\n");
    cli_print_global_options(f);
    fprintf(f, "\n"
               "Exit codes also: 64 bad command line.\n");
}

enum { A_JSON = 1, A_TIMEOUT = 2, A_TOPIC = 4, A_CSV = 8, A_OUTPUT = 16 };

struct command {
    const char *name;
    unsigned allowed;
    int min_pos, max_pos;
    int (*run)(const struct config *cfg, const struct audit_args *a);
};

static const struct command commands[] = {
    {"dump", A_TIMEOUT | A_TOPIC, 0, 0, audit_cmd_dump},
    {"history", A_TIMEOUT | A_JSON, 1, 1, audit_cmd_history},
    {"imports", A_TIMEOUT | A_JSON, 0, 0, audit_cmd_imports},
    {"report", A_TIMEOUT | A_JSON | A_CSV | A_OUTPUT, 1, 1, audit_cmd_report},
    {"verify", A_TIMEOUT | A_JSON, 0, 0, audit_cmd_verify},
};

/* Parses the command's options (argv[0] is the command). Returns 0, or EXIT_USAGE. */
static int parse_args(const struct command *cmd, int argc, char **argv, struct audit_args *a)
{
    static const struct option opts[] = {{"json", no_argument, NULL, A_JSON},
                                         {"timeout", required_argument, NULL, A_TIMEOUT},
                                         {"topic", required_argument, NULL, A_TOPIC},
                                         {"csv", no_argument, NULL, A_CSV},
                                         {"output", required_argument, NULL, A_OUTPUT},
                                         {NULL, 0, NULL, 0}};
    int c;
    long n;
    memset(a, 0, sizeof(*a));
    a->timeout_s = 30;
    /* 0, not 1: glibc then starts afresh, permuting again (the global options stopped at the
     * command with "+"), so options may follow the arguments: report ID --csv. */
    optind = 0;
    while ((c = getopt_long(argc, argv, "t:o:", opts, NULL)) != -1) {
        if (c == 't')
            c = A_TOPIC;
        else if (c == 'o')
            c = A_OUTPUT;
        if (c == '?')
            return EXIT_USAGE;
        if (!(cmd->allowed & (unsigned)c)) {
            for (const struct option *o = opts; o->name; o++) {
                if (o->val == c)
                    fprintf(stderr, "sisopi-audit: %s does not take --%s\n", cmd->name, o->name);
            }
            return EXIT_USAGE;
        }
        switch (c) {
        case A_JSON:
            a->json = true;
            break;
        case A_CSV:
            a->csv = true;
            break;
        case A_TOPIC:
            a->topic = optarg;
            break;
        case A_OUTPUT:
            a->output = optarg;
            break;
        case A_TIMEOUT:
            if (cli_number("audit", "timeout", optarg, 1, 86400, &n) < 0)
                return EXIT_USAGE;
            a->timeout_s = (int)n;
            break;
        }
    }
    a->pos = argv + optind;
    a->n_pos = argc - optind;
    if (a->n_pos < cmd->min_pos || a->n_pos > cmd->max_pos) {
        fprintf(stderr, "sisopi-audit: %s takes %s (see --help)\n", cmd->name,
                cmd->max_pos == 0 ? "no arguments" : "exactly one argument");
        return EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct cli_global g;
    int exit_code = cli_parse_global(argc, argv, "audit", usage, &g);
    if (exit_code >= 0)
        return exit_code;
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]) && !cmd; i++)
        cmd = strcmp(commands[i].name, argv[g.command]) == 0 ? &commands[i] : NULL;
    if (!cmd) {
        fprintf(stderr, "sisopi-audit: %s: unknown command (see --help)\n", argv[g.command]);
        return EXIT_USAGE;
    }
    struct audit_args a;
    if (parse_args(cmd, argc - g.command, argv + g.command, &a) != 0)
        return EXIT_USAGE;
    struct config cfg;
    if (cli_load(&cfg, "audit", g.config, g.bootstrap) < 0)
        return EXIT_FAILED;
    int rc = cmd->run(&cfg, &a);
    config_free(&cfg);
    return rc;
}
