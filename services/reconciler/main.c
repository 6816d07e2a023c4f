/*
 * sisopi-reconciler: not built yet; issue #3 builds it. Until then it only explains itself
 * and refuses to run, so no script mistakes it for a working service.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "Usage: sisopi-reconciler [-c FILE] [--bootstrap SERVERS] [--until-idle]\n"
    "\n"
    "Consumes sisopi.users as a member of a consumer group and applies the SiSoPi rules to\n"
    "LDAP: creates accounts, adds and removes schools, moves persons into and out of the\n"
    "limbo OU, and purges them on PurgeDue. Every change becomes an event on sisopi.events.\n"
    "--until-idle exits once every assigned partition is caught up.\n";

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            cli_print_version("reconciler");
            return EXIT_OK;
        }
    }
    fputs(usage_text, stderr);
    fprintf(stderr, "\nsisopi-reconciler: not implemented yet (issue #3); nothing was done.\n");
    return EXIT_FAILED;
}
