/* sisopi-admin topics check|create [--timeout SEC]: the topics as the config wants them. */
#ifndef SISOPI_ADMIN_TOPICS_H
#define SISOPI_ADMIN_TOPICS_H

#include "config.h"

/* argv[0] is "topics". Returns an exit code: 0 all as wanted, 1 a problem (printed). */
int admin_topics(const struct config *cfg, int argc, char **argv);

#endif
