/* SPDX-License-Identifier: MIT */
/* delay.c - resume suspended connections when their latency is over. */
#include "delay.h"

#include "calls.h"

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
  struct waiter *v; /* min-heap on due */
  size_t len, cap;
};

static void push(struct emu_delay *d, struct waiter w)
{
  size_t i = d->len++;
  d->v[i] = w;
  while(i) {
    size_t p = (i - 1) / 2;
    if(d->v[p].due <= d->v[i].due)
      break;
    struct waiter t = d->v[i];
    d->v[i] = d->v[p];
    d->v[p] = t;
    i = p;
  }
}

static struct waiter pop(struct emu_delay *d)
{
  struct waiter top = d->v[0];
  d->v[0] = d->v[--d->len];
  size_t i = 0;
  for(;;) {
    size_t c = 2 * i + 1;
    if(c >= d->len)
      break;
    if(c + 1 < d->len && d->v[c + 1].due < d->v[c].due)
      c++;
    if(d->v[i].due <= d->v[c].due)
      break;
    struct waiter t = d->v[i];
    d->v[i] = d->v[c];
    d->v[c] = t;
    i = c;
  }
  return top;
}

struct emu_delay *emu_delay_new(void)
{
  struct emu_delay *d = calloc(1, sizeof(*d));
  if(!d)
    return NULL;
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
    if(d->len && d->v[0].due <= now) {
      struct waiter w = pop(d);
      pthread_mutex_unlock(&d->lock);
      MHD_resume_connection(w.conn);
      pthread_mutex_lock(&d->lock);
      continue;
    }
    int64_t until = d->len ? d->v[0].due : now + 60000;
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
  if(d->len == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 64;
    struct waiter *v = realloc(d->v, cap * sizeof(*v));
    if(!v) {
      pthread_mutex_unlock(&d->lock);
      MHD_resume_connection(conn); /* no memory: answer without delay */
      return;
    }
    d->v = v;
    d->cap = cap;
  }
  struct waiter w = {due_ms, conn};
  push(d, w);
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
  while(d->len) {
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
  free(d->v);
  pthread_cond_destroy(&d->wake);
  pthread_mutex_destroy(&d->lock);
  free(d);
}
