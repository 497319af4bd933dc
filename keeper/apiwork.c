/* SPDX-License-Identifier: MIT */
/* apiwork.c - the control API's worker thread: a FIFO of jobs. */
#include "apiwork.h"

#include <pthread.h>
#include <stdlib.h>

struct job {
  void (*fn)(void *arg);
  void *arg;
  struct job *next;
};

struct kaw {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct job *head, *tail;
  size_t len;
  int stop;
  pthread_t thread;
};

static void *worker(void *arg)
{
  struct kaw *w = arg;
  pthread_mutex_lock(&w->lock);
  for(;;) {
    while(!w->head && !w->stop)
      pthread_cond_wait(&w->cond, &w->lock);
    struct job *j = w->head;
    if(!j)
      break; /* stopping and nothing left */
    w->head = j->next;
    if(!w->head)
      w->tail = NULL;
    w->len--;
    pthread_mutex_unlock(&w->lock);
    j->fn(j->arg);
    free(j);
    pthread_mutex_lock(&w->lock);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

struct kaw *kaw_new(void)
{
  struct kaw *w = calloc(1, sizeof(*w));
  if(!w)
    return NULL;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->cond, NULL);
  if(pthread_create(&w->thread, NULL, worker, w)) {
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return NULL;
  }
  return w;
}

int kaw_submit(struct kaw *w, void (*fn)(void *arg), void *arg)
{
  struct job *j = malloc(sizeof(*j));
  if(!j)
    return -1;
  j->fn = fn;
  j->arg = arg;
  j->next = NULL;
  pthread_mutex_lock(&w->lock);
  if(w->stop || w->len >= KAW_MAX_QUEUE) {
    pthread_mutex_unlock(&w->lock);
    free(j);
    return -1;
  }
  if(w->tail)
    w->tail->next = j;
  else
    w->head = j;
  w->tail = j;
  w->len++;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
  return 0;
}

void kaw_free(struct kaw *w)
{
  if(!w)
    return;
  pthread_mutex_lock(&w->lock);
  w->stop = 1;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->lock);
  free(w);
}
