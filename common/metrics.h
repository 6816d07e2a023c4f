/*
 * metrics: the figures a service publishes for Prometheus (/metrics) and its health
 * (/healthz). The service's own thread publishes absolute values (its counters as they are,
 * gauges, histograms) every now and then; the HTTP thread (metrics_http) renders the latest
 * ones. A mutex keeps the two apart, so the hot paths never touch it: they keep their own
 * counters and publish them in one go, at most a few times a second.
 *
 * Names follow Prometheus: sisopi_<what>_<unit>, counters end in _total. Labels are given
 * preformatted ("op=\"add\",result=\"success\"", built with metrics_label()), values are
 * escaped there.
 *
 * Ownership: the registry copies every name, label and help text.
 */
#ifndef SISOPI_METRICS_H
#define SISOPI_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum metrics_type { METRICS_COUNTER = 0, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics;

/* service: "reconciler", "scheduler", "ingest" (rendered as a label of sisopi_up). */
struct metrics *metrics_new(const char *service);
void metrics_free(struct metrics *m); /* NULL is fine */

/* Declares a family once (type and help text), before its values are set. */
void metrics_declare(struct metrics *m, const char *name, enum metrics_type type, const char *help);

/* Sets the value of a counter or gauge series (labels "" or NULL: none). */
void metrics_set(struct metrics *m, const char *name, const char *labels, double value);

/* Sets a histogram series: counts[i] observations <= bounds[i] (not cumulative: this module
 * accumulates them for the "le" buckets), n bounds; count and sum over all observations
 * (those above the last bound included). */
void metrics_set_histogram(struct metrics *m, const char *name, const char *labels,
                           const double *bounds, const uint64_t *counts, size_t n, uint64_t count,
                           double sum);

/* Removes every series of a family (e.g. the lag of partitions no longer assigned). */
void metrics_clear(struct metrics *m, const char *name);

/* Health: ok with a reason shown by /healthz ("ok", "ldap down: ...", ...). A service that
 * stops calling metrics_heartbeat() for stale_after_s seconds is unhealthy too (a hung loop). */
void metrics_health(struct metrics *m, bool ok, const char *why);
void metrics_heartbeat(struct metrics *m);
void metrics_set_stale_after(struct metrics *m, int seconds); /* default 60 */

/* The Prometheus text exposition format (version 0.0.4) of everything published. */
void metrics_render(struct metrics *m, FILE *f);

/* Healthy? *why gets the reason (a copy the caller frees). */
bool metrics_healthy(struct metrics *m, char **why);

/* label="value" with the value escaped (\\, \", \n) appended to buf (with a comma before it
 * when buf is not empty). Returns buf. */
char *metrics_label(char *buf, size_t size, const char *label, const char *value);

#endif
