/* SPDX-License-Identifier: MIT */
/* inflight.c - the keeper's in-flight controller: demand by Little's law,
 * a ceiling moved by AIMD on Graph's pushback (inflight.h). */
#include "inflight.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slot {
  uint32_t sent, retries, answers, pushbacks;
  uint64_t latency_ms; /* sum over the answers */
};

struct kif {
  struct kif_config cfg;
  unsigned floor;
  int64_t created_ms;
  /* rates: a ring of KIF_SLOTS slots, the current one started at slot_ms */
  struct slot slots[KIF_SLOTS];
  size_t cur;
  int64_t slot_ms;
  /* latency: the mean over the ring's answers (Little's law wants the
   * mean); the last one while the ring has none */
  double latency_ms;
  /* AIMD ceiling */
  double ceiling;
  int64_t last_decrease_ms;
  uint64_t decreases;
  /* demand, from the last tick */
  int64_t tick_ms;
  unsigned demand;
  double need_per_s;
  size_t backlog;
  /* the falling-behind check */
  int64_t check_ms, warned_ms;
  int64_t late_max_ms; /* largest lateness since the last check */
  int64_t prev_late_ms, late_ms;
  int warned;
};

struct kif *kif_new(const struct kif_config *cfg, int64_t now_ms)
{
  struct kif *f = calloc(1, sizeof(*f));
  if(!f)
    return NULL;
  f->cfg = *cfg;
  if(!f->cfg.max)
    f->cfg.max = KIF_DEFAULT_MAX;
  if(f->cfg.interval_ms <= 0)
    f->cfg.interval_ms = 1;
  f->floor = f->cfg.max < KIF_FLOOR ? f->cfg.max : KIF_FLOOR;
  f->created_ms = now_ms;
  f->slot_ms = now_ms;
  f->check_ms = now_ms;
  f->tick_ms = now_ms;
  f->latency_ms = KIF_LATENCY_INIT_MS;
  f->ceiling = f->cfg.max; /* open until Graph pushes back */
  f->last_decrease_ms = now_ms - 1000000;
  f->demand = f->floor;
  return f;
}

void kif_free(struct kif *f)
{
  free(f);
}

unsigned kif_max(const struct kif *f)
{
  return f->cfg.fixed ? f->cfg.fixed : f->cfg.max;
}

unsigned kif_target(const struct kif *f)
{
  if(f->cfg.fixed)
    return f->cfg.fixed;
  unsigned t = f->demand;
  unsigned ceil_n = (unsigned)f->ceiling;
  if(ceil_n < t)
    t = ceil_n;
  if(t < f->floor)
    t = f->floor;
  if(t > f->cfg.max)
    t = f->cfg.max;
  return t;
}

/* Move the ring to now: slots whose time is over are cleared. */
static void advance(struct kif *f, int64_t now_ms)
{
  if(now_ms - f->slot_ms >= (int64_t)KIF_SLOTS * KIF_SLOT_MS) {
    memset(f->slots, 0, sizeof(f->slots));
    f->slot_ms = now_ms;
    return;
  }
  while(now_ms - f->slot_ms >= KIF_SLOT_MS) {
    f->cur = (f->cur + 1) % KIF_SLOTS;
    memset(&f->slots[f->cur], 0, sizeof(f->slots[f->cur]));
    f->slot_ms += KIF_SLOT_MS;
  }
}

/* Per second over the ring (the time it covers so far). */
static double per_s(const struct kif *f, int64_t now_ms, int retries)
{
  uint64_t n = 0;
  for(size_t i = 0; i < KIF_SLOTS; i++)
    n += retries ? f->slots[i].retries : f->slots[i].sent;
  int64_t covered =
      (int64_t)(KIF_SLOTS - 1) * KIF_SLOT_MS + (now_ms - f->slot_ms);
  if(now_ms - f->created_ms < covered)
    covered = now_ms - f->created_ms;
  if(covered < KIF_SLOT_MS)
    covered = KIF_SLOT_MS;
  return (double)n * 1000.0 / (double)covered;
}

void kif_sent(struct kif *f, int64_t now_ms, int64_t lateness_ms)
{
  advance(f, now_ms);
  f->slots[f->cur].sent++;
  if(lateness_ms > f->late_max_ms)
    f->late_max_ms = lateness_ms;
}

void kif_retry(struct kif *f, int64_t now_ms)
{
  advance(f, now_ms);
  f->slots[f->cur].retries++;
}

/* The share of 429/503 among the answers in the ring. */
static double pushback_share(const struct kif *f)
{
  uint64_t n = 0, p = 0;
  for(size_t i = 0; i < KIF_SLOTS; i++) {
    n += f->slots[i].answers;
    p += f->slots[i].pushbacks;
  }
  return n ? (double)p / (double)n : 0;
}

