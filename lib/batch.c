/* SPDX-License-Identifier: MIT */
/* batch.c - many keepAlives at once on libcurl's multi interface, with the
 * token requests they need on the same multi handle.
 *
 * Items move between four places: the ready queue (FIFO: new items, items
 * whose retry wait is over, items whose token came), the multi handle (in
 * flight, at most max_parallel), the timer heap (waiting to retry) and the
 * waiters of a token fetch.  A token fetch is one request per token key
 * (authority, tenant, client and scope: one client has one authority, client
 * and scope, so per tenant) with every item that needs it waiting on it; its
 * retries wait in the same heap.  Nothing sleeps and nothing blocks:
 * mgcall_batch_run() waits in curl_multi_poll() for at most the time to the
 * next timer (docs/library.md, "Nothing blocks", lists every call path). */
#include "batch.h"

#include "auth/token_cache.h"
#include "h2trace.h"
#include "jwt.h"
#include "mgcx.h"
#include "uuid.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Token requests in flight at once; more wait their turn.  The multi
 * handle gets this many connections on top of max_parallel, so keepAlives
 * never wait for a connection a token request holds. */
#define TOKEN_PARALLEL 16
/* Connections to one host once the server answers over HTTP/2 (pace()):
 * enough to carry max_parallel streams at H2_STREAMS_PER_CONN each (what
 * libcurl puts on one connection at most: CURLMOPT_MAX_CONCURRENT_STREAMS,
 * 100 by default; fewer when the server's SETTINGS say so, and then
 * transfers wait for a stream), plus H2_SPARE_CONNS: one draining after a
 * GOAWAY, the one replacing it and a spare.  libcurl 7.88 otherwise opens
 * a connection for every transfer waiting when one goes away (tens at
 * once). */
#define H2_STREAMS_PER_CONN 100L
#define H2_SPARE_CONNS 3L
/* How long a failed token acquisition is reused (ms): for a short while
 * the other items of that tenant fail with it at once instead of asking
 * again. */
#define TOKEN_FAIL_MEMO_MS 2000

enum { T_ITEM = 1, T_FETCH = 2 };

/* A place in the timer heap; first member of an item and of a fetch, and
 * what CURLOPT_PRIVATE points to. */
struct timer {
  int kind; /* T_ITEM or T_FETCH */
  uint64_t due_ms;
  uint64_t seq;
  struct mgc_h2t_stream h2; /* libcurl's trace of its transfer (trace()) */
};

enum item_state { IT_READY, IT_FLIGHT, IT_TIMER, IT_TOKEN };

/* Resends of a stream a GOAWAY refused that libcurl failed instead of
 * sending it again (finished()): libcurl's own limit for refused
 * streams. */
#define H2_RESENDS 5

struct item {
  struct timer tm;
  struct item *next;                /* ready queue or a fetch's waiters */
  struct item *all_prev, *all_next; /* every item not completed */
  enum item_state state;
  char *call_id;
  char *tenant;
  char *url;
  void *user;
  char *token; /* the token of the current attempt */
  char crid[MGC_UUID_LEN + 1];
  int retries_done;
  int refreshed;
  int h2_resent; /* resent after failed HTTP/2 sessions (H2_RESENDS) */
  uint64_t first_send_ms;
  struct mgc_attempt attempt;
  mgcall_result res;
};

/* The token request of one key, and what waits on it. */
struct fetch {
  struct timer tm;
  struct fetch *next;        /* every fetch of the batch */
  struct fetch *qnext;       /* waiting for a token slot */
  char *key;                 /* mgc__tokens_key() */
  char *tenant;              /* as items name it (NULL = the credential's) */
  struct mgc_token_req *req; /* in flight */
  int queued, timed;         /* waiting for a slot / in the heap */
  int failed_attempts;
  struct item *waiters;
  /* the last failure, reused for TOKEN_FAIL_MEMO_MS */
  int fail_code; /* 0: none */
  uint64_t fail_ms;
  int fail_unreported; /* not yet given to mgcall_batch_prefetch_token() */
  char fail_msg[512];
};

