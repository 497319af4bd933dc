/* SPDX-License-Identifier: MIT */
/* keeper.c - the keeper's main loop on one mgcall_batch. */
#include "keeper.h"

#include "api.h"
#include "core.h"
#include "inflight.h"
#include "lease.h"
#include "notify_auth.h"
#include "pg.h"
#include "tokenrefresh.h"
#include "log.h"
#include "text.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef MGCALL_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#define NOTIFY(s) sd_notify(0, s)
#else
#define NOTIFY(s) ((void)0)
#endif

struct loop {
  struct kcore *core;
  mgcall_batch *batch;
  size_t in_flight;
  int dispatching; /* 0 while stopping or reloading */
  /* how many may be in flight (main loop only); when its figures last went
   * to the metrics */
  struct kif *inflight;
  int64_t published;
  /* set by the signal thread, read by the loop (under sig_lock) */
  pthread_mutex_t sig_lock;
  int stop, reload;
  int quit;              /* keeper_run is returning: the signal thread ends */
  struct ktr *tokens;    /* proactive token refresh (main loop only) */
  mgcall_client *client; /* the current client (main loop only) */
};

/* Add the token requests client made since the last look to the metric;
 * seen is the count already added for this client (0 for a new one). */
static void count_tokens(struct loop *l, const mgcall_client *client,
                         unsigned long *seen)
{
  unsigned long n = mgcall_client_token_requests(client);
  if(n > *seen) {
    km_token_requests(l->core->metrics, n - *seen);
    *seen = n;
  }
}

/* Graph's code and message, cut between characters (klog escapes them). */
static const char *reason_of(const mgcall_result *res, char *buf, size_t n)
{
  const char *code = res->error_code, *msg = res->error_message;
  int lc = (int)mgc__text_cut(code, strlen(code), 100);
  int lm = (int)mgc__text_cut(msg, strlen(msg), 150);
  if(res->status)
    snprintf(buf, n, "HTTP %ld%s%.*s%s%.*s", res->status, code[0] ? " " : "",
             lc, code, msg[0] ? ": " : "", lm, msg);
  else
    snprintf(buf, n, "%s%s%.*s", mgcall_strerror(res->code), msg[0] ? ": " : "",
             lm, msg);
  return buf;
}

static void dispatch(struct loop *l, unsigned limit, int64_t now);
static void watch_flow(struct loop *l, int64_t now);

/* ktr_fetch_fn: ask for one tenant's token ahead of expiry (main loop): an
 * early token request on the batch; nothing waits for it. */
static int prefetch(void *ud, const char *tenant, long min_remaining_s,
                    int asked, int *pending, long *remaining_s,
                    long *lifetime_s)
{
  struct loop *l = ud;
  int rc = mgcall_batch_prefetch_token(l->batch, tenant, min_remaining_s,
                                       pending, remaining_s, lifetime_s);
  const char *name = tenant ? tenant : "(default)";
  if(rc)
    klog(KLOG_WARN, NULL, NULL, "token for tenant %s: %s: will try again", name,
         mgcall_client_errmsg(l->client));
  else if(asked && !*pending && min_remaining_s > 0)
    klog(KLOG_INFO, NULL, NULL,
         "token for tenant %s refreshed ahead of expiry (under %ld s "
         "left; the new one: %ld s left, lifetime %ld s)",
         name, min_remaining_s, *remaining_s, *lifetime_s);
  return rc;
}