/* The mean latency of the answers in the ring. */
static void update_latency(struct kif *f)
{
  uint64_t n = 0, sum = 0;
  for(size_t i = 0; i < KIF_SLOTS; i++) {
    n += f->slots[i].answers;
    sum += f->slots[i].latency_ms;
  }
  if(n)
    f->latency_ms = (double)sum / (double)n;
}

void kif_done(struct kif *f, int64_t now_ms, int64_t latency_ms,
              enum kif_answer answer, size_t in_flight)
{
  if(answer == KIF_ANSWER_NONE)
    return; /* a refused connection says nothing about Graph's pace */
  if(latency_ms < 0)
    latency_ms = 0;
  advance(f, now_ms);
  f->slots[f->cur].answers++;
  f->slots[f->cur].latency_ms += (uint64_t)latency_ms;
  update_latency(f);
  if(f->cfg.fixed)
    return;
  double max = f->cfg.max;
  if(answer == KIF_ANSWER_PUSHBACK) {
    f->slots[f->cur].pushbacks++;
    /* once per window: an answer to a request sent before the last cut
     * carries the news that cut was made for */
    if(now_ms - latency_ms <= f->last_decrease_ms)
      return;
    /* a small share of pushback is noise, not a throttle */
    if(pushback_share(f) < KIF_PUSHBACK_SHARE)
      return;
    double base = (double)in_flight + 1;
    if(base > f->ceiling)
      base = f->ceiling;
    f->ceiling = base * KIF_DECREASE;
    if(f->ceiling < f->floor)
      f->ceiling = f->floor;
    f->last_decrease_ms = now_ms;
    f->decreases++;
    return;
  }
  if(f->ceiling < max) {
    /* + step per round trip: about `ceiling` answers come back in one */
    double step = max * KIF_INCREASE_PCT / 100;
    if(step < 1)
      step = 1;
    f->ceiling += step / (f->ceiling > 1 ? f->ceiling : 1);
    if(f->ceiling > max)
      f->ceiling = max;
  }
}

int kif_tick(struct kif *f, int64_t now_ms, size_t live, size_t backlog)
{
  advance(f, now_ms);
  f->tick_ms = now_ms;
  f->backlog = backlog;
  f->need_per_s =
      (double)live * 1000.0 / (double)f->cfg.interval_ms + per_s(f, now_ms, 1);
  double rate = f->need_per_s + (double)backlog * 1000.0 / KIF_DRAIN_MS;
  double want = ceil(KIF_HEADROOM * rate * f->latency_ms / 1000.0);
  f->demand = want > f->cfg.max ? f->cfg.max : (unsigned)want;
  if(now_ms - f->check_ms < KIF_CHECK_MS)
    return 0;
  f->check_ms = now_ms;
  f->late_ms = f->late_max_ms;
  f->late_max_ms = 0;
  int growing = f->late_ms > KIF_WARN_LATE_MS && f->late_ms > f->prev_late_ms;
  f->prev_late_ms = f->late_ms;
  if(!growing || (f->warned && now_ms - f->warned_ms < KIF_WARN_EVERY_MS))
    return 0;
  f->warned = 1;
  f->warned_ms = now_ms;
  return 1;
}

void kif_get_stats(const struct kif *f, struct kif_stats *out)
{
  memset(out, 0, sizeof(*out));
  out->target = kif_target(f);
  out->ceiling = f->cfg.fixed ? f->cfg.fixed : (unsigned)f->ceiling;
  out->demand = f->cfg.fixed ? f->cfg.fixed : f->demand;
  out->max = kif_max(f);
  out->need_per_s = f->need_per_s;
  out->achieved_per_s = per_s(f, f->tick_ms, 0); /* as of the last tick */
  out->latency_ms = f->latency_ms;
  out->lateness_ms = f->late_ms;
  out->decreases = f->decreases;
  out->backlog = f->backlog;
}

void kif_describe(const struct kif *f, char *buf, size_t n)
{
  struct kif_stats s;
  kif_get_stats(f, &s);
  const char *why =
      f->cfg.fixed           ? "limited by the fixed --concurrency"
      : s.ceiling < s.demand ? "limited by Graph's pushback (429/503)"
      : s.target >= s.max    ? "limited by --max-concurrency"
                             : "not limited by requests in flight: a busy "
                               "CPU?";
  snprintf(buf, n,
           "falling behind: keepAlives sent up to %.1f s late and growing; "
           "needed %.0f/s, achieved %.0f/s, %zu due not sent; in flight "
           "target %u (%s; max %u), latency %.0f ms",
           (double)s.lateness_ms / 1000.0, s.need_per_s, s.achieved_per_s,
           s.backlog, s.target, why, s.max, s.latency_ms);
}