struct mgcall_batch {
  struct mgc_batch_config cfg; /* what it uses of its client */
  CURLM *multi;
  unsigned max_parallel;
  mgcall_done_cb cb;
  void *userdata;
  struct item *ready_head, *ready_tail;
  struct item *all;      /* every item not completed */
  struct mgcx_heap heap; /* struct timer *: items and fetches waiting */
  size_t in_flight;
  size_t pending;
  uint64_t seq;
  atomic_int woken;
  long host_conns; /* CURLMOPT_MAX_HOST_CONNECTIONS now (pace()) */
  int saw_h2;      /* the trace: a connection speaks HTTP/2 (step()) */
  struct fetch *fetches;
  struct fetch *fq_head, *fq_tail; /* waiting for a token slot */
  unsigned fetches_in_flight;
};

/* The HTTP/2 connection bound for a batch of max_parallel transfers: 4
 * up to 100 in flight, 13 for 1000. */
static long h2_host_conns(unsigned max_parallel)
{
  return ((long)max_parallel + H2_STREAMS_PER_CONN - 1) / H2_STREAMS_PER_CONN +
         H2_SPARE_CONNS;
}

static uint64_t now_ms(void)
{
  return mgcx_now_ms();
}

static void wipe_free(char *s)
{
  if(s) {
    OPENSSL_cleanse(s, strlen(s));
    free(s);
  }
}

/* ---- timer heap (mgcx_heap of struct timer pointers) ---- */

static int before(const void *a, const void *b)
{
  const struct timer *x = *(struct timer *const *)a;
  const struct timer *y = *(struct timer *const *)b;
  return x->due_ms < y->due_ms || (x->due_ms == y->due_ms && x->seq < y->seq);
}

static int heap_push(struct mgcall_batch *b, struct timer *t)
{
  t->seq = b->seq++;
  return mgcx_heap_push(&b->heap, &t);
}

static struct timer *heap_top(const struct mgcall_batch *b)
{
  struct timer **t = mgcx_heap_top(&b->heap);
  return t ? *t : NULL;
}

static struct timer *heap_pop(struct mgcall_batch *b)
{
  struct timer *t = NULL;
  mgcx_heap_pop(&b->heap, &t);
  return t;
}

/* ---- libcurl's trace ---- */

/* CURLOPT_DEBUGFUNCTION of every transfer of the batch (CURLOPT_VERBOSE
 * on): the lines that tell which connection and stream a transfer uses and
 * which streams a GOAWAY refused (h2trace.h), then the --debug trace when
 * the client asked for it. */
static int trace(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
  struct mgcall_batch *b = ud;
  struct mgc_h2t_line l;
  struct timer *t = NULL;
  if(type == CURLINFO_TEXT && mgc__h2trace_parse(data, size, &l) &&
     curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&t) == CURLE_OK && t) {
    if(l.kind == MGC_H2T_H2)
      b->saw_h2 = 1; /* no curl_multi_setopt() in a callback */
    else if(l.kind == MGC_H2T_GOAWAY) {
      /* the handle that read it is on that connection: every stream in
       * flight there above last-stream-id was not processed */
      for(struct item *it = b->all; it; it = it->all_next)
        if(it->state == IT_FLIGHT)
          mgc__h2trace_goaway(&it->tm.h2, t->h2.conn, l.id);
    }
    else
      mgc__h2trace_own(&t->h2, &l);
  }
  if(b->cfg.req->http->debug_cb) /* it only reads the opts (libcurl's ud) */
    return mgc__http_trace(h, type, data, size, (void *)b->cfg.req->http);
  return 0;
}

/* Before e (the transfer of t) joins the multi handle: CURLOPT_PRIVATE
 * and the trace.  Returns 0 or -1. */
static int watch(struct mgcall_batch *b, CURL *e, struct timer *t)
{
  mgc__h2trace_start(&t->h2);
  return curl_easy_setopt(e, CURLOPT_PRIVATE, t) == CURLE_OK &&
                 curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, trace) ==
                     CURLE_OK &&
                 curl_easy_setopt(e, CURLOPT_DEBUGDATA, b) == CURLE_OK &&
                 curl_easy_setopt(e, CURLOPT_VERBOSE, 1L) == CURLE_OK
             ? 0
             : -1;
}