/* Completion of one keepAlive (runs inside mgcall_batch_run()). */
static void on_done(void *ud, const char *call_id, void *item,
                    const mgcall_result *res)
{
  struct loop *l = ud;
  struct ks_call *c = item;
  struct kcore *k = l->core;
  int64_t now_mono = kcore_mono_ms(), now_wall = kcore_wall_ms();
  pthread_mutex_lock(&k->lock);
  c->in_batch = 0;
  l->in_flight--;
  km_keepalive(k->metrics, res->status);
  kif_done(l->inflight, now_mono, now_mono - c->sent_mono,
           res->status == 429 || res->status == 503 ? KIF_ANSWER_PUSHBACK
           : res->status                            ? KIF_ANSWER_OK
                                                    : KIF_ANSWER_NONE,
           l->in_flight);
  if(res->code == MGCALL_OK) {
    int64_t sent_wall = now_wall - (now_mono - c->sent_mono);
    ks_on_success(k->sched, c, c->sent_mono, sent_wall);
    klog(KLOG_DEBUG, call_id, res->request_id, "kept alive (%ld ms)",
         res->elapsed_ms);
  }
  else if(res->code == MGCALL_E_NOT_FOUND) {
    klog(KLOG_INFO, call_id, res->request_id,
         "keepAlive answered 404: the call has ended");
    if(c->state != KS_ENDED && c->state != KS_LOST &&
       c->heap_idx == KS_NOT_QUEUED && !c->ready)
      kcore_end_locked(k, c, KS_REASON_NOT_FOUND);
  }
  else {
    char why[300];
    reason_of(res, why, sizeof(why));
    int64_t ra = -1; /* Retry-After counts for throttling and unavailability */
    if((res->status == 429 || res->status == 503) && res->retry_after_ms > 0)
      ra = res->retry_after_ms;
    int clamped = 0;
    int lost = ks_on_failure_after(k->sched, c, why, now_mono, ra, &clamped);
    klog(KLOG_WARN, call_id, res->request_id, "keepAlive failed: %s%s", why,
         lost ? "" : "; will retry");
    if(!lost && ra > 0)
      klog(clamped ? KLOG_WARN : KLOG_DEBUG, call_id, res->request_id,
           "Retry-After %lld ms: next attempt in %lld ms%s", (long long)ra,
           (long long)(c->due_mono - now_mono),
           clamped ? " (cut to half the time left before the deadline)" : "");
    if(lost)
      kcore_end_locked(k, c, KS_REASON_LOST);
    else {
      kif_retry(l->inflight, now_mono);
      if(c->state == KS_ACTIVE)
        km_retry(k->metrics);
    }
  }
  /* keep the pipeline full: a slot just freed */
  pthread_mutex_lock(&l->sig_lock);
  int go = l->dispatching && !l->stop && !l->reload;
  pthread_mutex_unlock(&l->sig_lock);
  if(go)
    dispatch(l, kif_target(l->inflight), now_mono);
  pthread_mutex_unlock(&k->lock);
}

/* Hand due calls to the batch while fewer than limit are in flight; beyond
 * it (up to the hard cap) only a deadline-critical (at-risk) call gets its
 * request.  Lock held. */
static void dispatch(struct loop *l, unsigned limit, int64_t now)
{
  struct kcore *k = l->core;
  unsigned cap = kif_max(l->inflight);
  int64_t risk = ks_at_risk_ms(k->sched);
  int retargeted = 0;
  ks_collect_due(k->sched, now);
  for(;;) {
    const struct ks_call *head = ks_peek_ready(k->sched);
    if(!head || l->in_flight >= cap)
      break;
    if(l->in_flight >= limit &&
       ks_deadline_mono(k->sched, head) - now >= risk) {
      if(retargeted)
        break;
      /* due calls wait for the target: size it for them now */
      watch_flow(l, now);
      limit = kif_target(l->inflight);
      retargeted = 1;
      continue;
    }
    struct ks_call *c = ks_next_ready(k->sched);
    km_lateness(k->metrics, now - c->due_mono);
    kif_sent(l->inflight, now, now - c->due_mono);
    ktr_touch(l->tokens, c->tenant_id, now);
    c->sent_mono = now;
    if(mgcall_batch_add(l->batch, c->call_id, c->tenant_id, c)) {
      /* cannot queue (out of memory): count it as a failure */
      if(ks_on_failure(k->sched, c, "cannot queue the request", now))
        kcore_end_locked(k, c, KS_REASON_LOST);
      continue;
    }
    c->in_batch = 1;
    l->in_flight++;
  }
}

/* Once per loop turn (lock held): the controller's figures, its warning,
 * and every KIF_SLOT_MS the metrics' copy. */
