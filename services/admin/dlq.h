/*
 * sisopi-admin dlq replay (--offset N --partition P | --all [--partition P]) [--dry-run]
 * [--timeout SEC]: sends dead letters back to sisopi.users once their cause is fixed.
 */
#ifndef SISOPI_ADMIN_DLQ_H
#define SISOPI_ADMIN_DLQ_H

#include "config.h"

/* argv[0] is "dlq". Returns an exit code: 0 every selected dead letter replayed (or would be,
 * with --dry-run), 1 one was not (each said why), 64 a bad command line. */
int admin_dlq(const struct config *cfg, int argc, char **argv);

#endif