/* ---- items ---- */

static void ready_push(struct mgcall_batch *b, struct item *it)
{
  it->state = IT_READY;
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

static void set_token(struct item *it, char *token)
{
  wipe_free(it->token);
  it->token = token;
}

static void item_free(struct item *it)
{
  if(!it)
    return;
  mgc__attempt_release(&it->attempt);
  free(it->call_id);
  free(it->tenant);
  free(it->url);
  wipe_free(it->token);
  free(it);
}

/* ---- the batch (mgcall_batch_new() is in client.c), the public API ---- */

int mgc__batch_new(const struct mgc_batch_config *cfg, unsigned max_parallel,
                   mgcall_done_cb cb, void *userdata, mgcall_batch **out)
{
  if(!out)
    return MGCALL_E_USAGE;
  *out = NULL;
  if(!cfg || !cb)
    return MGCALL_E_USAGE;
  if(!max_parallel)
    max_parallel = 16;
  struct mgcall_batch *b = calloc(1, sizeof(*b));
  if(!b)
    return mgc__err_set(cfg->err, MGCALL_E_INTERNAL, "out of memory");
  b->cfg = *cfg;
  b->max_parallel = max_parallel;
  b->cb = cb;
  b->userdata = userdata;
  mgcx_heap_init(&b->heap, sizeof(struct timer *), before, NULL, NULL);
  atomic_init(&b->woken, 0);
  b->multi = curl_multi_init();
  if(!b->multi) {
    free(b);
    return mgc__err_set(cfg->err, MGCALL_E_INTERNAL, "out of memory");
  }
  /* HTTP/2 multiplexing when the server offers it; else at most
   * max_parallel connections for keepAlives, reused, and TOKEN_PARALLEL
   * more for token requests (which may go to the same host).  Per host
   * h2_host_conns() while HTTP/2 is possible (https, until an answer comes
   * over HTTP/1.x) or seen (pace()): before the first connection has
   * said h2, its loss would send every waiting transfer to a connection
   * of its own. */
  long conns = (long)max_parallel + TOKEN_PARALLEL;
  b->host_conns = strncasecmp(cfg->graph, "https:", 6)
                      ? conns
                      : h2_host_conns(max_parallel);
  curl_multi_setopt(b->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS, b->host_conns);
  curl_multi_setopt(b->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns);
  curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, conns);
  *out = b;
  return MGCALL_OK;
}

int mgcall_batch_add(mgcall_batch *b, const char *call_id,
                     const char *tenant_id, void *user)
{
  if(!b || !call_id || !*call_id)
    return MGCALL_E_USAGE;
  const struct mgc_batch_config *c = &b->cfg;
  struct item *it = calloc(1, sizeof(*it));
  if(!it)
    return mgc__err_set(c->err, MGCALL_E_INTERNAL, "out of memory");
  it->tm.kind = T_ITEM;
  it->call_id = strdup(call_id);
  it->tenant = tenant_id ? strdup(tenant_id) : NULL;
  it->url = mgc__attempt_url(c->graph, c->api_version, call_id);
  it->user = user;
  if(!it->call_id || !it->url || (tenant_id && !it->tenant)) {
    item_free(it);
    return mgc__err_set(c->err, MGCALL_E_INTERNAL, "out of memory");
  }
  if(c->req->user_crid)
    snprintf(it->crid, sizeof(it->crid), "%.36s", c->req->user_crid);
  else if(mgc__uuid_v4(it->crid)) {
    item_free(it);
    return mgc__err_set(c->err, MGCALL_E_INTERNAL,
                        "random number generator failed");
  }
  snprintf(it->res.client_request_id, sizeof(it->res.client_request_id), "%s",
           c->req->user_crid ? c->req->user_crid : it->crid);
  it->res.struct_size = sizeof(it->res);
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
  const struct mgc_batch_config *c = &b->cfg;
  if(!c->verbose_cb)
    return;
  char line[2048];
  uint64_t ms = now_ms() - it->first_send_ms;
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
      it->first_send_ms ? (long)(now_ms() - it->first_send_ms) : 0;
  if(it->res.code == MGCALL_E_ACCESS_DENIED)
    mgc__token_roles(it->token, &it->res);
  b->pending--;
  all_unlink(b, it);
  b->cb(b->userdata, it->call_id, it->user, &it->res);
  item_free(it);
}

