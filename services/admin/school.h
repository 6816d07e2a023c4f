/* sisopi-admin school create|list|show|delete: the school OUs, made from one template. */
#ifndef SISOPI_ADMIN_SCHOOL_H
#define SISOPI_ADMIN_SCHOOL_H

#include "config.h"

/* argv[0] is "school". Returns an exit code: 0 done, 1 directory trouble or refused (printed),
 * 64 bad command line or school name. */
int admin_school(const struct config *cfg, int argc, char **argv);

#endif
