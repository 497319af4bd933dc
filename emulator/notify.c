/* SPDX-License-Identifier: MIT */
/* notify.c - the callback delivery thread. */
#include "notify.h"

#include "calls.h"
#include "graph_json.h"
#include "notify_sign.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct job {
  char *url;
  char *body;
  char *app, *tenant; /* the token's aud and tid */
  int attempts;
  int64_t not_before;
  uint64_t seq; /* posting order among jobs due at the same time */
};

struct emu_notify {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  int started, stopping;
  char *cacert;
  struct emu_nsign *signer; /* NULL: unsigned callbacks */
  int reorder;              /* established before establishing */
  uint64_t next_seq;
  struct job *q; /* min-heap on not_before */
  size_t len, cap;
  struct emu_notify_stats stats;
};

int emu_url_is_loopback(const char *url)
{
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL;
  int ok = 0;
  if(u && !curl_url_set(u, CURLUPART_URL, url, 0) &&
     !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
     !curl_url_get(u, CURLUPART_HOST, &host, 0)) {
    int http = !strcasecmp(scheme, "http") || !strcasecmp(scheme, "https");
    int loop = !strcasecmp(host, "localhost") || !strcmp(host, "[::1]") ||
               !strncmp(host, "127.", 4);
    if(!strncmp(host, "127.", 4)) {
      /* dotted quad only */
      for(const char *p = host; *p; p++)
        if(!strchr("0123456789.", *p))
          loop = 0;
    }
    ok = http && loop;
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return ok;
}

static int before(const struct job *a, const struct job *b)
{
  return a->not_before < b->not_before ||
         (a->not_before == b->not_before && a->seq < b->seq);
}

/* Add j; -1 when the queue is full or memory is short (j not taken). */
static int q_push(struct emu_notify *n, struct job j)
{
  if(n->len >= EMU_NOTIFY_MAX_QUEUE)
    return -1;
  if(n->len == n->cap) {
    size_t cap = n->cap ? n->cap * 2 : 64;
    struct job *q = realloc(n->q, cap * sizeof(*q));
    if(!q)
      return -1;
    n->q = q;
    n->cap = cap;
  }
  size_t i = n->len++;
  n->q[i] = j;
  while(i) {
    size_t p = (i - 1) / 2;
    if(!before(&n->q[i], &n->q[p]))
      break;
    struct job t = n->q[i];
    n->q[i] = n->q[p];
    n->q[p] = t;
    i = p;
  }
  return 0;
}

static struct job q_pop(struct emu_notify *n)
{
  struct job top = n->q[0];
  n->q[0] = n->q[--n->len];
  size_t i = 0;
  for(;;) {
    size_t c = 2 * i + 1;
    if(c >= n->len)
      break;
    if(c + 1 < n->len && before(&n->q[c + 1], &n->q[c]))
      c++;
    if(!before(&n->q[c], &n->q[i]))
      break;
    struct job t = n->q[i];
    n->q[i] = n->q[c];
    n->q[c] = t;
    i = c;
  }
  return top;
}

struct emu_notify *emu_notify_new(const char *cacert)
{
  struct emu_notify *n = calloc(1, sizeof(*n));
  if(!n)
    return NULL;
  pthread_mutex_init(&n->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&n->wake, &ca);
  pthread_condattr_destroy(&ca);
  if(cacert && !(n->cacert = strdup(cacert))) {
    emu_notify_free(n);
    return NULL;
  }
  return n;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
  (void)p;
  (void)ud;
  return size * nmemb;
}

/* One attempt; 0 on a 2xx answer. */
static int deliver(struct emu_notify *n, CURL *curl, const struct job *j)
{
  struct curl_slist *h = NULL;
  char *auth = NULL;
  if(n->signer) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    auth = emu_nsign_authorization(n->signer, j->app, j->tenant,
                                   (int64_t)now.tv_sec);
    if(!auth)
      return -1;
    char *line = malloc(strlen(auth) + 16);
    if(line) {
      sprintf(line, "Authorization: %s", auth);
      h = curl_slist_append(h, line);
      OPENSSL_cleanse(line, strlen(line));
      free(line);
    }
    OPENSSL_cleanse(auth, strlen(auth));
    free(auth);
    if(!h)
      return -1;
  }
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h,
                        "User-Agent: mgcall-emulator/" MGCALL_VERSION_STRING);
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, j->url);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, j->body);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  if(n->cacert)
    curl_easy_setopt(curl, CURLOPT_CAINFO, n->cacert);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  return rc == CURLE_OK && status >= 200 && status < 300 ? 0 : -1;
}

static void job_free(struct job *j)
{
  free(j->url);
  free(j->body);
  free(j->app);
  free(j->tenant);
}