/* Fail it before (another) request went out (token trouble, set-up). */
static void fail_item(struct mgcall_batch *b, struct item *it, int code,
                      const char *msg)
{
  it->res.code = code;
  snprintf(it->res.error_message, sizeof(it->res.error_message), "%s", msg);
  complete(b, it);
}

/* ---- token fetches ---- */

static struct fetch *fetch_find(struct mgcall_batch *b, const char *key)
{
  for(struct fetch *f = b->fetches; f; f = f->next)
    if(!strcmp(f->key, key))
      return f;
  return NULL;
}

static int fetch_active(const struct fetch *f)
{
  return f->req || f->queued || f->timed;
}

static void fetch_free(struct fetch *f)
{
  if(!f)
    return;
  mgc__tokens_req_free(f->req);
  free(f->key);
  free(f->tenant);
  free(f);
}

/* Drop fetches with nothing to do and no failure worth remembering. */
static void fetch_sweep(struct mgcall_batch *b, uint64_t now)
{
  for(struct fetch **p = &b->fetches; *p;) {
    struct fetch *f = *p;
    if(!fetch_active(f) && !f->waiters &&
       (!f->fail_code || now - f->fail_ms >= TOKEN_FAIL_MEMO_MS)) {
      *p = f->next;
      fetch_free(f);
    }
    else
      p = &f->next;
  }
}

/* The fetch of key, made when missing.  NULL when out of memory. */
static struct fetch *fetch_get(struct mgcall_batch *b, const char *key,
                               const char *tenant)
{
  struct fetch *f = fetch_find(b, key);
  if(f)
    return f;
  f = calloc(1, sizeof(*f));
  if(!f)
    return NULL;
  f->tm.kind = T_FETCH;
  f->key = strdup(key);
  f->tenant = tenant ? strdup(tenant) : NULL;
  if(!f->key || (tenant && !f->tenant)) {
    fetch_free(f);
    return NULL;
  }
  f->next = b->fetches;
  b->fetches = f;
  return f;
}

/* The fetch failed for good: remember it, fail every waiter. */
static void fetch_failed(struct mgcall_batch *b, struct fetch *f, int code,
                         const char *msg)
{
  f->fail_code = code;
  f->fail_ms = now_ms();
  f->fail_unreported = 1;
  f->failed_attempts = 0;
  snprintf(f->fail_msg, sizeof(f->fail_msg), "%s", msg);
  struct item *w = f->waiters;
  f->waiters = NULL;
  while(w) {
    struct item *next = w->next;
    fail_item(b, w, code, f->fail_msg);
    w = next;
  }
}

/* Send f's request now, or queue it when TOKEN_PARALLEL are in flight. */
static void fetch_send(struct mgcall_batch *b, struct fetch *f)
{
  if(b->fetches_in_flight >= TOKEN_PARALLEL) {
    f->queued = 1;
    f->qnext = NULL;
    if(b->fq_tail)
      b->fq_tail->qnext = f;
    else
      b->fq_head = f;
    b->fq_tail = f;
    return;
  }
  const struct mgc_batch_config *c = &b->cfg;
  int rc = mgc__tokens_req_new(c->tokens, f->tenant, &f->req, c->err);
  CURL *e = rc ? NULL : mgc__tokens_req_easy(f->req);
  if(!rc && watch(b, e, &f->tm))
    rc = mgc__err_set(c->err, MGCALL_E_INTERNAL, "libcurl set-up failed");
  if(!rc && curl_multi_add_handle(b->multi, e) != CURLM_OK)
    rc = mgc__err_set(c->err, MGCALL_E_INTERNAL, "cannot add a transfer");
  if(rc) {
    mgc__tokens_req_free(f->req);
    f->req = NULL;
    fetch_failed(b, f, rc, c->err->msg);
    return;
  }
  b->fetches_in_flight++;
}

