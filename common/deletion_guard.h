/*
 * deletion_guard: when an import's removals wait for an operator. One rule, taken by the
 * ingest for the whole import (its marker carries the decision to every partition) and by a
 * reconciler for its own partition when a producer did not decide.
 */
#ifndef SISOPI_DELETION_GUARD_H
#define SISOPI_DELETION_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "records.h"

/* Whether taking the school from removals of members persons needs a release: more than
 * import.deletion_guard.max_count, or more than max_ratio of the members. */
bool deletion_guard_trips(const struct import_config *im, int64_t removals, int64_t members);

/* The reason an operator reads in ImportHeld (malloc'd): who, how many, the limits, and the
 * command that releases it. */
char *deletion_guard_reason(const struct import_config *im, const char *school, enum role role,
                            int64_t removals, int64_t members, const char *import_id);

#endif
