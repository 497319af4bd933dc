/* SPDX-License-Identifier: MIT */
/* metrics.c - counters + Prometheus text exposition. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STATUS 600
static const double buckets_s[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                   0.5,   1,    2.5,   5,    10,  30};
#define NBUCKETS (sizeof(buckets_s) / sizeof(buckets_s[0]))

struct kmetrics {
  pthread_mutex_t lock;
  uint64_t by_status[MAX_STATUS];
  uint64_t retries;
  uint64_t late_buckets[NBUCKETS];
  uint64_t late_count;
  double late_sum_s;
  uint64_t token_refreshes;
  uint64_t hooks[2][2]; /* kind, ok */
  uint64_t ended[5];
  int64_t outbox_pending;
  struct km_flow flow;
};

struct kmetrics *km_new(void)
{
  struct kmetrics *m = calloc(1, sizeof(*m));
  if(m)
    pthread_mutex_init(&m->lock, NULL);
  return m;
}

void km_free(struct kmetrics *m)
{
  if(!m)
    return;
  pthread_mutex_destroy(&m->lock);
  free(m);
}

void km_keepalive(struct kmetrics *m, long status)
{
  if(status < 0 || status >= MAX_STATUS)
    status = 0;
  pthread_mutex_lock(&m->lock);
  m->by_status[status]++;
  pthread_mutex_unlock(&m->lock);
}

void km_retry(struct kmetrics *m)
{
  pthread_mutex_lock(&m->lock);
  m->retries++;
  pthread_mutex_unlock(&m->lock);
}

void km_lateness(struct kmetrics *m, int64_t ms)
{
  double s = ms > 0 ? (double)ms / 1000.0 : 0.0;
  pthread_mutex_lock(&m->lock);
  for(size_t i = 0; i < NBUCKETS; i++)
    if(s <= buckets_s[i])
      m->late_buckets[i]++;
  m->late_count++;
  m->late_sum_s += s;
  pthread_mutex_unlock(&m->lock);
}

void km_token_requests(struct kmetrics *m, uint64_t n)
{
  pthread_mutex_lock(&m->lock);
  m->token_refreshes += n;
  pthread_mutex_unlock(&m->lock);
}

void km_outbox_pending(struct kmetrics *m, int64_t n)
{
  pthread_mutex_lock(&m->lock);
  m->outbox_pending = n;
  pthread_mutex_unlock(&m->lock);
}

void km_hook_run(struct kmetrics *m, enum km_hook_kind kind, int ok)
{
  pthread_mutex_lock(&m->lock);
  m->hooks[kind ? 1 : 0][ok ? 1 : 0]++;
  pthread_mutex_unlock(&m->lock);
}

void km_ended(struct kmetrics *m, enum ks_reason reason)
{
  if((unsigned)reason >= 5)
    return;
  pthread_mutex_lock(&m->lock);
  m->ended[reason]++;
  pthread_mutex_unlock(&m->lock);
}

void km_flow(struct kmetrics *m, const struct km_flow *flow)
{
  pthread_mutex_lock(&m->lock);
  m->flow = *flow;
  pthread_mutex_unlock(&m->lock);
}

uint64_t km_keepalives(struct kmetrics *m, long status)
{
  pthread_mutex_lock(&m->lock);
  uint64_t v = status >= 0 && status < MAX_STATUS ? m->by_status[status] : 0;
  pthread_mutex_unlock(&m->lock);
  return v;
}

uint64_t km_ended_count(struct kmetrics *m, enum ks_reason reason)
{
  pthread_mutex_lock(&m->lock);
  uint64_t v = (unsigned)reason < 5 ? m->ended[reason] : 0;
  pthread_mutex_unlock(&m->lock);
  return v;
}

uint64_t km_hook_runs(struct kmetrics *m, enum km_hook_kind kind, int ok)
{
  pthread_mutex_lock(&m->lock);
  uint64_t v = m->hooks[kind ? 1 : 0][ok ? 1 : 0];
  pthread_mutex_unlock(&m->lock);
  return v;
}