/* Start f unless it is under way already. */
static void fetch_start(struct mgcall_batch *b, struct fetch *f)
{
  if(fetch_active(f))
    return;
  f->fail_code = 0;
  f->fail_unreported = 0;
  f->failed_attempts = 0;
  fetch_send(b, f);
}

/* A token slot came free: send the next queued fetch. */
static void fetch_next_queued(struct mgcall_batch *b)
{
  while(b->fq_head && b->fetches_in_flight < TOKEN_PARALLEL) {
    struct fetch *f = b->fq_head;
    b->fq_head = f->qnext;
    if(!b->fq_head)
      b->fq_tail = NULL;
    f->queued = 0;
    fetch_send(b, f);
  }
}

/* f's transfer ended with cc. */
static void fetch_finished(struct mgcall_batch *b, struct fetch *f, CURLcode cc)
{
  const struct mgc_batch_config *c = &b->cfg;
  curl_multi_remove_handle(b->multi, mgc__tokens_req_easy(f->req));
  b->fetches_in_flight--;
  char *token = NULL;
  time_t exp = 0;
  int retryable = 0;
  int64_t retry_after = -1;
  int rc = mgc__tokens_req_done(c->tokens, f->req, cc, &token, &exp, &retryable,
                                &retry_after, c->err);
  mgc__tokens_req_free(f->req);
  f->req = NULL;
  if(rc == MGCALL_OK) {
    f->failed_attempts = 0;
    struct item *w = f->waiters;
    f->waiters = NULL;
    while(w) {
      struct item *next = w->next;
      char *copy = strdup(token);
      if(copy) {
        set_token(w, copy);
        ready_push(b, w);
      }
      else
        fail_item(b, w, MGCALL_E_INTERNAL, "out of memory");
      w = next;
    }
    wipe_free(token);
  }
  else {
    int64_t wait =
        mgc__tokens_retry_wait(f->failed_attempts, retryable, retry_after);
    f->failed_attempts++;
    if(wait >= 0) {
      f->tm.due_ms = now_ms() + (uint64_t)wait;
      if(heap_push(b, &f->tm) == 0)
        f->timed = 1;
      else
        fetch_failed(b, f, MGCALL_E_INTERNAL, "out of memory");
    }
    else
      fetch_failed(b, f, rc, c->err->msg);
  }
  fetch_next_queued(b);
}

/* Make it wait for a token of its tenant from the token endpoint (force:
 * even when one is held, after a 401).  Fails it when a request for that
 * tenant failed a moment ago. */
static void wait_for_token(struct mgcall_batch *b, struct item *it,
                           const char *key)
{
  struct fetch *f = fetch_find(b, key);
  if(f && !fetch_active(f) && f->fail_code &&
     now_ms() - f->fail_ms < TOKEN_FAIL_MEMO_MS) {
    fail_item(b, it, f->fail_code, f->fail_msg);
    return;
  }
  if(!f)
    f = fetch_get(b, key, it->tenant);
  if(!f) {
    fail_item(b, it, MGCALL_E_INTERNAL, "out of memory");
    return;
  }
  it->state = IT_TOKEN;
  it->next = f->waiters;
  f->waiters = it;
  fetch_start(b, f); /* may fail it at once */
}

/* ---- attempts ---- */

