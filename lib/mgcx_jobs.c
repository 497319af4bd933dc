/* SPDX-License-Identifier: MIT */
/* mgcx_jobs.c - a FIFO of jobs run one at a time on a thread of its own. */
#include "mgcx.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

struct job {
  void (*fn)(void *arg);
  void *arg;
  struct job *next;
};

struct mgcx_jobs {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct job *head, *tail; /* queued, oldest first */
  size_t len, max;
  int started, stop;
  pthread_t thread;
};

static void *worker(void *arg)
{
  struct mgcx_jobs *q = arg;
  pthread_mutex_lock(&q->lock);
  for(;;) {
    while(!q->head && !q->stop)
      pthread_cond_wait(&q->cond, &q->lock);
    struct job *j = q->head;
    if(!j)
      break; /* stopping and nothing left */
    q->head = j->next;
    if(!q->head)
      q->tail = NULL;
    q->len--;
    pthread_mutex_unlock(&q->lock);
    j->fn(j->arg);
    free(j);
    pthread_mutex_lock(&q->lock);
  }
  pthread_mutex_unlock(&q->lock);
  return NULL;
}

struct mgcx_jobs *mgcx_jobs_new(size_t max)
{
  struct mgcx_jobs *q = calloc(1, sizeof(*q));
  if(!q)
    return NULL;
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->cond, NULL);
  q->max = max;
  return q;
}

int mgcx_jobs_submit(struct mgcx_jobs *q, void (*fn)(void *arg), void *arg)
{
  struct job *j = malloc(sizeof(*j));
  if(!j)
    return -1;
  j->fn = fn;
  j->arg = arg;
  j->next = NULL;
  pthread_mutex_lock(&q->lock);
  if(q->stop || (q->max && q->len >= q->max)) {
    pthread_mutex_unlock(&q->lock);
    free(j);
    return -1;
  }
  if(!q->started) {
    /* the worker inherits a mask with every signal blocked: signals go to
     * the program's own threads (the keeper's SIGHUP, SIGTERM) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int failed = pthread_create(&q->thread, NULL, worker, q) != 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if(failed) {
      pthread_mutex_unlock(&q->lock);
      free(j);
      return -1;
    }
    q->started = 1;
  }
  if(q->tail)
    q->tail->next = j;
  else
    q->head = j;
  q->tail = j;
  q->len++;
  pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
  return 0;
}

void mgcx_jobs_free(struct mgcx_jobs *q)
{
  if(!q)
    return;
  pthread_mutex_lock(&q->lock);
  int started = q->started;
  q->stop = 1;
  pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
  if(started)
    pthread_join(q->thread, NULL); /* runs what is queued first */
  pthread_cond_destroy(&q->cond);
  pthread_mutex_destroy(&q->lock);
  free(q);
}
