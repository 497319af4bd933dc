/* SPDX-License-Identifier: MIT */
/* delay.c - resume suspended connections when their latency is over. */
#include "delay.h"

#include "calls.h"
#include "mgcx.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct waiter {
  int64_t due;
  struct MHD_Connection *conn;
};

struct emu_delay {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  int started, stopping;
  struct mgcx_heap heap; /* of struct waiter, on due */
};

static int earlier(const void *a, const void *b)
{
  return ((const struct waiter *)a)->due < ((const struct waiter *)b)->due;
}

static struct waiter *top(struct emu_delay *d)
{
  return mgcx_heap_top(&d->heap);
}

static struct waiter pop(struct emu_delay *d)
{
  struct waiter w = {0, NULL};
  mgcx_heap_pop(&d->heap, &w);
  return w;
}

struct emu_delay *emu_delay_new(void)
{
  struct emu_delay *d = calloc(1, sizeof(*d));
  if(!d)
    return NULL;
  mgcx_heap_init(&d->heap, sizeof(struct waiter), earlier, NULL, NULL);
  pthread_mutex_init(&d->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&d->wake, &ca);
  pthread_condattr_destroy(&ca);
  return d;
}

static void *delay_main(void *arg)
{
  struct emu_delay *d = arg;
  pthread_mutex_lock(&d->lock);
  while(!d->stopping) {
    int64_t now = emu_now_ms();
    if(top(d) && top(d)->due <= now) {
      struct waiter w = pop(d);
      pthread_mutex_unlock(&d->lock);
      MHD_resume_connection(w.conn);
      pthread_mutex_lock(&d->lock);
      continue;
    }
    int64_t until = top(d) ? top(d)->due : now + 60000;
    struct timespec ts = {(time_t)(until / 1000),
                          (long)(until % 1000) * 1000000L};
    pthread_cond_timedwait(&d->wake, &d->lock, &ts);
  }
  pthread_mutex_unlock(&d->lock);
  return NULL;
}

int emu_delay_start(struct emu_delay *d)
{
  if(pthread_create(&d->thread, NULL, delay_main, d))
    return -1;
  d->started = 1;
  return 0;
}

void emu_delay_add(struct emu_delay *d, struct MHD_Connection *conn,
                   int64_t due_ms)
{
  pthread_mutex_lock(&d->lock);
  if(d->stopping || !d->started) {
    pthread_mutex_unlock(&d->lock);
    MHD_resume_connection(conn);
    return;
  }
  struct waiter w = {due_ms, conn};
  if(mgcx_heap_push(&d->heap, &w)) {
    pthread_mutex_unlock(&d->lock);
    MHD_resume_connection(conn); /* no memory: answer without delay */
    return;
  }
  pthread_cond_signal(&d->wake);
  pthread_mutex_unlock(&d->lock);
}

void emu_delay_stop(struct emu_delay *d)
{
  if(!d)
    return;
  pthread_mutex_lock(&d->lock);
  d->stopping = 1;
  pthread_cond_signal(&d->wake);
  pthread_mutex_unlock(&d->lock);
  if(d->started)
    pthread_join(d->thread, NULL);
  d->started = 0;
  pthread_mutex_lock(&d->lock);
  while(top(d)) {
    struct waiter w = pop(d);
    MHD_resume_connection(w.conn);
  }
  pthread_mutex_unlock(&d->lock);
}

void emu_delay_free(struct emu_delay *d)
{
  if(!d)
    return;
  emu_delay_stop(d);
  mgcx_heap_release(&d->heap);
  pthread_cond_destroy(&d->wake);
  pthread_mutex_destroy(&d->lock);
  free(d);
}
