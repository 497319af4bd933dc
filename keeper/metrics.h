/* SPDX-License-Identifier: MIT */
/* metrics.h - the keeper's counters and their Prometheus text rendering
 * (GET /metrics).  Thread-safe (one mutex). */
#ifndef MGCALL_KEEPER_METRICS_H
#define MGCALL_KEEPER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "keeper/sched.h"

enum km_hook_kind { KM_HOOK_COMMAND = 0, KM_HOOK_URL = 1 };

struct kmetrics;

struct kmetrics *km_new(void);
void km_free(struct kmetrics *m);

/* One keepAlive answered with status (0 = no HTTP answer: network). */
void km_keepalive(struct kmetrics *m, long status);
/* A retry was scheduled after a failure. */
void km_retry(struct kmetrics *m);
/* Lateness of a keepAlive: send time minus due time, in ms (>= 0). */
void km_lateness(struct kmetrics *m, int64_t ms);
/* n more requests to a token endpoint (mgcall_client_token_requests()). */
void km_token_requests(struct kmetrics *m, uint64_t n);
void km_hook_run(struct kmetrics *m, enum km_hook_kind kind, int ok);
void km_ended(struct kmetrics *m, enum ks_reason reason);
/* Hook jobs in the store's outbox not yet delivered nor given up. */
void km_outbox_pending(struct kmetrics *m, int64_t n);

/* The in-flight controller's view (keeper/inflight.h), set by the main
 * loop about every 250 ms; rendered as gauges. */
struct km_flow {
  size_t in_flight, backlog;
  unsigned target, ceiling, max;
  double need_per_s, achieved_per_s, latency_s;
  uint64_t decreases;
};
void km_flow(struct kmetrics *m, const struct km_flow *flow);

/* Read back a counter (tests, the demo). */
uint64_t km_keepalives(struct kmetrics *m, long status);
uint64_t km_hook_runs(struct kmetrics *m, enum km_hook_kind kind, int ok);
/* Calls ended with reason since start (the status page). */
uint64_t km_ended_count(struct kmetrics *m, enum ks_reason reason);

/* Render every metric in the Prometheus text format 0.0.4.  states: calls
 * by live state (indexed by enum ks_state); min_left_ms: least time to a
 * deadline, -1 when no call is scheduled.  Returns a malloc'd string
 * (caller frees) or NULL on out of memory. */
char *km_render(struct kmetrics *m, const size_t states[4],
                int64_t min_left_ms);

#endif
