/* SPDX-License-Identifier: MIT */
/* inflight.h - how many keepAlive requests the keeper keeps in flight.
 *
 * Two limits, the lower wins (docs/mgcall-keeper.md, "Requests in
 * flight"):
 *  - demand (Little's law): requests in flight = rate x latency.  The rate
 *    the schedule needs (live calls / interval, plus retries, plus the
 *    backlog of due calls drained within a second) times the observed
 *    latency, times a headroom.  Recomputed by kif_tick(): once per turn of
 *    the main loop, and whenever due calls wait for the target;
 *  - a ceiling that Graph's pushback moves (AIMD): a 429 or 503 multiplies
 *    it by KIF_DECREASE (at most once per window: only the answer to a
 *    request sent after the last cut cuts again; and only while 429/503 are
 *    at least KIF_PUSHBACK_SHARE of the answers of the last 5 s: a smaller
 *    share is a flaky service, not a throttle), every other answer
 *    raises it by KIF_INCREASE_PCT % of the maximum per round trip.
 * Latency is the mean over the last 5 s of answers (Little's law wants the
 * mean; a smoothed last value swings with a few slow answers).
 * The result stays between KIF_FLOOR and the maximum (--max-concurrency).
 * With a fixed concurrency (--concurrency N) the target is N, always.
 *
 * No clock and no I/O: every function takes "now" (monotonic ms), so the
 * controller is unit tested on an injected clock.  Not thread-safe: the
 * keeper's main loop owns it. */
#ifndef MGCALL_KEEPER_INFLIGHT_H
#define MGCALL_KEEPER_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

/* Default --max-concurrency: 1,000,000 calls at 15 minutes need 1,111
 * keepAlives/s; at 200 ms that is 222 in flight (444 with the headroom),
 * so 1000 leaves room for latencies up to about 450 ms. */
#define KIF_DEFAULT_MAX 1000u
/* Fewest requests in flight the controller allows (unless max is lower). */
#define KIF_FLOOR 8u
/* Demand headroom over Little's law: rate x latency x 2. */
#define KIF_HEADROOM 2.0
/* The backlog (due, not yet sent) is planned to drain within this. */
#define KIF_DRAIN_MS 1000
/* Multiplicative decrease of the ceiling on a 429/503 (once per round
 * trip), and its additive increase per round trip of answers, in percent of
 * the maximum (10 requests for the default 1000). */
#define KIF_DECREASE 0.7
#define KIF_INCREASE_PCT 1
/* Pushback cuts only while 429/503 are at least this share of the answers
 * of the last 5 s (the rate's ring). */
#define KIF_PUSHBACK_SHARE 0.2
/* Latency assumed before the first answer. */
#define KIF_LATENCY_INIT_MS 250
/* Rates are counted in slots of KIF_SLOT_MS over the last KIF_SLOTS slots
 * (5 s). */
#define KIF_SLOT_MS 250
#define KIF_SLOTS 20
/* The falling-behind warning: lateness is looked at every KIF_CHECK_MS; a
 * warning when the latest send was more than KIF_WARN_LATE_MS late and
 * later than in the check before, at most every KIF_WARN_EVERY_MS. */
#define KIF_CHECK_MS 5000
#define KIF_WARN_LATE_MS 1000
#define KIF_WARN_EVERY_MS 30000

struct kif_config {
  unsigned fixed;      /* --concurrency N: always N (0 = adaptive) */
  unsigned max;        /* --max-concurrency, 0 = KIF_DEFAULT_MAX */
  int64_t interval_ms; /* --interval: the rate the schedule needs */
};

/* What answered a keepAlive, for the ceiling. */
enum kif_answer {
  KIF_ANSWER_OK = 0,   /* any HTTP answer but 429/503: raises it */
  KIF_ANSWER_PUSHBACK, /* 429 or 503 (with or without Retry-After) */
  KIF_ANSWER_NONE      /* no HTTP answer (network, token): neutral */
};

struct kif;

/* A controller (cfg copied); NULL on out of memory. */
struct kif *kif_new(const struct kif_config *cfg, int64_t now_ms);
/* NULL is a no-op. */
void kif_free(struct kif *f);

/* Requests that may be in flight now (KIF_FLOOR .. max, or fixed). */
unsigned kif_target(const struct kif *f);
/* The hard cap: the batch is made for this many (max, or fixed). */
unsigned kif_max(const struct kif *f);

/* A keepAlive handed to the batch lateness_ms after it was due. */
void kif_sent(struct kif *f, int64_t now_ms, int64_t lateness_ms);
/* A keepAlive answered after latency_ms; in_flight: requests still out. */
void kif_done(struct kif *f, int64_t now_ms, int64_t latency_ms,
              enum kif_answer answer, size_t in_flight);
/* A retry was scheduled (adds to the needed rate). */
void kif_retry(struct kif *f, int64_t now_ms);

/* Once per turn of the main loop: live = calls scheduled, backlog = calls
 * due but not sent yet.  Recomputes the demand.  Returns 1 when the
 * falling-behind warning is due (then describe it with kif_describe()). */
int kif_tick(struct kif *f, int64_t now_ms, size_t live, size_t backlog);

struct kif_stats {
  unsigned target, ceiling, demand, max;
  double need_per_s;     /* live / interval + retries */
  double achieved_per_s; /* sent over the last 5 s */
  double latency_ms;     /* mean over the last 5 s of answers */
  int64_t lateness_ms;   /* the latest check's largest lateness */
  uint64_t decreases;    /* times pushback lowered the ceiling */
  size_t backlog;
};
void kif_get_stats(const struct kif *f, struct kif_stats *out);

/* The warning's text ("falling behind: ..."). */
void kif_describe(const struct kif *f, char *buf, size_t n);

#endif
