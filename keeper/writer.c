/* SPDX-License-Identifier: MIT */
/* writer.c - the store writer thread (a FIFO of row batches, on a
 * mgcx_jobs queue). */
#include "writer.h"

#include "log.h"
#include "mgcx.h"

#include <stdlib.h>
#include <string.h>

struct kwjob {
  struct kwriter *w;
  struct kstore_call *rows;
  size_t n;
  struct kstore_hook *hooks; /* outbox jobs written with the rows */
  size_t nhooks;
  int wait; /* a caller waits: durable, result reported */
  int done;
  int rc;
  struct mgc_err err;
};

/* The thread and the FIFO are mgcx_jobs' (one worker, jobs in the order
 * queued); the writer counts its backlog (the job being written included)
 * and wakes the callers of kwriter_wait(). */
struct kwriter {
  struct kstore *st;
  pthread_mutex_t *store_lock;
  struct khooks *hooks;
  struct mgcx_jobs *jobs;
  pthread_mutex_t lock;
  pthread_cond_t done; /* a durable job was written */
  size_t backlog;
};

static void job_free(struct kwjob *j)
{
  if(!j)
    return;
  for(size_t i = 0; i < j->n; i++) {
    free((char *)j->rows[i].call_id);
    free((char *)j->rows[i].tenant_id);
    free((char *)j->rows[i].last_error);
  }
  free(j->rows);
  khooks_jobs_free(j->hooks, j->nhooks);
  free(j);
}

static struct kwjob *job_copy(const struct kstore_call *rows, size_t n)
{
  struct kwjob *j = calloc(1, sizeof(*j));
  if(!j)
    return NULL;
  j->rows = calloc(n ? n : 1, sizeof(*j->rows));
  if(!j->rows) {
    free(j);
    return NULL;
  }
  for(size_t i = 0; i < n; i++) {
    struct kstore_call *r = &j->rows[i];
    *r = rows[i]; /* state and reason are static names */
    r->call_id = strdup(rows[i].call_id);
    r->tenant_id = rows[i].tenant_id ? strdup(rows[i].tenant_id) : NULL;
    r->last_error = rows[i].last_error ? strdup(rows[i].last_error) : NULL;
    j->n = i + 1;
    if(!r->call_id || (rows[i].tenant_id && !r->tenant_id) ||
       (rows[i].last_error && !r->last_error)) {
      job_free(j);
      return NULL;
    }
  }
  return j;
}

/* On the writer's thread (mgcx_jobs). */
static void write_job(void *arg)
{
  struct kwjob *j = arg;
  struct kwriter *w = j->w;
  pthread_mutex_lock(w->store_lock);
  if(j->nhooks) /* the ends and their hooks: one durable transaction */
    j->rc = w->st->ops->put_outbox(w->st, j->rows, j->n, j->hooks, j->nhooks, 1,
                                   &j->err);
  else
    j->rc = w->st->ops->put(w->st, j->rows, j->n, j->wait, &j->err);
  pthread_mutex_unlock(w->store_lock);
  if(j->rc && !j->wait)
    klog(KLOG_ERROR, NULL, NULL, "%s (%zu rows of progress not written)",
         j->err.msg, j->n);
  if(j->rc && j->nhooks)
    klog(KLOG_ERROR, NULL, NULL, "%s (%zu hook jobs not written: lost)",
         j->err.msg, j->nhooks);
  else if(j->nhooks)
    khooks_kick(w->hooks);
  pthread_mutex_lock(&w->lock);
  w->backlog--;
  int wait = j->wait;
  if(wait) {
    j->done = 1; /* kwriter_wait() frees it */
    pthread_cond_broadcast(&w->done);
  }
  pthread_mutex_unlock(&w->lock);
  if(!wait)
    job_free(j);
}

struct kwriter *kwriter_new(struct kstore *st, pthread_mutex_t *store_lock,
                            struct khooks *hooks)
{
  struct kwriter *w = calloc(1, sizeof(*w));
  if(!w)
    return NULL;
  /* unbounded: kwriter_put() bounds progress jobs, durable ones wait */
  if(!(w->jobs = mgcx_jobs_new(0))) {
    free(w);
    return NULL;
  }
  w->st = st;
  w->store_lock = store_lock;
  w->hooks = hooks;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->done, NULL);
  return w;
}

/* Hand j to the writer's thread.  0, or -1 (the thread could not start,
 * out of memory: j is not queued, the caller frees it). */
static int enqueue(struct kwriter *w, struct kwjob *j)
{
  j->w = w;
  pthread_mutex_lock(&w->lock);
  w->backlog++;
  pthread_mutex_unlock(&w->lock);
  if(mgcx_jobs_submit(w->jobs, write_job, j) == 0)
    return 0;
  pthread_mutex_lock(&w->lock);
  w->backlog--;
  pthread_mutex_unlock(&w->lock);
  return -1;
}

int kwriter_put(struct kwriter *w, const struct kstore_call *rows, size_t n,
                struct kstore_hook *hooks, size_t nhooks, struct mgc_err *err)
{
  if(!n && !nhooks)
    return MGCALL_OK;
  if(kwriter_backlog(w) >= KWRITER_MAX_BACKLOG)
    return mgc__err_set(err, MGCALL_E_INTERNAL,
                        "store: %d writes waiting: the disk is slow",
                        KWRITER_MAX_BACKLOG);
  struct kwjob *j = job_copy(rows, n);
  if(!j)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
  j->hooks = hooks;
  j->nhooks = nhooks;
  if(enqueue(w, j)) {
    j->hooks = NULL; /* the caller keeps its jobs */
    j->nhooks = 0;
    job_free(j);
    return mgc__err_set(err, MGCALL_E_INTERNAL,
                        "store: the writer thread could not start");
  }
  return MGCALL_OK;
}

struct kwjob *kwriter_put_durable(struct kwriter *w,
                                  const struct kstore_call *rows, size_t n,
                                  struct kstore_hook *hooks, size_t nhooks,
                                  struct mgc_err *err)
{
  struct kwjob *j = job_copy(rows, n);
  if(!j) {
    mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
    return NULL;
  }
  j->hooks = hooks;
  j->nhooks = nhooks;
  j->wait = 1;
  if(enqueue(w, j)) {
    j->hooks = NULL; /* the caller keeps its jobs */
    j->nhooks = 0;
    job_free(j);
    mgc__err_set(err, MGCALL_E_INTERNAL,
                 "store: the writer thread could not start");
    return NULL;
  }
  return j;
}

int kwriter_wait(struct kwriter *w, struct kwjob *j, struct mgc_err *err)
{
  pthread_mutex_lock(&w->lock);
  while(!j->done)
    pthread_cond_wait(&w->done, &w->lock);
  pthread_mutex_unlock(&w->lock);
  int rc = j->rc;
  if(rc && err)
    *err = j->err;
  job_free(j);
  return rc;
}

size_t kwriter_backlog(struct kwriter *w)
{
  pthread_mutex_lock(&w->lock);
  size_t n = w->backlog;
  pthread_mutex_unlock(&w->lock);
  return n;
}

void kwriter_free(struct kwriter *w)
{
  if(!w)
    return;
  mgcx_jobs_free(w->jobs); /* writes everything queued first */
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->done);
  free(w);
}