static void start(struct mgcall_batch *b, struct item *it)
{
  const struct mgc_batch_config *c = &b->cfg;
  if(!it->token) {
    if(!c->tokens) {
      fail_item(b, it, MGCALL_E_AUTH,
                "no credentials: give --access-token-file, a client secret, "
                "a certificate or --managed-identity");
      return;
    }
    char *tok = NULL;
    int rc = mgc__tokens_held(c->tokens, it->tenant, MGC_TOKEN_MARGIN, &tok,
                              NULL, c->err);
    if(rc) {
      fail_item(b, it, rc, c->err->msg);
      return;
    }
    if(!tok) {
      wait_for_token(b, it, mgc__tokens_key(c->tokens, it->tenant));
      return;
    }
    set_token(it, tok);
  }
  mgc__attempt_release(&it->attempt);
  int rc = mgc__attempt_start(c->req, &it->attempt, it->url, it->token,
                              it->crid, it->retries_done, c->err);
  if(!rc && watch(b, it->attempt.easy, &it->tm))
    rc = MGCALL_E_INTERNAL;
  if(!rc && curl_multi_add_handle(b->multi, it->attempt.easy) != CURLM_OK)
    rc = mgc__err_set(c->err, MGCALL_E_INTERNAL, "cannot add a transfer");
  if(rc) {
    fail_item(b, it, rc, c->err->msg);
    return;
  }
  if(!it->first_send_ms)
    it->first_send_ms = now_ms();
  it->res.attempts++;
  it->state = IT_FLIGHT;
  b->in_flight++;
}

static uint32_t random32(void)
{
  uint32_t r = 0;
  if(RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
    r = (uint32_t)now_ms();
  return r;
}

/* A 401: a fresh token once.  When the token held is newer than the one
 * sent (another item or a refresh got it), use it; else ask the token
 * endpoint (joining a request under way). */
static void refresh_after_401(struct mgcall_batch *b, struct item *it)
{
  const struct mgc_batch_config *c = &b->cfg;
  it->refreshed = 1;
  char *tok = NULL;
  int rc = mgc__tokens_held(c->tokens, it->tenant, 0, &tok, NULL, c->err);
  if(rc) {
    fail_item(b, it, rc, c->err->msg);
    return;
  }
  int newer = tok && it->token && strcmp(tok, it->token);
  if(newer || mgc__tokens_fixed(c->tokens)) {
    set_token(it, tok);
    ready_push(b, it);
    return;
  }
  wipe_free(tok);
  set_token(it, NULL);
  wait_for_token(b, it, mgc__tokens_key(c->tokens, it->tenant));
}

/* The connection limit per host after a connection or an answer over HTTP
 * version v (the trace's "using HTTP/2", CURLINFO_HTTP_VERSION; 0: no
 * answer, nothing learnt).  Over HTTP/2 the transfers multiplex on one
 * connection and h2_host_conns() bounds what libcurl opens when it goes
 * away;
 * an answer over HTTP/1.x (the server, or a proxy, does not offer h2)
 * gives back max_parallel connections.  Transfers over the limit wait in
 * libcurl until a connection frees. */
static void pace(struct mgcall_batch *b, long v)
{
  long want = b->host_conns;
  if(v == CURL_HTTP_VERSION_2_0)
    want = h2_host_conns(b->max_parallel);
  else if(v == CURL_HTTP_VERSION_1_0 || v == CURL_HTTP_VERSION_1_1)
    want = (long)b->max_parallel + TOKEN_PARALLEL;
  if(want != b->host_conns &&
     curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS, want) ==
         CURLM_OK)
    b->host_conns = want;
}

