/*
 * sisopi-admin: not built yet; issue #3 builds it. Until then it only explains itself
 * and refuses to run, so no script mistakes it for a working service.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "Usage: sisopi-admin [-c FILE] [--bootstrap SERVERS] COMMAND\n"
    "\n"
    "Commands (to come):\n"
    "  school create NAME | school list   manage school OUs\n"
    "  release IMPORT_ID                  let a held import proceed\n"
    "  purge list                         who is due for purging, and when\n"
    "  topics create | topics check       create or check the topics on a real broker\n";

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            cli_print_version("admin");
            return EXIT_OK;
        }
    }
    fputs(usage_text, stderr);
    fprintf(stderr, "\nsisopi-admin: not implemented yet (issue #3); nothing was done.\n");
    return EXIT_FAILED;
}
