/* SPDX-License-Identifier: MIT */
/* batch.c - many keepAlives at once on libcurl's multi interface.
 *
 * Items move between three places: the ready queue (FIFO: new items and
 * items whose retry wait is over), the multi handle (in flight, at most
 * max_parallel) and the timer heap (waiting to retry, keyed on monotonic
 * due time then sequence).  Nothing sleeps: mgcall_batch_run() waits in
 * curl_multi_poll() for at most the time to the next timer. */
#include "client.h"

#include "uuid.h"

#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cap of a bearer token we hold (bytes). */
#define TOKEN_MAX 16384

struct item {
  struct item *next;                /* ready queue */
  struct item *all_prev, *all_next; /* every item not completed */
  int in_flight;
  char *call_id;
  char *tenant;
  char *url;
  void *user;
  char *token; /* the token of the current attempt */
  char crid[MGC_UUID_LEN + 1];
  int retries_done;
  int refreshed;
  uint64_t first_send_ms;
  uint64_t due_ms;
  uint64_t seq;
  struct mgc_attempt attempt;
  mgcall_result res;
};

struct mgcall_batch {
  mgcall_client *client;
  CURLM *multi;
  unsigned max_parallel;
  mgcall_done_cb cb;
  void *userdata;
  struct item *ready_head, *ready_tail;
  struct item *all;   /* every item not completed */
  struct item **heap; /* timers */
  size_t nheap, heap_cap;
  size_t in_flight;
  size_t pending;
  uint64_t seq;
  atomic_int woken;
  char token_buf[TOKEN_MAX];
  /* The last failed token acquisition: for a short while the other items of
   * that tenant fail with it at once instead of asking again. */
  struct {
    int code; /* 0: none */
    char *tenant;
    uint64_t at_ms;
    char msg[512];
  } token_fail;
};

/* How long a failed token acquisition is reused (ms). */
#define TOKEN_FAIL_MEMO_MS 2000

/* ---- timer heap ---- */