/* A transfer of it ended with rc: complete it or plan its next attempt. */
static void finished(struct mgcall_batch *b, struct item *it, CURLcode rc)
{
  long version = 0;
  if(curl_easy_getinfo(it->attempt.easy, CURLINFO_HTTP_VERSION, &version) ==
     CURLE_OK)
    pace(b, version);
  curl_multi_remove_handle(b->multi, it->attempt.easy);
  b->in_flight--;
  int64_t retry_after = -1;
  mgc__attempt_result(&it->attempt, rc, &it->res, &retry_after);
  mgc__attempt_release(&it->attempt);
  verbose(b, it);
  if(it->res.status == 401 && !it->refreshed) {
    refresh_after_401(b, it);
    return;
  }
  /* libcurl sends again by itself, on a new connection, the streams an
   * HTTP/2 server refused (RST_STREAM REFUSED_STREAM, ids above a GOAWAY's
   * last-stream-id), except one: 7.88 fails the first stream of a
   * connection that a GOAWAY closed with CURLE_HTTP2 before any answer.
   * That one, and only a stream a GOAWAY provably refused (its trace:
   * h2trace.h), is sent again at once, not counted as a retry, up to
   * H2_RESENDS times as libcurl does for the others; any other failure
   * (CURLE_HTTP2 included) goes the retry policy's way: the server may
   * have processed it. */
  if(mgc__h2trace_unprocessed(rc, it->res.status, &it->tm.h2) &&
     it->h2_resent < H2_RESENDS) {
    it->h2_resent++;
    it->state = IT_READY; /* first in line */
    it->next = b->ready_head;
    b->ready_head = it;
    if(!b->ready_tail)
      b->ready_tail = it;
    return;
  }
  int retryable = rc == CURLE_OK ? mgc__retry_status(it->res.status)
                                 : mgc__http_curl_retryable(rc);
  if(retryable) {
    uint64_t now = now_ms();
    int64_t wait =
        mgc__retry_next_delay(b->cfg.retry, it->retries_done,
                              now - it->first_send_ms, retry_after, random32());
    if(wait >= 0) {
      it->retries_done++;
      it->tm.due_ms = now + (uint64_t)wait;
      it->state = IT_TIMER;
      if(heap_push(b, &it->tm))
        fail_item(b, it, MGCALL_E_INTERNAL, "out of memory");
      return;
    }
    if(rc != CURLE_OK)
      it->res.code = MGCALL_E_NETWORK;
  }
  complete(b, it);
}

/* A timer is due. */
static void timer_fired(struct mgcall_batch *b, struct timer *t)
{
  if(t->kind == T_ITEM) {
    ready_push(b, (struct item *)t);
    return;
  }
  struct fetch *f = (struct fetch *)t;
  f->timed = 0;
  fetch_send(b, f);
}

/* Move due timers on, start what the limit allows, let libcurl work and
 * collect finished transfers; again until a round finishes nothing, so that
 * no completion is left unread before the caller polls.  Returns the number
 * of callbacks run plus token requests ended. */
static size_t step(struct mgcall_batch *b)
{
  size_t done_before = b->pending;
  size_t fetches_done = 0;
  for(;;) {
    uint64_t now = now_ms();
    while(heap_top(b) && heap_top(b)->due_ms <= now)
      timer_fired(b, heap_pop(b));
    while(b->in_flight < b->max_parallel && b->ready_head)
      start(b, ready_pop(b));
    int running = 0;
    curl_multi_perform(b->multi, &running);
    if(b->saw_h2) {
      b->saw_h2 = 0;
      pace(b, CURL_HTTP_VERSION_2_0);
    }
    CURLMsg *m;
    int left, finished_any = 0;
    while((m = curl_multi_info_read(b->multi, &left))) {
      if(m->msg != CURLMSG_DONE)
        continue;
      struct timer *t = NULL;
      CURLcode rc = m->data.result;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
      if(!t)
        continue;
      if(t->kind == T_ITEM)
        finished(b, (struct item *)t, rc);
      else {
        fetch_finished(b, (struct fetch *)t, rc);
        fetches_done++;
      }
      finished_any = 1;
    }
    if(!finished_any)
      break;
  }
  fetch_sweep(b, now_ms());
  return fetches_done +
         (done_before > b->pending ? done_before - b->pending : 0);
}

