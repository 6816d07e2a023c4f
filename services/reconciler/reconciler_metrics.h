/*
 * reconciler_metrics: what sisopi-reconciler shows on /metrics and /healthz: messages
 * consumed, events and dead letters produced, consumer lag per partition, open / held /
 * incomplete imports of its partitions, and its LDAP operations (service_metrics).
 */
#ifndef SISOPI_RECONCILER_METRICS_H
#define SISOPI_RECONCILER_METRICS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reconcile.h"

struct reconciler_metrics;

/* Starts the endpoint on listen ("" = none, the figures are still kept). NULL with err. */
struct reconciler_metrics *reconciler_metrics_new(const char *listen, char *err, size_t errlen);
void reconciler_metrics_free(struct reconciler_metrics *rm); /* NULL is fine */

/* The group's committed offsets of just assigned partitions (read by the member at the
 * assignment anyway): until a partition has a position (nothing consumed since the
 * assignment), its lag counts from there. committed NULL: not known (the broker did not
 * answer, or the partitions were revoked); such a partition counts from its low watermark. */
void reconciler_metrics_committed(struct reconciler_metrics *rm, const int32_t *parts,
                                  const int64_t *committed, size_t n);

/* Publishes the current figures (at most once a second; the imports every 5 s) and the
 * health: ok, or why not. Call it from the consumer loop, also while waiting to retry. */
void reconciler_metrics_publish(struct reconciler_metrics *rm, const struct reconcile_core *core,
                                rd_kafka_t *rk, const int32_t *assigned, size_t n_assigned, bool ok,
                                const char *why);

#endif