struct out {
  char *buf;
  size_t len, cap;
  int oom;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
  if(o->oom)
    return;
  for(;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if(n < 0) {
      o->oom = 1;
      return;
    }
    if((size_t)n < o->cap - o->len) {
      o->len += (size_t)n;
      return;
    }
    size_t cap = o->cap * 2 + (size_t)n;
    if(cap > (1u << 20)) { /* 1 MiB: far more than the fixed metric set */
      o->oom = 1;
      return;
    }
    char *b = realloc(o->buf, cap);
    if(!b) {
      o->oom = 1;
      return;
    }
    o->buf = b;
    o->cap = cap;
  }
}

static void render_flow(struct out *o, const struct km_flow *f)
{
  put(o,
      "# HELP mgcall_keeper_needed_keepalives_per_second keepAlives per "
      "second the schedule needs (live calls / interval, plus retries).\n"
      "# TYPE mgcall_keeper_needed_keepalives_per_second gauge\n"
      "mgcall_keeper_needed_keepalives_per_second %.1f\n"
      "# HELP mgcall_keeper_achieved_keepalives_per_second keepAlives sent "
      "per second over the last 5 s.\n"
      "# TYPE mgcall_keeper_achieved_keepalives_per_second gauge\n"
      "mgcall_keeper_achieved_keepalives_per_second %.1f\n",
      f->need_per_s, f->achieved_per_s);
  put(o,
      "# HELP mgcall_keeper_due_backlog Calls due whose keepAlive is not "
      "sent yet.\n"
      "# TYPE mgcall_keeper_due_backlog gauge\n"
      "mgcall_keeper_due_backlog %zu\n"
      "# HELP mgcall_keeper_inflight_requests keepAlive requests in "
      "flight.\n"
      "# TYPE mgcall_keeper_inflight_requests gauge\n"
      "mgcall_keeper_inflight_requests %zu\n"
      "# HELP mgcall_keeper_inflight_target Requests the keeper keeps in "
      "flight at most now (demand, pushback ceiling, limits).\n"
      "# TYPE mgcall_keeper_inflight_target gauge\n"
      "mgcall_keeper_inflight_target %u\n"
      "# HELP mgcall_keeper_inflight_ceiling The ceiling Graph's pushback "
      "(429/503) lowers and answers raise again (AIMD).\n"
      "# TYPE mgcall_keeper_inflight_ceiling gauge\n"
      "mgcall_keeper_inflight_ceiling %u\n"
      "# HELP mgcall_keeper_inflight_max --max-concurrency (or the fixed "
      "--concurrency).\n"
      "# TYPE mgcall_keeper_inflight_max gauge\n"
      "mgcall_keeper_inflight_max %u\n",
      f->backlog, f->in_flight, f->target, f->ceiling, f->max);
  put(o,
      "# HELP mgcall_keeper_inflight_decreases_total Times a 429/503 "
      "lowered the ceiling.\n"
      "# TYPE mgcall_keeper_inflight_decreases_total counter\n"
      "mgcall_keeper_inflight_decreases_total %llu\n"
      "# HELP mgcall_keeper_keepalive_latency_seconds Smoothed time from "
      "handing a keepAlive to the batch to its answer.\n"
      "# TYPE mgcall_keeper_keepalive_latency_seconds gauge\n"
      "mgcall_keeper_keepalive_latency_seconds %.3f\n",
      (unsigned long long)f->decreases, f->latency_s);
}