static void watch_flow(struct loop *l, int64_t now)
{
  struct ks_sched *s = l->core->sched;
  if(kif_tick(l->inflight, now, ks_scheduled(s), ks_ready_count(s))) {
    char msg[512];
    kif_describe(l->inflight, msg, sizeof(msg));
    klog(KLOG_WARN, NULL, NULL, "%s", msg);
  }
  if(now - l->published < KIF_SLOT_MS)
    return;
  l->published = now;
  struct kif_stats st;
  kif_get_stats(l->inflight, &st);
  struct km_flow f = {
      l->in_flight, st.backlog,    st.target,         st.ceiling,
      st.max,       st.need_per_s, st.achieved_per_s, st.latency_ms / 1000.0,
      st.decreases};
  km_flow(l->core->metrics, &f);
}

static struct loop *the_loop; /* for the signal thread */

static void *signal_thread(void *arg)
{
  sigset_t *set = arg;
  for(;;) {
    int sig;
    if(sigwait(set, &sig))
      continue;
    struct loop *l = the_loop;
    pthread_mutex_lock(&l->sig_lock);
    if(l->quit) {
      pthread_mutex_unlock(&l->sig_lock);
      return NULL;
    }
    if(sig == SIGHUP)
      l->reload = 1;
    else
      l->stop++;
    mgcall_batch *b = l->batch;
    int stop = l->stop;
    if(b)
      mgcall_batch_wakeup(b);
    pthread_mutex_unlock(&l->sig_lock);
    if(stop && sig != SIGHUP)
      klog(KLOG_INFO, NULL, NULL, "%s: finishing in-flight requests",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
  }
  return NULL;
}

static void wake_batch(void *ud)
{
  struct loop *l = ud;
  pthread_mutex_lock(&l->sig_lock);
  if(l->batch)
    mgcall_batch_wakeup(l->batch);
  pthread_mutex_unlock(&l->sig_lock);
}

static int new_batch(const struct keeper_opts *o, struct loop *l,
                     mgcall_client **client, void **handle, unsigned conc,
                     struct mgc_err *err)
{
  char why[1024] = "";
  int rc = o->make_client(o->ud, client, handle, why, sizeof(why));
  if(rc)
    return mgc__err_set(err, rc, "%s", why);
  mgcall_batch *b = NULL;
  rc = mgcall_batch_new(*client, conc, on_done, l, &b);
  if(rc) {
    o->free_client(o->ud, *client, *handle);
    return mgc__err_set(err, rc, "cannot make a batch: %s",
                        mgcall_strerror(rc));
  }
  pthread_mutex_lock(&l->sig_lock);
  l->batch = b;
  pthread_mutex_unlock(&l->sig_lock);
  return MGCALL_OK;
}

static void drop_batch(const struct keeper_opts *o, struct loop *l,
                       mgcall_client *client, void *handle)
{
  pthread_mutex_lock(&l->sig_lock);
  mgcall_batch *b = l->batch;
  l->batch = NULL;
  pthread_mutex_unlock(&l->sig_lock);
  mgcall_batch_free(b);
  o->free_client(o->ud, client, handle);
}

/* Name this keeper; in fleet mode join the fleet (lease.c). */
static int fleet_join(const struct keeper_opts *o, struct kcore *k,
                      unsigned port, struct klease **lease, struct mgc_err *err)
{
  pthread_mutex_lock(&k->lock); /* the control API may read them */
  if(o->node_id)
    snprintf(k->node_id, sizeof(k->node_id), "%s", o->node_id);
  else {
    char host[64] = "keeper";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(k->node_id, sizeof(k->node_id), "%s-%06llx", host,
             (unsigned long long)((uint64_t)kcore_wall_ms() * 2654435761u ^
                                  (uint64_t)getpid() << 20) &
                 0xffffffu);
  }
  const char *listen = o->listen ? o->listen : "127.0.0.1:8787";
  const char *colon = strrchr(listen, ':');
  int hostlen = colon ? (int)(colon - listen) : (int)strlen(listen);
  snprintf(k->api_url, sizeof(k->api_url), "http://%.*s:%u", hostlen, listen,
           port);
  pthread_mutex_unlock(&k->lock);
  if(!k->store->ops->fleet_add)
    return MGCALL_OK;
  struct klease_config lc = {
      o->core.store_url, k->node_id,
      o->lease_ttl_ms ? o->lease_ttl_ms : KLEASE_DEFAULT_TTL_MS, k->api_url};
  return klease_start(&lc, k, lease, err);
}

int keeper_mask_store_password(char *store_url)
{
  return kpg_mask_password(store_url);
}

/* keeper_run() with the error as the keeper's modules give it. */
static int run(const struct keeper_opts *o, struct mgc_err *err)
{
  int64_t flush_ms = o->flush_ms > 0 ? o->flush_ms : 500;
  static struct loop l;
  memset(&l, 0, sizeof(l));
  struct kif_config icfg = {o->concurrency, o->max_concurrency,
                            o->core.sched.interval_ms};
  l.inflight = kif_new(&icfg, kcore_mono_ms());
  if(!l.inflight)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  unsigned conc = kif_max(l.inflight); /* the batch's cap */
  pthread_mutex_init(&l.sig_lock, NULL);
  the_loop = &l;

  /* Signals: blocked everywhere, taken by one thread with sigwait(). */
  static sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  int rc = kcore_open(&o->core, &l.core, err);
  if(rc) {
    kif_free(l.inflight);
    return rc;
  }
  klog(KLOG_INFO, NULL, NULL, "store: %zu active calls loaded", l.core->loaded);
  mgcall_client *client = NULL;
  void *handle = NULL;
  rc = new_batch(o, &l, &client, &handle, conc, err);
  if(rc) {
    kcore_free(l.core);
    kif_free(l.inflight);
    return rc;
  }
  l.client = client;
  l.tokens = ktr_new(2 * o->core.sched.deadline_ms);
  l.core->wake = wake_batch;
  l.core->wake_ud = &l;
  struct kapi *api = NULL;
  unsigned port = 0;
  struct kna *nauth = NULL;
  if(o->notification_app_ids) {
    struct kna_config nc = {o->notification_app_ids, o->notification_openid_url,
                            o->core.hooks.cacert, 0};
    rc = (nauth = kna_new(&nc, err)) ? MGCALL_OK : err->code;
    if(!rc && kna_start(nauth))
      rc = mgc__err_set(err, MGCALL_E_INTERNAL,
                        "cannot start the notification key thread");
  }
  if(!rc)
    rc = kapi_start(o->listen, o->api_token, nauth, o->allowed_hosts, l.core,
                    &api, &port, err);
  struct klease *lease = NULL;
  if(!rc && fleet_join(o, l.core, port, &lease, err))
    rc = MGCALL_E_INTERNAL;
  pthread_t sigthr;
  int perr = rc ? 0 : pthread_create(&sigthr, NULL, signal_thread, &set);
  if(perr) /* signals are blocked: without it SIGTERM would do nothing */
    rc = mgc__err_set(err, MGCALL_E_INTERNAL,
                      "cannot start the signal thread: %s", strerror(perr));
  if(rc) { /* undo the start, in the order of the stop below */
    if(api)
      kapi_stop(api);
    kna_free(nauth);
    drop_batch(o, &l, client, handle);
    klease_stop(lease);
    kcore_free(l.core);
    ktr_free(l.tokens);
    kif_free(l.inflight);
    return rc;
  }
  if(o->concurrency)
    klog(KLOG_INFO, NULL, NULL,
         "keeping calls alive; control API on port %u (concurrency %u)", port,
         conc);
  else
    klog(KLOG_INFO, NULL, NULL,
         "keeping calls alive; control API on port %u (requests in flight "
         "sized by demand, %u to %u)",
         port, kif_target(l.inflight), conc);
  NOTIFY("READY=1");

  unsigned long tok_seen = 0;
  int64_t last_flush = kcore_mono_ms();
  int stopping = 0, reloading = 0;
  for(;;) {
    pthread_mutex_lock(&l.sig_lock);
    if(l.stop && !stopping) {
      stopping = 1;
      NOTIFY("STOPPING=1");
    }
    if(l.reload && !reloading) {
      reloading = 1;
      l.reload = 0;
      NOTIFY("RELOADING=1");
      klog(KLOG_INFO, NULL, NULL, "SIGHUP: reloading credentials");
    }
    int force = l.stop > 1;
    pthread_mutex_unlock(&l.sig_lock);
    if(stopping && api) {
      kapi_stop(api); /* stop taking work */
      api = NULL;
    }

    int64_t now = kcore_mono_ms();
    pthread_mutex_lock(&l.core->lock);
    l.dispatching = !stopping && !reloading;
    if(l.dispatching)
      dispatch(&l, kif_target(l.inflight), now);
    watch_flow(&l, now);
    if(now - last_flush >= flush_ms) {
      struct mgc_err ferr = {0};
      if(kcore_flush_locked(l.core, &ferr))
        klog(KLOG_ERROR, NULL, NULL, "%s", ferr.msg);
      last_flush = now;
    }
    int64_t wait = ks_wait_ms(l.core->sched, now);
    size_t in_flight = l.in_flight;
    pthread_mutex_unlock(&l.core->lock);

    if((stopping && (!in_flight || force)))
      break;
    if(reloading && !in_flight) {
      mgcall_client *nc = NULL;
      void *nh = NULL;
      struct mgc_err rerr = {0};
      mgcall_client *oc = client;
      void *oh = handle;
      pthread_mutex_lock(&l.sig_lock);
      mgcall_batch *ob = l.batch;
      l.batch = NULL;
      pthread_mutex_unlock(&l.sig_lock);
      if(new_batch(o, &l, &nc, &nh, conc, &rerr)) {
        klog(KLOG_ERROR, NULL, NULL,
             "SIGHUP: %s: keeping the previous credentials", rerr.msg);
        pthread_mutex_lock(&l.sig_lock);
        l.batch = ob;
        pthread_mutex_unlock(&l.sig_lock);
      }
      else {
        mgcall_batch_free(ob);
        count_tokens(&l, oc, &tok_seen);
        tok_seen = 0;
        o->free_client(o->ud, oc, oh);
        client = nc;
        l.client = nc;
        handle = nh;
        klog(KLOG_INFO, NULL, NULL, "SIGHUP: credentials reloaded");
      }
      reloading = 0;
      NOTIFY("READY=1");
      continue;
    }
    /* ask for tokens ahead of expiry: requests on the batch, carried out
     * by mgcall_batch_run() below like keepAlives */
    if(!stopping && !reloading)
      ktr_run(l.tokens, kcore_mono_ms(), prefetch, &l);
    int timeout = 1000;
    if(!stopping && !reloading && wait >= 0 && wait < timeout &&
       (l.in_flight < kif_target(l.inflight)))
      timeout = (int)wait;
    if(timeout > flush_ms)
      timeout = (int)flush_ms;
    int brc = mgcall_batch_run(l.batch, timeout);
    count_tokens(&l, client, &tok_seen);
    if(brc) {
      klog(KLOG_ERROR, NULL, NULL, "batch: %s", mgcall_strerror(brc));
      struct timespec ts = {0, 100 * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
  if(api)
    kapi_stop(api);
  kna_free(nauth);
  drop_batch(o, &l, client, handle);
  klease_stop(lease); /* writes progress, hands the shards over */
  kcore_free(l.core); /* flushes, finishes hooks */
  ktr_free(l.tokens);
  kif_free(l.inflight);
  /* end the signal thread: it takes this SIGTERM and sees quit */
  pthread_mutex_lock(&l.sig_lock);
  l.quit = 1;
  pthread_mutex_unlock(&l.sig_lock);
  pthread_kill(sigthr, SIGTERM);
  pthread_join(sigthr, NULL);
  klog(KLOG_INFO, NULL, NULL, "stopped");
  return MGCALL_OK;
}

int keeper_run(const struct keeper_opts *o, char *errbuf, size_t errlen)
{
  struct mgc_err err;
  mgc__err_clear(&err);
  int rc = run(o, &err);
  if(errbuf && errlen)
    snprintf(errbuf, errlen, "%s", rc ? err.msg : "");
  return rc;
}
