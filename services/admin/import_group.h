/* sisopi-admin import-group create|add-member|remove-member|list|delete: the directory entries
 * that say who may import which schools and roles through sisopi-api (docs/api.md). */
#ifndef SISOPI_ADMIN_IMPORT_GROUP_H
#define SISOPI_ADMIN_IMPORT_GROUP_H

#include "config.h"

/* argv[0] is "import-group". Returns an exit code: 0 done, 1 directory trouble or refused
 * (printed: what and why), 64 bad command line. */
int admin_import_group(const struct config *cfg, int argc, char **argv);

#endif
