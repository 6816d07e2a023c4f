/*
 * failpoint: deliberate crashes at named points of a program, for the fault tests: a
 * SIGKILL at a moment no outside timing can hit every time (between a wave's entries and its
 * groups, after the directory writes and before their events, after the state is saved and
 * before the offsets are committed).
 *
 *   SISOPI_FAILPOINT=NAME        kills the process the first time it passes NAME
 *   SISOPI_FAILPOINT=NAME:N      ... the Nth time
 *
 * Unset (always, outside tests) it costs one getenv at the first call and a compare after.
 * The kill is SIGKILL, what an operator's kill -9 or a power cut does: nothing is flushed.
 */
#ifndef SISOPI_FAILPOINT_H
#define SISOPI_FAILPOINT_H

/* The points (docs/reconciler.md lists them): "wave_entries", "wave_applied", "batch_saved". */
void failpoint(const char *name);

#endif
