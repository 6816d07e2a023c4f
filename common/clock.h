/*
 * clock: the two clocks sisopi reads. Wall time (CLOCK_REALTIME) for what goes into messages,
 * events, logs and the directory; monotonic time (CLOCK_MONOTONIC) for durations, deadlines
 * and back-off, which must not jump when the wall clock is set.
 */
#ifndef SISOPI_CLOCK_H
#define SISOPI_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch. */
int64_t clock_wall_ms(void);

/* Monotonic time, in seconds (with fractions), milliseconds and microseconds: only
 * differences of two readings mean anything. */
double clock_mono_s(void);
int64_t clock_mono_ms(void);
uint64_t clock_mono_us(void);

#endif