int mgcall_batch_run(mgcall_batch *b, int timeout_ms)
{
  if(!b)
    return MGCALL_E_USAGE;
  uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
  size_t completed = 0;
  for(;;) {
    completed += step(b);
    if(atomic_exchange(&b->woken, 0))
      break;
    if(completed && !b->pending)
      break;
    uint64_t now = now_ms();
    if(now >= deadline)
      break;
    long wait = (long)(deadline - now);
    if(b->ready_head && b->in_flight < b->max_parallel)
      wait = 0;
    if(heap_top(b)) {
      uint64_t due = heap_top(b)->due_ms;
      long tw = due > now ? (long)(due - now) : 0;
      if(tw < wait)
        wait = tw;
    }
    long cw = -1;
    if((b->in_flight || b->fetches_in_flight) &&
       curl_multi_timeout(b->multi, &cw) == CURLM_OK && cw >= 0 && cw < wait)
      wait = cw;
    if(wait > 0) {
      int n;
      if(curl_multi_poll(b->multi, NULL, 0, (int)wait, &n) != CURLM_OK)
        return mgc__err_set(b->cfg.err, MGCALL_E_INTERNAL,
                            "waiting for transfers failed");
    }
  }
  return MGCALL_OK;
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
    if(it->state == IT_FLIGHT)
      curl_multi_remove_handle(b->multi, it->attempt.easy);
    item_free(it);
  }
  while(b->fetches) {
    struct fetch *f = b->fetches;
    b->fetches = f->next;
    if(f->req)
      curl_multi_remove_handle(b->multi, mgc__tokens_req_easy(f->req));
    fetch_free(f);
  }
  mgcx_heap_release(&b->heap);
  curl_multi_cleanup(b->multi);
  free(b);
}

/* ---- refreshing ahead of time ---- */

/* Whole lifetime of a JWT access token (exp - iat) in seconds, or -1. */
static long token_lifetime(const char *token)
{
  json_t *claims = NULL;
  long life = -1;
  if(mgc__jwt_decode(token, NULL, &claims, NULL) == 0) {
    json_t *exp = json_object_get(claims, "exp");
    json_t *iat = json_object_get(claims, "iat");
    if(json_is_integer(exp) && json_is_integer(iat) &&
       json_integer_value(exp) > json_integer_value(iat))
      life = (long)(json_integer_value(exp) - json_integer_value(iat));
  }
  json_decref(claims);
  return life;
}

int mgc__batch_token_pending(const mgcall_batch *b, const char *tenant)
{
  const char *key = b ? mgc__tokens_key(b->cfg.tokens, tenant) : NULL;
  if(!key)
    return 0;
  for(const struct fetch *f = b->fetches; f; f = f->next)
    if(!strcmp(f->key, key))
      return fetch_active(f);
  return 0;
}

int mgcall_batch_prefetch_token(mgcall_batch *b, const char *tenant_id,
                                long min_remaining_s, int *pending,
                                long *remaining_s, long *lifetime_s)
{
  if(pending)
    *pending = 0;
  if(remaining_s)
    *remaining_s = -1;
  if(lifetime_s)
    *lifetime_s = -1;
  if(!b || min_remaining_s < 0)
    return MGCALL_E_USAGE;
  const struct mgc_batch_config *c = &b->cfg;
  if(!c->tokens)
    return mgc__err_set(c->err, MGCALL_E_AUTH, "no credentials");
  char *tok = NULL;
  time_t exp = 0;
  int rc = mgc__tokens_held(c->tokens, tenant_id, min_remaining_s, &tok, &exp,
                            c->err);
  if(rc)
    return rc;
  if(tok) {
    long left = exp > 0 ? (long)(exp - time(NULL)) : -1;
    if(remaining_s)
      *remaining_s = left < 0 && exp > 0 ? 0 : left;
    if(lifetime_s)
      *lifetime_s = token_lifetime(tok);
    wipe_free(tok);
    return MGCALL_OK;
  }
  const char *key = mgc__tokens_key(c->tokens, tenant_id);
  struct fetch *f = fetch_find(b, key);
  if(f && !fetch_active(f) && f->fail_unreported) {
    f->fail_unreported = 0;
    return mgc__err_set(c->err, f->fail_code, "%s", f->fail_msg);
  }
  if(!f)
    f = fetch_get(b, key, tenant_id);
  if(!f)
    return mgc__err_set(c->err, MGCALL_E_INTERNAL, "out of memory");
  fetch_start(b, f);
  if(!fetch_active(f) && f->fail_code) { /* could not even be sent */
    f->fail_unreported = 0;
    return mgc__err_set(c->err, f->fail_code, "%s", f->fail_msg);
  }
  if(pending)
    *pending = 1;
  mgcall_batch_wakeup(b); /* a running mgcall_batch_run() looks again */
  return MGCALL_OK;
}
