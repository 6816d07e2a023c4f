/* sisopi-admin purge list [--due] [--json]: the accounts with a purge date, by date. */
#ifndef SISOPI_ADMIN_PURGE_H
#define SISOPI_ADMIN_PURGE_H

#include "config.h"

/* argv[0] is "purge". Returns an exit code. */
int admin_purge(const struct config *cfg, int argc, char **argv);

#endif
