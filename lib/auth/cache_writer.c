/* SPDX-License-Identifier: MIT */
/* cache_writer.c - a thread that merges tokens into the cache file (a
 * one-thread job queue of mgcx). */
#include "cache_writer.h"

#include "mgcx.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct mgc_cache_writer;

/* One token to write. */
struct job {
  struct mgc_cache_writer *w;
  char *authority, *tenant, *client, *scope, *token;
  time_t expires_at;
};

struct mgc_cache_writer {
  char *path;
  struct mgcx_jobs *jobs; /* the writes, oldest first, on their thread */
  pthread_mutex_t lock;   /* guards warning */
  char warning[600];      /* "" = none */
};

static void wipe_free(char *s)
{
  if(s) {
    OPENSSL_cleanse(s, strlen(s));
    free(s);
  }
}

static void job_free(struct job *j)
{
  if(!j)
    return;
  free(j->authority);
  free(j->tenant);
  free(j->client);
  free(j->scope);
  wipe_free(j->token);
  free(j);
}

/* Read, merge and write one token (writer thread, no lock held). */
static void write_one(struct mgc_cache_writer *w, const struct job *j,
                      char *warning, size_t n)
{
  char *text = NULL;
  size_t len = 0;
  warning[0] = '\0';
  if(!mgc__token_cache_read(w->path, &text, &len, warning, n) && warning[0])
    return; /* refused: leave the file alone */
  struct mgc_cache_key key = {j->authority, j->tenant, j->client, j->scope};
  char *next = mgc__token_cache_update(text, len, &key, j->token, j->expires_at,
                                       time(NULL));
  if(next) {
    mgc__token_cache_write(w->path, next, warning, n);
    wipe_free(next);
  }
  if(text) {
    OPENSSL_cleanse(text, len);
    free(text);
  }
}

/* A job of w->jobs: write one token, keep the first warning. */
static void run(void *arg)
{
  struct job *j = arg;
  struct mgc_cache_writer *w = j->w;
  char warning[600];
  write_one(w, j, warning, sizeof(warning));
  job_free(j);
  pthread_mutex_lock(&w->lock);
  if(warning[0] && !w->warning[0])
    memcpy(w->warning, warning, sizeof(w->warning));
  pthread_mutex_unlock(&w->lock);
}

struct mgc_cache_writer *mgc__cache_writer_new(const char *path)
{
  struct mgc_cache_writer *w = calloc(1, sizeof(*w));
  if(!w)
    return NULL;
  w->path = strdup(path);
  w->jobs = mgcx_jobs_new(0);
  if(!w->path || !w->jobs) {
    mgcx_jobs_free(w->jobs);
    free(w->path);
    free(w);
    return NULL;
  }
  pthread_mutex_init(&w->lock, NULL);
  return w;
}

static char *dup0(const char *s)
{
  return strdup(s ? s : "");
}

int mgc__cache_writer_put(struct mgc_cache_writer *w,
                          const struct mgc_cache_key *key, const char *token,
                          time_t expires_at)
{
  struct job *j = calloc(1, sizeof(*j));
  if(!j)
    return -1;
  j->w = w;
  j->authority = dup0(key->authority);
  j->tenant = dup0(key->tenant);
  j->client = dup0(key->client);
  j->scope = dup0(key->scope);
  j->token = dup0(token);
  j->expires_at = expires_at;
  if(!j->authority || !j->tenant || !j->client || !j->scope || !j->token) {
    job_free(j);
    return -1;
  }
  if(mgcx_jobs_submit(w->jobs, run, j)) {
    job_free(j);
    return -1;
  }
  return 0;
}

int mgc__cache_writer_warning(struct mgc_cache_writer *w, char *buf, size_t n)
{
  if(!w || !n)
    return 0;
  pthread_mutex_lock(&w->lock);
  int have = w->warning[0] != '\0';
  if(have) {
    size_t len = strnlen(w->warning, n - 1);
    memcpy(buf, w->warning, len);
    buf[len] = '\0';
    w->warning[0] = '\0';
  }
  pthread_mutex_unlock(&w->lock);
  return have;
}

void mgc__cache_writer_free(struct mgc_cache_writer *w,
                            void (*warn)(void *ud, const char *msg), void *ud)
{
  if(!w)
    return;
  mgcx_jobs_free(w->jobs); /* writes what is queued first */
  if(warn && w->warning[0])
    warn(ud, w->warning);
  pthread_mutex_destroy(&w->lock);
  free(w->path);
  free(w);
}
