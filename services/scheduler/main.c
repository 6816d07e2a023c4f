/*
 * sisopi-scheduler: not built yet; issue #4 builds it. Until then it only explains itself
 * and refuses to run, so no script mistakes it for a working service.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "Usage: sisopi-scheduler [-c FILE] [--bootstrap SERVERS] [--once]\n"
    "\n"
    "Finds accounts in limbo whose purge date has passed (from sisopi.events, and by sweeping\n"
    "the directory for ucsschoolPurgeTimestamp<=now) and emits PurgeDue for each to\n"
    "sisopi.users. --once sweeps, emits and exits.\n";

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            cli_print_version("scheduler");
            return EXIT_OK;
        }
    }
    fputs(usage_text, stderr);
    fprintf(stderr, "\nsisopi-scheduler: not implemented yet (issue #4); nothing was done.\n");
    return EXIT_FAILED;
}