static void *notify_main(void *arg)
{
  struct emu_notify *n = arg;
  CURL *curl = curl_easy_init();
  int64_t stop_by = 0;
  pthread_mutex_lock(&n->lock);
  for(;;) {
    int64_t now = emu_now_ms();
    if(n->stopping) {
      /* Shutting down: what is due within a second gets its attempt, for
       * at most two seconds in all; the rest is dropped. */
      if(!stop_by)
        stop_by = now + 2000;
      while(n->len && (n->q[0].not_before > now + 1000 || now >= stop_by)) {
        struct job j = q_pop(n);
        job_free(&j);
        n->stats.dropped++;
      }
      if(!n->len)
        break;
    }
    if(n->len && n->q[0].not_before <= now) {
      struct job j = q_pop(n);
      pthread_mutex_unlock(&n->lock);
      int ok = curl && !deliver(n, curl, &j);
      pthread_mutex_lock(&n->lock);
      j.attempts++;
      if(ok) {
        n->stats.sent++;
        job_free(&j);
      }
      else if(j.attempts < EMU_NOTIFY_ATTEMPTS && !n->stopping) {
        n->stats.retried++;
        j.not_before = emu_now_ms() + (500LL << (j.attempts - 1));
        if(q_push(n, j)) {
          n->stats.dropped++;
          job_free(&j);
        }
      }
      else {
        n->stats.failed++;
        job_free(&j);
      }
      continue;
    }
    int64_t until = n->len ? n->q[0].not_before : now + 60000;
    struct timespec ts = {(time_t)(until / 1000),
                          (long)(until % 1000) * 1000000L};
    pthread_cond_timedwait(&n->wake, &n->lock, &ts);
  }
  pthread_mutex_unlock(&n->lock);
  curl_easy_cleanup(curl);
  return NULL;
}

int emu_notify_start(struct emu_notify *n)
{
  if(pthread_create(&n->thread, NULL, notify_main, n))
    return -1;
  n->started = 1;
  return 0;
}

void emu_notify_free(struct emu_notify *n)
{
  if(!n)
    return;
  if(n->started) {
    pthread_mutex_lock(&n->lock);
    n->stopping = 1;
    pthread_cond_signal(&n->wake);
    pthread_mutex_unlock(&n->lock);
    pthread_join(n->thread, NULL);
  }
  for(size_t i = 0; i < n->len; i++)
    job_free(&n->q[i]);
  free(n->q);
  free(n->cacert);
  pthread_cond_destroy(&n->wake);
  pthread_mutex_destroy(&n->lock);
  free(n);
}

void emu_notify_set_signer(struct emu_notify *n, struct emu_nsign *signer)
{
  n->signer = signer;
}

void emu_notify_post(struct emu_notify *n, const char *url, const char *body,
                     const char *app, const char *tenant)
{
  if(!url || !emu_url_is_loopback(url)) {
    pthread_mutex_lock(&n->lock);
    n->stats.skipped++;
    pthread_mutex_unlock(&n->lock);
    return;
  }
  struct job j = {strdup(url),
                  strdup(body),
                  strdup(app ? app : ""),
                  strdup(tenant ? tenant : ""),
                  0,
                  emu_now_ms(),
                  0};
  pthread_mutex_lock(&n->lock);
  j.seq = n->next_seq++;
  if(!j.url || !j.body || !j.app || !j.tenant || n->stopping || q_push(n, j)) {
    n->stats.dropped++;
    pthread_mutex_unlock(&n->lock);
    job_free(&j);
    return;
  }
  pthread_cond_signal(&n->wake);
  pthread_mutex_unlock(&n->lock);
}

void emu_notify_set_reorder(struct emu_notify *n, int on)
{
  n->reorder = on;
}

static void post_notice(struct emu_notify *n, const struct emu_call_info *call,
                        enum emu_notice notice)
{
  json_t *body = emu_notification_json(call, notice);
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if(text)
    emu_notify_post(n, call->callback, text, call->app, call->tenant);
  else {
    pthread_mutex_lock(&n->lock);
    n->stats.dropped++;
    pthread_mutex_unlock(&n->lock);
  }
  free(text);
}

void emu_notify_event(struct emu_notify *n, enum emu_call_event ev,
                      const struct emu_call_info *call)
{
  if(!n || !call->callback || !*call->callback)
    return;
  switch(ev) {
  case EMU_EVENT_CREATED:
    if(!n->reorder)
      post_notice(n, call, EMU_NOTICE_ESTABLISHING);
    break;
  case EMU_EVENT_ESTABLISHED:
    post_notice(n, call, EMU_NOTICE_ESTABLISHED);
    if(n->reorder) /* as Graph warns they may arrive */
      post_notice(n, call, EMU_NOTICE_ESTABLISHING);
    break;
  case EMU_EVENT_ENDED:
    post_notice(n, call, EMU_NOTICE_TERMINATING);
    post_notice(n, call, EMU_NOTICE_TERMINATED);
    break;
  }
}

void emu_notify_get_stats(struct emu_notify *n, struct emu_notify_stats *out)
{
  pthread_mutex_lock(&n->lock);
  *out = n->stats;
  out->queued = (uint32_t)n->len;
  pthread_mutex_unlock(&n->lock);
}
