/* SPDX-License-Identifier: MIT */
/* retention.c - the retention thread: purge old rows from the store. */
#include "retention.h"

#include "condwait.h"
#include "log.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>

struct kretention {
  struct kstore *st;
  pthread_mutex_t *store_lock;
  int64_t retention_ms;
  int64_t (*wall_ms)(void);
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* stopping */
  int stopping;
};

static int64_t real_wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long kret_pass(struct kstore *st, pthread_mutex_t *store_lock,
               int64_t cutoff_ms)
{
  long total = 0;
  for(;;) {
    size_t purged = 0;
    struct mgc_err err = {0};
    pthread_mutex_lock(store_lock);
    int rc = st->ops->purge(st, cutoff_ms, KRET_BATCH, &purged, &err);
    pthread_mutex_unlock(store_lock);
    if(rc) {
      klog(KLOG_ERROR, NULL, NULL, "retention: %s", err.msg);
      return -1;
    }
    total += (long)purged;
    if(purged < KRET_BATCH)
      return total;
  }
}

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int stopping(struct kretention *r)
{
  pthread_mutex_lock(&r->lock);
  int s = r->stopping;
  pthread_mutex_unlock(&r->lock);
  return s;
}

static void *worker(void *arg)
{
  struct kretention *r = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  int64_t period = r->retention_ms / 4;
  if(period > KRET_PERIOD_MS)
    period = KRET_PERIOD_MS;
  if(period < 1000)
    period = 1000;
  while(!stopping(r)) {
    long n = kret_pass(r->st, r->store_lock, r->wall_ms() - r->retention_ms);
    if(n > 0)
      klog(KLOG_INFO, NULL, NULL,
           "retention: %ld rows older than %lld s purged", n,
           (long long)(r->retention_ms / 1000));
    pthread_mutex_lock(&r->lock);
    int64_t end = mono_ms() + period;
    while(!r->stopping && mono_ms() < end)
      kcw_wait_ms(&r->cond, &r->lock, end - mono_ms());
    pthread_mutex_unlock(&r->lock);
  }
  return NULL;
}

struct kretention *kret_start(struct kstore *st, pthread_mutex_t *store_lock,
                              int64_t retention_ms, int64_t (*wall_ms)(void))
{
  struct kretention *r = calloc(1, sizeof(*r));
  if(!r)
    return NULL;
  r->st = st;
  r->store_lock = store_lock;
  r->retention_ms = retention_ms;
  r->wall_ms = wall_ms ? wall_ms : real_wall_ms;
  pthread_mutex_init(&r->lock, NULL);
  kcw_init(&r->cond);
  if(pthread_create(&r->thread, NULL, worker, r)) {
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
    return NULL;
  }
  return r;
}

void kret_stop(struct kretention *r)
{
  if(!r)
    return;
  pthread_mutex_lock(&r->lock);
  r->stopping = 1;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  pthread_join(r->thread, NULL);
  pthread_mutex_destroy(&r->lock);
  pthread_cond_destroy(&r->cond);
  free(r);
}