char *km_render(struct kmetrics *m, const size_t states[4], int64_t min_left_ms)
{
  struct out o = {malloc(8192), 0, 8192, 0};
  if(!o.buf)
    return NULL;
  o.buf[0] = '\0';
  pthread_mutex_lock(&m->lock);
  put(&o, "# HELP mgcall_keeper_calls Tracked calls by state.\n"
          "# TYPE mgcall_keeper_calls gauge\n");
  for(int i = 0; i < 4; i++)
    put(&o, "mgcall_keeper_calls{state=\"%s\"} %zu\n",
        ks_state_name((enum ks_state)i), states[i]);
  put(&o, "# HELP mgcall_keeper_keepalives_total keepAlive requests "
          "answered, by HTTP status (0: no answer, network failure).\n"
          "# TYPE mgcall_keeper_keepalives_total counter\n");
  for(long s = 0; s < MAX_STATUS; s++)
    if(m->by_status[s] || s == 200)
      put(&o, "mgcall_keeper_keepalives_total{status=\"%ld\"} %llu\n", s,
          (unsigned long long)m->by_status[s]);
  put(&o,
      "# HELP mgcall_keeper_retries_total keepAlives rescheduled after a "
      "failure.\n"
      "# TYPE mgcall_keeper_retries_total counter\n"
      "mgcall_keeper_retries_total %llu\n",
      (unsigned long long)m->retries);
  put(&o, "# HELP mgcall_keeper_lateness_seconds Send time minus due time "
          "of each keepAlive.\n"
          "# TYPE mgcall_keeper_lateness_seconds histogram\n");
  for(size_t i = 0; i < NBUCKETS; i++)
    put(&o, "mgcall_keeper_lateness_seconds_bucket{le=\"%g\"} %llu\n",
        buckets_s[i], (unsigned long long)m->late_buckets[i]);
  put(&o,
      "mgcall_keeper_lateness_seconds_bucket{le=\"+Inf\"} %llu\n"
      "mgcall_keeper_lateness_seconds_sum %.3f\n"
      "mgcall_keeper_lateness_seconds_count %llu\n",
      (unsigned long long)m->late_count, m->late_sum_s,
      (unsigned long long)m->late_count);
  put(&o, "# HELP mgcall_keeper_min_time_to_deadline_seconds Time left "
          "before the deadline of the most at-risk call (NaN: none).\n"
          "# TYPE mgcall_keeper_min_time_to_deadline_seconds gauge\n");
  if(min_left_ms < 0)
    put(&o, "mgcall_keeper_min_time_to_deadline_seconds NaN\n");
  else
    put(&o, "mgcall_keeper_min_time_to_deadline_seconds %.3f\n",
        (double)min_left_ms / 1000.0);
  render_flow(&o, &m->flow);
  put(&o,
      "# HELP mgcall_keeper_token_refreshes_total Requests sent to the token "
      "endpoint or the managed identity endpoint.\n"
      "# TYPE mgcall_keeper_token_refreshes_total counter\n"
      "mgcall_keeper_token_refreshes_total %llu\n",
      (unsigned long long)m->token_refreshes);
  put(&o, "# HELP mgcall_keeper_hook_runs_total Cleanup hook attempts.\n"
          "# TYPE mgcall_keeper_hook_runs_total counter\n");
  static const char *const kinds[] = {"command", "url"};
  for(int k = 0; k < 2; k++)
    for(int ok = 1; ok >= 0; ok--)
      put(&o, "mgcall_keeper_hook_runs_total{kind=\"%s\",result=\"%s\"} %llu\n",
          kinds[k], ok ? "ok" : "failed", (unsigned long long)m->hooks[k][ok]);
  put(&o,
      "# HELP mgcall_keeper_hook_outbox_pending Hook jobs in the store not "
      "yet delivered nor given up.\n"
      "# TYPE mgcall_keeper_hook_outbox_pending gauge\n"
      "mgcall_keeper_hook_outbox_pending %lld\n",
      (long long)m->outbox_pending);
  put(&o, "# HELP mgcall_keeper_calls_ended_total Calls that left the "
          "schedule, by reason.\n"
          "# TYPE mgcall_keeper_calls_ended_total counter\n");
  for(int r = 1; r < 5; r++)
    put(&o, "mgcall_keeper_calls_ended_total{reason=\"%s\"} %llu\n",
        ks_reason_name((enum ks_reason)r), (unsigned long long)m->ended[r]);
  pthread_mutex_unlock(&m->lock);
  if(o.oom) {
    free(o.buf);
    return NULL;
  }
  return o.buf;
}