static int before(const struct item *a, const struct item *b)
{
  return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static int heap_push(struct mgcall_batch *b, struct item *it)
{
  if(b->nheap == b->heap_cap) {
    size_t cap = b->heap_cap ? b->heap_cap * 2 : 64;
    struct item **h = realloc(b->heap, cap * sizeof(*h));
    if(!h)
      return -1;
    b->heap = h;
    b->heap_cap = cap;
  }
  size_t i = b->nheap++;
  b->heap[i] = it;
  while(i && before(b->heap[i], b->heap[(i - 1) / 2])) {
    struct item *t = b->heap[i];
    b->heap[i] = b->heap[(i - 1) / 2];
    b->heap[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
  return 0;
}

static struct item *heap_pop(struct mgcall_batch *b)
{
  struct item *top = b->heap[0];
  b->heap[0] = b->heap[--b->nheap];
  size_t i = 0;
  for(;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if(l < b->nheap && before(b->heap[l], b->heap[m]))
      m = l;
    if(r < b->nheap && before(b->heap[r], b->heap[m]))
      m = r;
    if(m == i)
      break;
    struct item *t = b->heap[i];
    b->heap[i] = b->heap[m];
    b->heap[m] = t;
    i = m;
  }
  return top;
}

static void ready_push(struct mgcall_batch *b, struct item *it)
{
  it->next = NULL;
  if(b->ready_tail)
    b->ready_tail->next = it;
  else
    b->ready_head = it;
  b->ready_tail = it;
}

static struct item *ready_pop(struct mgcall_batch *b)
{
  struct item *it = b->ready_head;
  if(it) {
    b->ready_head = it->next;
    if(!b->ready_head)
      b->ready_tail = NULL;
  }
  return it;
}

static void all_unlink(struct mgcall_batch *b, struct item *it)
{
  if(it->all_prev)
    it->all_prev->all_next = it->all_next;
  else
    b->all = it->all_next;
  if(it->all_next)
    it->all_next->all_prev = it->all_prev;
  it->all_prev = it->all_next = NULL;
}

static void item_free(struct item *it)
{
  if(!it)
    return;
  mgc__attempt_release(&it->attempt);
  free(it->call_id);
  free(it->tenant);
  free(it->url);
  if(it->token) {
    OPENSSL_cleanse(it->token, strlen(it->token));
    free(it->token);
  }
  free(it);
}

/* ---- public API ---- */

int mgcall_batch_new(mgcall_client *client, unsigned max_parallel,
                     mgcall_done_cb cb, void *userdata, mgcall_batch **out)
{
  if(!out)
    return MGCALL_E_USAGE;
  *out = NULL;
  if(!client || !cb)
    return MGCALL_E_USAGE;
  if(!max_parallel)
    max_parallel = 16;
  struct mgcall_batch *b = calloc(1, sizeof(*b));
  if(!b)
    return mgc__err_set(&client->err, MGCALL_E_INTERNAL, "out of memory");
  b->client = client;
  b->max_parallel = max_parallel;
  b->cb = cb;
  b->userdata = userdata;
  atomic_init(&b->woken, 0);
  b->multi = curl_multi_init();
  if(!b->multi) {
    free(b);
    return mgc__err_set(&client->err, MGCALL_E_INTERNAL, "out of memory");
  }
  /* HTTP/2 multiplexing when the server offers it; else at most
   * max_parallel connections, reused. */
  curl_multi_setopt(b->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    (long)max_parallel);
  curl_multi_setopt(b->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    (long)max_parallel);
  curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)max_parallel);
  *out = b;
  return MGCALL_OK;
}

int mgcall_batch_add(mgcall_batch *b, const char *call_id,
                     const char *tenant_id, void *user)
{
  if(!b || !call_id || !*call_id)
    return MGCALL_E_USAGE;
  struct item *it = calloc(1, sizeof(*it));
  if(!it)
    return mgc__err_set(&b->client->err, MGCALL_E_INTERNAL, "out of memory");
  it->call_id = strdup(call_id);
  it->tenant = tenant_id ? strdup(tenant_id) : NULL;
  it->url = mgcall_keep_alive_url(b->client, call_id);
  it->user = user;
  it->seq = b->seq++;
  if(!it->call_id || !it->url || (tenant_id && !it->tenant)) {
    item_free(it);
    return mgc__err_set(&b->client->err, MGCALL_E_INTERNAL, "out of memory");
  }
  if(b->client->user_crid)
    snprintf(it->crid, sizeof(it->crid), "%.36s", b->client->user_crid);
  else if(mgc__uuid_v4(it->crid)) {
    item_free(it);
    return mgc__err_set(&b->client->err, MGCALL_E_INTERNAL,
                        "random number generator failed");
  }
  snprintf(it->res.client_request_id, sizeof(it->res.client_request_id), "%s",
           b->client->user_crid ? b->client->user_crid : it->crid);
  it->res.retry_after_ms = -1;
  it->all_next = b->all;
  if(b->all)
    b->all->all_prev = it;
  b->all = it;
  ready_push(b, it);
  b->pending++;
  return MGCALL_OK;
}

static void verbose(struct mgcall_batch *b, const struct item *it)
{
  mgcall_client *c = b->client;
  if(!c->verbose_cb)
    return;
  char line[2048];
  uint64_t ms = mgc__now_ms() - it->first_send_ms;
  if(it->res.status)
    snprintf(line, sizeof(line),
             "keep-alive %s: status %ld, %llu ms, request-id %s, attempt %d",
             it->call_id, it->res.status, (unsigned long long)ms,
             it->res.request_id[0] ? it->res.request_id : "-",
             it->res.attempts);
  else
    snprintf(line, sizeof(line), "keep-alive %s: %s, %llu ms, attempt %d",
             it->call_id, it->res.error_message, (unsigned long long)ms,
             it->res.attempts);
  c->verbose_cb(c->log_userdata, line);
}

static void complete(struct mgcall_batch *b, struct item *it)
{
  it->res.elapsed_ms =
      it->first_send_ms ? (long)(mgc__now_ms() - it->first_send_ms) : 0;
  if(it->res.code == MGCALL_E_ACCESS_DENIED)
    mgc__token_roles(it->token, &it->res);
  b->pending--;
  all_unlink(b, it);
  b->cb(b->userdata, it->call_id, it->user, &it->res);
  item_free(it);
}

/* Fail it before any request went out (token trouble, set-up failure). */
static void fail_item(struct mgcall_batch *b, struct item *it, int code,
                      const char *msg)
{
  it->res.code = code;
  snprintf(it->res.error_message, sizeof(it->res.error_message), "%s", msg);
  complete(b, it);
}

static int same_tenant(const char *a, const char *b)
{
  return (!a && !b) || (a && b && !strcmp(a, b));
}

static int get_token(struct mgcall_batch *b, struct item *it, int force)
{
  uint64_t now = mgc__now_ms();
  if(b->token_fail.code && same_tenant(b->token_fail.tenant, it->tenant) &&
     now - b->token_fail.at_ms < TOKEN_FAIL_MEMO_MS)
    return mgc__err_set(&b->client->err, b->token_fail.code, "%s",
                        b->token_fail.msg);
  struct mgc_tokens *t;
  int rc = mgc__client_tokens(b->client, &t);
  if(!rc)
    rc = mgc__tokens_get(t, it->tenant, force, b->token_buf,
                         sizeof(b->token_buf), NULL, &b->client->err);
  if(rc) {
    if(rc != MGCALL_E_INTERNAL) {
      free(b->token_fail.tenant);
      b->token_fail.tenant = it->tenant ? strdup(it->tenant) : NULL;
      b->token_fail.code = rc;
      b->token_fail.at_ms = now;
      snprintf(b->token_fail.msg, sizeof(b->token_fail.msg), "%s",
               b->client->err.msg);
    }
    return rc;
  }
  char *tok = strdup(b->token_buf);
  OPENSSL_cleanse(b->token_buf, strlen(b->token_buf));
  if(!tok)
    return mgc__err_set(&b->client->err, MGCALL_E_INTERNAL, "out of memory");
  if(it->token) {
    OPENSSL_cleanse(it->token, strlen(it->token));
    free(it->token);
  }
  it->token = tok;
  return MGCALL_OK;
}

static void start(struct mgcall_batch *b, struct item *it)
{
  if(!it->token) {
    int rc = get_token(b, it, 0);
    if(rc) {
      fail_item(b, it, rc, b->client->err.msg);
      return;
    }
  }
  mgc__attempt_release(&it->attempt);
  int rc = mgc__attempt_start(b->client, &it->attempt, it->url, it->token,
                              it->crid, it->retries_done);
  if(!rc && curl_easy_setopt(it->attempt.easy, CURLOPT_PRIVATE, it) != CURLE_OK)
    rc = MGCALL_E_INTERNAL;
  if(!rc && curl_multi_add_handle(b->multi, it->attempt.easy) != CURLM_OK)
    rc = mgc__err_set(&b->client->err, MGCALL_E_INTERNAL,
                      "cannot add a transfer");
  if(rc) {
    fail_item(b, it, rc, b->client->err.msg);
    return;
  }
  if(!it->first_send_ms)
    it->first_send_ms = mgc__now_ms();
  it->res.attempts++;
  it->in_flight = 1;
  b->in_flight++;
}

static uint32_t random32(void)
{
  uint32_t r = 0;
  if(RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
    r = (uint32_t)mgc__now_ms();
  return r;
}

/* A transfer of it ended with rc: complete it or plan its next attempt. */
static void finished(struct mgcall_batch *b, struct item *it, CURLcode rc)
{
  curl_multi_remove_handle(b->multi, it->attempt.easy);
  it->in_flight = 0;
  b->in_flight--;
  int64_t retry_after = -1;
  mgc__attempt_result(&it->attempt, rc, &it->res, &retry_after);
  mgc__attempt_release(&it->attempt);
  verbose(b, it);
  if(it->res.status == 401 && !it->refreshed) {
    /* A fresh token once, then once more.  When another item already
     * refreshed this tenant's token, the cached one is new: use it. */
    it->refreshed = 1;
    char *old = it->token ? strdup(it->token) : NULL;
    int trc = get_token(b, it, 0);
    if(!trc && old && !strcmp(old, it->token))
      trc = get_token(b, it, 1);
    if(old) {
      OPENSSL_cleanse(old, strlen(old));
      free(old);
    }
    if(trc) {
      fail_item(b, it, trc, b->client->err.msg);
      return;
    }
    ready_push(b, it);
    return;
  }
  int retryable = rc == CURLE_OK ? mgc__retry_status(it->res.status)
                                 : mgc__http_curl_retryable(rc);
  if(retryable) {
    uint64_t now = mgc__now_ms();
    int64_t wait =
        mgc__retry_next_delay(&b->client->retry, it->retries_done,
                              now - it->first_send_ms, retry_after, random32());
    if(wait >= 0) {
      it->retries_done++;
      it->due_ms = now + (uint64_t)wait;
      it->seq = b->seq++;
      if(heap_push(b, it)) {
        fail_item(b, it, MGCALL_E_INTERNAL, "out of memory");
      }
      return;
    }
    if(rc != CURLE_OK)
      it->res.code = MGCALL_E_NETWORK;
  }
  complete(b, it);
}

/* Move due timers to the ready queue, start what the limit allows, let
 * libcurl work and collect finished transfers; again until a round finishes
 * nothing, so that no completion is left unread before the caller polls.
 * Returns the number of callbacks run. */
static size_t step(struct mgcall_batch *b)
{
  size_t done_before = b->pending;
  for(;;) {
    uint64_t now = mgc__now_ms();
    while(b->nheap && b->heap[0]->due_ms <= now)
      ready_push(b, heap_pop(b));
    while(b->in_flight < b->max_parallel && b->ready_head)
      start(b, ready_pop(b));
    int running = 0;
    curl_multi_perform(b->multi, &running);
    CURLMsg *m;
    int left, finished_any = 0;
    while((m = curl_multi_info_read(b->multi, &left))) {
      if(m->msg != CURLMSG_DONE)
        continue;
      struct item *it = NULL;
      CURLcode rc = m->data.result;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&it);
      if(it) {
        finished(b, it, rc);
        finished_any = 1;
      }
    }
    if(!finished_any)
      break;
  }
  return done_before > b->pending ? done_before - b->pending : 0;
}

int mgcall_batch_run(mgcall_batch *b, int timeout_ms)
{
  if(!b)
    return -MGCALL_E_USAGE;
  uint64_t deadline =
      mgc__now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
  size_t completed = 0;
  for(;;) {
    completed += step(b);
    if(atomic_exchange(&b->woken, 0))
      break;
    if(completed && !b->pending)
      break;
    uint64_t now = mgc__now_ms();
    if(now >= deadline)
      break;
    long wait = (long)(deadline - now);
    if(b->ready_head && b->in_flight < b->max_parallel)
      wait = 0;
    if(b->nheap) {
      uint64_t due = b->heap[0]->due_ms;
      long tw = due > now ? (long)(due - now) : 0;
      if(tw < wait)
        wait = tw;
    }
    long cw = -1;
    if(b->in_flight && curl_multi_timeout(b->multi, &cw) == CURLM_OK &&
       cw >= 0 && cw < wait)
      wait = cw;
    if(wait > 0) {
      int n;
      if(curl_multi_poll(b->multi, NULL, 0, (int)wait, &n) != CURLM_OK)
        return -MGCALL_E_INTERNAL;
    }
  }
  return (int)(b->pending > 0x7fffffff ? 0x7fffffff : b->pending);
}

void mgcall_batch_wakeup(mgcall_batch *b)
{
  if(!b)
    return;
  atomic_store(&b->woken, 1);
  curl_multi_wakeup(b->multi);
}

size_t mgcall_batch_pending(const mgcall_batch *b)
{
  return b ? b->pending : 0;
}

void mgcall_batch_free(mgcall_batch *b)
{
  if(!b)
    return;
  while(b->all) {
    struct item *it = b->all;
    all_unlink(b, it);
    if(it->in_flight)
      curl_multi_remove_handle(b->multi, it->attempt.easy);
    item_free(it);
  }
  free(b->heap);
  free(b->token_fail.tenant);
  curl_multi_cleanup(b->multi);
  OPENSSL_cleanse(b->token_buf, sizeof(b->token_buf));
  free(b);
}

/* ---- the blocking call: a batch of one, kept by the client ---- */

static void one_done(void *ud, const char *call_id, void *item,
                     const mgcall_result *res)
{
  (void)call_id;
  mgcall_client *c = ud;
  if(!c->one.res || item != c->one.res)
    return; /* not the item of the call in progress */
  *c->one.res = *res;
  c->one.done = 1;
}

int mgcall_keep_alive(mgcall_client *client, const char *call_id,
                      const char *tenant_id, mgcall_result *res)
{
  if(!res)
    return MGCALL_E_USAGE;
  memset(res, 0, sizeof(*res));
  if(!client || !call_id || !*call_id) {
    res->code = MGCALL_E_USAGE;
    snprintf(res->error_message, sizeof(res->error_message), "empty call id");
    return res->code;
  }
  int rc = MGCALL_OK;
  if(!client->blocking)
    rc = mgcall_batch_new(client, 1, one_done, client, &client->blocking);
  client->one.res = res;
  client->one.done = 0;
  if(!rc)
    rc = mgcall_batch_add(client->blocking, call_id, tenant_id, res);
  while(!rc && !client->one.done) {
    int left = mgcall_batch_run(client->blocking, 1000);
    if(left < 0)
      rc = -left;
  }
  client->one.res = NULL;
  if(rc && client->blocking && mgcall_batch_pending(client->blocking)) {
    /* The batch failed with the item still on it: drop the batch, so that
     * a later call never gets this item's result. */
    mgcall_batch_free(client->blocking);
    client->blocking = NULL;
  }
  if(rc && !client->one.done) {
    res->code = rc;
    snprintf(res->error_message, sizeof(res->error_message), "%s",
             client->err.msg);
  }
  return res->code;
}
