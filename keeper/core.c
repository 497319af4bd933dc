/* SPDX-License-Identifier: MIT */
/* core.c - schedule + store + metrics + hooks behind one mutex. */
#include "core.h"

#include "log.h"
#include "mgcx.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t kcore_mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kcore_wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int restore_row(void *ud, const struct kstore_call *r)
{
  struct kcore *k = ud;
  int64_t now_mono = kcore_mono_ms(), now_wall = kcore_wall_ms();
  struct ks_call *c = ks_restore(
      k->sched, r->call_id, r->tenant_id, r->added_ms, r->started_ms,
      r->last_success_ms, r->failures, r->last_error, now_mono, now_wall);
  if(c)
    k->loaded++;
  else
    klog(KLOG_WARN, r->call_id, NULL,
         "not restored (duplicate, bad id or "
         "out of memory)");
  return 0;
}

int kcore_open(const struct kcore_config *cfg, struct kcore **out,
               struct mgc_err *err)
{
  *out = NULL;
  struct kcore *k = calloc(1, sizeof(*k));
  if(!k)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  pthread_mutex_init(&k->lock, NULL);
  pthread_mutex_init(&k->store_lock, NULL);
  uint64_t seed =
      cfg->seed ? cfg->seed
                : (uint64_t)kcore_wall_ms() ^ ((uint64_t)kcore_mono_ms() << 20);
  k->sched = ks_sched_new(&cfg->sched, seed);
  k->metrics = km_new();
  if(!k->sched || !k->metrics) {
    kcore_free(k);
    return mgc__err_set(err, MGCALL_E_USAGE,
                        "--interval must be shorter than --deadline and "
                        "--jitter at most 50");
  }
  int rc = kstore_open(cfg->store_url, &k->store, err);
  if(rc) {
    kcore_free(k);
    return rc;
  }
  rc = k->store->ops->load_active(k->store, restore_row, k, err);
  if(rc) {
    kcore_free(k);
    return rc;
  }
  char why[256] = "";
  rc = khooks_new(&cfg->hooks, k->metrics, k->store, &k->store_lock, &k->hooks,
                  why, sizeof(why));
  if(rc) {
    kcore_free(k);
    return mgc__err_set(err, rc, "%s", why);
  }
  k->writer = kwriter_new(k->store, &k->store_lock, k->hooks);
  k->retention = kret_start(
      k->store, &k->store_lock,
      cfg->retention_ms > 0 ? cfg->retention_ms : KCORE_RETENTION_MS, NULL);
  if(!k->writer || !k->retention) {
    kcore_free(k);
    return mgc__err_set(err, MGCALL_E_INTERNAL,
                        "cannot start the store "
                        "writer");
  }
  *out = k;
  return MGCALL_OK;
}

void kcore_free(struct kcore *k)
{
  if(!k)
    return;
  if(k->writer && k->sched) { /* the last progress, then drain */
    struct mgc_err err = {0};
    pthread_mutex_lock(&k->lock);
    struct kwjob *j = kcore_flush_durable_locked(k, &err);
    pthread_mutex_unlock(&k->lock);
    if(j && kwriter_wait(k->writer, j, &err))
      klog(KLOG_ERROR, NULL, NULL, "%s", err.msg);
  }
  kwriter_free(k->writer);
  kret_stop(k->retention);
  khooks_free(k->hooks); /* the due hooks, for at most --stop-timeout */
  kstore_close(k->store);
  pthread_mutex_destroy(&k->store_lock);
  ks_sched_free(k->sched);
  km_free(k->metrics);
  pthread_mutex_destroy(&k->lock);
  free(k);
}

void kcore_row_locked(const struct kcore *k, const struct ks_call *c,
                      int64_t now_mono, int64_t now_wall, struct kstore_call *r)
{
  memset(r, 0, sizeof(*r));
  r->call_id = c->call_id;
  r->tenant_id = c->tenant_id;
  r->state = ks_state_name(ks_state_at(k->sched, c, now_mono));
  r->reason = c->reason ? ks_reason_name((enum ks_reason)c->reason) : NULL;
  r->last_error = c->last_error;
  r->added_ms = c->added_wall;
  r->started_ms = c->started_wall;
  r->last_success_ms = c->last_success_wall;
  r->next_due_ms = ks_next_due_wall(c, now_mono, now_wall);
  r->ended_ms = c->ended_wall;
  r->failures = c->failures;
  if(k->fleet)
    r->term = k->fleet->term_of(k->fleet->ud, c->call_id);
}

static void redirty(struct kcore *k, struct ks_call *d);

/* Rows of every dirty call (pointers into the calls: valid while the lock
 * is held), the dirty list handed over in *taken.  NULL when none or out of
 * memory (then *taken is NULL too and the calls stay dirty). */
static struct kstore_call *dirty_rows(struct kcore *k, size_t *n,
                                      struct ks_call **taken)
{
  *n = 0;
  *taken = NULL;
  struct ks_call *d = ks_take_dirty(k->sched);
  if(!d)
    return NULL;
  for(struct ks_call *c = d; c; c = c->next_dirty)
    (*n)++;
  struct kstore_call *rows = malloc(*n * sizeof(*rows));
  if(!rows) {
    redirty(k, d);
    *n = 0;
    return NULL;
  }
  int64_t now_mono = kcore_mono_ms(), now_wall = kcore_wall_ms();
  size_t i = 0;
  for(struct ks_call *c = d; c; c = c->next_dirty)
    kcore_row_locked(k, c, now_mono, now_wall, &rows[i++]);
  *taken = d;
  return rows;
}

static void redirty(struct kcore *k, struct ks_call *d)
{
  while(d) {
    struct ks_call *next = d->next_dirty;
    ks_mark_dirty(k->sched, d);
    d = next;
  }
}

int kcore_flush_locked(struct kcore *k, struct mgc_err *err)
{
  if(kwriter_backlog(k->writer) >= KWRITER_MAX_BACKLOG)
    return mgc__err_set(err, MGCALL_E_INTERNAL,
                        "store: writes are backing up: the disk is slow");
  size_t n, nhooks;
  struct ks_call *taken;
  struct kstore_call *rows = dirty_rows(k, &n, &taken);
  struct kstore_hook *hooks = khooks_take(k->hooks, &nhooks);
  if(!rows && !hooks)
    return MGCALL_OK;
  int rc = kwriter_put(k->writer, rows, n, hooks, nhooks, err);
  free(rows);
  if(rc) {
    redirty(k, taken);
    khooks_unstage(k->hooks, hooks, nhooks);
  }
  return rc;
}

struct kwjob *kcore_flush_durable_locked(struct kcore *k, struct mgc_err *err)
{
  size_t n, nhooks;
  struct ks_call *taken;
  struct kstore_call *rows = dirty_rows(k, &n, &taken);
  struct kstore_hook *hooks = khooks_take(k->hooks, &nhooks);
  if(!rows && !hooks)
    return NULL;
  struct kwjob *j = kwriter_put_durable(k->writer, rows, n, hooks, nhooks, err);
  free(rows);
  if(!j) {
    redirty(k, taken);
    khooks_unstage(k->hooks, hooks, nhooks);
  }
  return j;
}

struct doomed {
  struct ks_call **v;
  size_t n, cap;
};

static void pick_terminal(void *ud, struct ks_call *c)
{
  struct doomed *d = ud;
  if((c->state == KS_ENDED || c->state == KS_LOST) && !c->dirty &&
     !c->in_batch && d->n < d->cap)
    d->v[d->n++] = c;
}

/* Forget clean (already written) terminal calls when too many are held. */
static void sweep_terminal(struct kcore *k)
{
  if(k->terminal <= KCORE_MAX_TERMINAL)
    return;
  struct doomed d = {malloc(k->terminal * sizeof(struct ks_call *)), 0,
                     k->terminal};
  if(!d.v)
    return;
  /* collect first: ks_forget() changes the hash being walked */
  ks_foreach(k->sched, pick_terminal, &d);
  for(size_t i = 0; i < d.n; i++)
    ks_forget(k->sched, d.v[i]);
  k->terminal -= d.n;
  free(d.v);
}

void kcore_end_locked(struct kcore *k, struct ks_call *c, enum ks_reason reason)
{
  kcore_end_at_locked(k, c, reason, kcore_wall_ms());
}

void kcore_end_at_locked(struct kcore *k, struct ks_call *c,
                         enum ks_reason reason, int64_t ended_wall)
{
  if(ks_end(k->sched, c, reason))
    return;
  c->ended_wall = ended_wall;
  k->terminal++;
  km_ended(k->metrics, reason);
  klog(reason == KS_REASON_LOST ? KLOG_ERROR : KLOG_INFO, c->call_id, NULL,
       "%s (reason %s)", reason == KS_REASON_LOST ? "lost" : "ended",
       ks_reason_name(reason));
  /* written with the end (next flush), in one transaction */
  khooks_stage(k->hooks, c->call_id, c->tenant_id, ks_reason_name(reason),
               c->ended_wall);
  sweep_terminal(k);
}

/* Fleet mode: registrations go to the store, durable, and the owner of
 * each call's shard (maybe this keeper) picks them up from there. */
static int fleet_add(struct kcore *k, const struct kcore_reg *regs, size_t n,
                     int *created, struct mgc_err *err)
{
  struct kstore_call *rows = calloc(n ? n : 1, sizeof(*rows));
  if(!rows)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  int64_t now_wall = kcore_wall_ms();
  for(size_t i = 0; i < n; i++) {
    rows[i].call_id = regs[i].call_id;
    rows[i].tenant_id = regs[i].tenant_id;
    rows[i].state = "active";
    rows[i].added_ms = now_wall;
    rows[i].started_ms = regs[i].started_ms;
  }
  pthread_mutex_lock(&k->store_lock);
  int rc = k->store->ops->fleet_add(k->store, rows, n, created, err);
  pthread_mutex_unlock(&k->store_lock);
  free(rows);
  return rc;
}

int kcore_add(struct kcore *k, const struct kcore_reg *regs, size_t n,
              int *created, struct mgc_err *err)
{
  if(k->store->ops->fleet_add)
    return fleet_add(k, regs, n, created, err);
  int64_t now_mono = kcore_mono_ms(), now_wall = kcore_wall_ms();
  struct kstore_call *rows = calloc(n ? n : 1, sizeof(*rows));
  size_t *fresh = calloc(n ? n : 1, sizeof(*fresh)); /* indices into regs */
  if(!rows || !fresh) {
    free(rows);
    free(fresh);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  size_t nrows = 0, nfresh = 0;
  int rc = MGCALL_OK;
  pthread_mutex_lock(&k->lock);
  for(size_t i = 0; i < n; i++) {
    int is_new = 0;
    struct ks_call *old = ks_find(k->sched, regs[i].call_id);
    int was_terminal = old && (old->state == KS_ENDED || old->state == KS_LOST);
    struct ks_call *c =
        ks_track(k->sched, regs[i].call_id, regs[i].tenant_id,
                 regs[i].started_ms, now_mono, now_wall, &is_new);
    if(!c) {
      rc = mgc__err_set(err, MGCALL_E_INTERNAL,
                        "cannot track call '%s': out of memory or too "
                        "many calls",
                        regs[i].call_id);
      break;
    }
    if(was_terminal && k->terminal)
      k->terminal--;
    if(created)
      created[i] = is_new;
    if(is_new) {
      if(!old)
        fresh[nfresh++] = i; /* revived calls stay on failure */
      kcore_row_locked(k, c, now_mono, now_wall, &rows[nrows++]);
    }
  }
  struct kwjob *job = NULL;
  if(!rc && nrows) {
    job = kwriter_put_durable(k->writer, rows, nrows, NULL, 0, err);
    if(!job)
      rc = MGCALL_E_INTERNAL;
  }
  pthread_mutex_unlock(&k->lock);
  /* durable before acknowledged; the lock is not held while the disk works */
  if(job)
    rc = kwriter_wait(k->writer, job, err);
  pthread_mutex_lock(&k->lock);
  if(rc) { /* nothing acknowledged: drop the calls this request added */
    for(size_t i = 0; i < nfresh; i++) {
      struct ks_call *c = ks_find(k->sched, regs[fresh[i]].call_id);
      if(!c)
        continue;
      if(c->in_batch) /* a request is out: its answer will be ignored */
        ks_end(k->sched, c, KS_REASON_REMOVED);
      else
        ks_forget(k->sched, c);
    }
  }
  else if(nrows && k->wake)
    k->wake(k->wake_ud);
  pthread_mutex_unlock(&k->lock);
  free(rows);
  free(fresh);
  return rc;
}

int kcore_end(struct kcore *k, const char *call_id, enum ks_reason reason,
              int *was_live, struct mgc_err *err)
{
  if(k->store->ops->fleet_end) { /* the owner acts on it (lease.c) */
    pthread_mutex_lock(&k->store_lock);
    int rc = k->store->ops->fleet_end(k->store, call_id, ks_reason_name(reason),
                                      kcore_wall_ms(), was_live, err);
    pthread_mutex_unlock(&k->store_lock);
    return rc;
  }
  pthread_mutex_lock(&k->lock);
  struct ks_call *c = ks_find(k->sched, call_id);
  if(!c) {
    pthread_mutex_unlock(&k->lock);
    /* not in memory: maybe an old call only the store knows */
    return mgc__err_set(err, MGCALL_E_NOT_FOUND, "call '%s' is not tracked",
                        call_id);
  }
  int live = c->state != KS_ENDED && c->state != KS_LOST;
  if(was_live)
    *was_live = live;
  struct kwjob *job = NULL;
  if(live) {
    kcore_end_locked(k, c, reason);
    job = kcore_flush_durable_locked(k, err);
    if(!job) {
      pthread_mutex_unlock(&k->lock);
      return MGCALL_E_INTERNAL;
    }
  }
  pthread_mutex_unlock(&k->lock);
  return job ? kwriter_wait(k->writer, job, err) : MGCALL_OK;
}

int kcore_end_many(struct kcore *k, const char *const *call_ids, size_t n,
                   enum ks_reason reason, size_t *ended, struct mgc_err *err)
{
  size_t live = 0;
  if(k->store->ops->fleet_end) { /* the owner of each acts on it (lease.c) */
    int rc = MGCALL_OK;
    pthread_mutex_lock(&k->store_lock);
    for(size_t i = 0; i < n && !rc; i++) {
      int was_live = 0;
      rc = k->store->ops->fleet_end(k->store, call_ids[i],
                                    ks_reason_name(reason), kcore_wall_ms(),
                                    &was_live, err);
      if(rc == MGCALL_E_NOT_FOUND) /* unknown: skipped */
        rc = MGCALL_OK;
      live += (size_t)was_live;
    }
    pthread_mutex_unlock(&k->store_lock);
    if(ended)
      *ended = live;
    return rc;
  }
  struct kwjob *job = NULL;
  pthread_mutex_lock(&k->lock);
  for(size_t i = 0; i < n; i++) {
    struct ks_call *c = ks_find(k->sched, call_ids[i]);
    if(c && c->state != KS_ENDED && c->state != KS_LOST) {
      kcore_end_locked(k, c, reason);
      live++;
    }
  }
  if(live && !(job = kcore_flush_durable_locked(k, err))) {
    pthread_mutex_unlock(&k->lock);
    return MGCALL_E_INTERNAL;
  }
  pthread_mutex_unlock(&k->lock);
  if(ended)
    *ended = live;
  return job ? kwriter_wait(k->writer, job, err) : MGCALL_OK;
}

static void put_time(json_t *o, const char *key, int64_t ms)
{
  char buf[40];
  json_object_set_new(
      o, key,
      ms > 0 ? json_string(mgcx_rfc3339_format(ms, 1, buf, sizeof(buf)))
             : json_null());
}

static json_t *call_json(struct kcore *k, const struct ks_call *c,
                         int64_t now_mono, int64_t now_wall)
{
  enum ks_state st = ks_state_at(k->sched, c, now_mono);
  json_t *o = json_object();
  if(!o)
    return NULL;
  json_object_set_new(o, "callId", json_string(c->call_id));
  json_object_set_new(o, "tenantId",
                      c->tenant_id ? json_string(c->tenant_id) : json_null());
  json_object_set_new(o, "state", json_string(ks_state_name(st)));
  json_object_set_new(
      o, "reason",
      c->reason ? json_string(ks_reason_name((enum ks_reason)c->reason))
                : json_null());
  put_time(o, "added", c->added_wall);
  put_time(o, "startedAt", c->started_wall);
  put_time(o, "lastSuccess", c->last_success_wall);
  put_time(o, "nextDue", ks_next_due_wall(c, now_mono, now_wall));
  int live = st == KS_ACTIVE || st == KS_AT_RISK;
  put_time(o, "deadline",
           live ? now_wall + (ks_deadline_mono(k->sched, c) - now_mono) : 0);
  put_time(o, "ended", c->ended_wall);
  json_object_set_new(o, "consecutiveFailures", json_integer(c->failures));
  json_object_set_new(o, "lastError",
                      c->last_error ? json_string(c->last_error) : json_null());
  return o;
}

static int row_json(void *ud, const struct kstore_call *r)
{
  json_t **out = ud;
  struct kstore_call shown = *r;
  shown.next_due_ms = 0; /* the stored value is not kept current */
  *out = kcore_row_json(&shown, 0);
  return 1;
}

json_t *kcore_row_json(const struct kstore_call *r, int64_t deadline_ms)
{
  json_t *o = json_object();
  if(!o)
    return NULL;
  json_object_set_new(o, "callId", json_string(r->call_id));
  json_object_set_new(o, "tenantId",
                      r->tenant_id ? json_string(r->tenant_id) : json_null());
  json_object_set_new(o, "state", json_string(r->state ? r->state : ""));
  json_object_set_new(o, "reason",
                      r->reason ? json_string(r->reason) : json_null());
  put_time(o, "added", r->added_ms);
  put_time(o, "startedAt", r->started_ms);
  put_time(o, "lastSuccess", r->last_success_ms);
  put_time(o, "nextDue", r->next_due_ms);
  put_time(o, "deadline", deadline_ms);
  put_time(o, "ended", r->ended_ms);
  json_object_set_new(o, "consecutiveFailures", json_integer(r->failures));
  json_object_set_new(o, "lastError",
                      r->last_error ? json_string(r->last_error) : json_null());
  return o;
}

json_t *kcore_call_json(struct kcore *k, const char *call_id)
{
  int64_t now_mono = kcore_mono_ms(), now_wall = kcore_wall_ms();
  json_t *o = NULL;
  pthread_mutex_lock(&k->lock);
  struct ks_call *c = ks_find(k->sched, call_id);
  if(c)
    o = call_json(k, c, now_mono, now_wall);
  pthread_mutex_unlock(&k->lock);
  if(!c) { /* an old call: ask the store (not under the keeper's lock) */
    struct mgc_err err = {0};
    pthread_mutex_lock(&k->store_lock);
    k->store->ops->get(k->store, call_id, row_json, &o, &err);
    pthread_mutex_unlock(&k->store_lock);
  }
  return o;
}

json_t *kcore_fleet_json(struct kcore *k)
{
  size_t states[4];
  char node_id[sizeof(k->node_id)], api_url[sizeof(k->api_url)];
  pthread_mutex_lock(&k->lock);
  const struct kcore_fleet *fleet = k->fleet;
  ks_count_states(k->sched, kcore_mono_ms(), states);
  memcpy(node_id, k->node_id, sizeof(node_id));
  memcpy(api_url, k->api_url, sizeof(api_url));
  pthread_mutex_unlock(&k->lock);
  if(fleet)
    return fleet->members_json(fleet->ud);
  return json_pack("{s:[{s:s,s:s?,s:i,s:i,s:I,s:b}],s:i}", "members", "nodeId",
                   node_id, "apiUrl", api_url[0] ? api_url : NULL,
                   "heartbeatAgeMs", 0, "shards", 1, "calls",
                   (json_int_t)(states[KS_ACTIVE] + states[KS_AT_RISK]), "self",
                   1, "shards", 1);
}

char *kcore_metrics_text(struct kcore *k)
{
  size_t states[4];
  int64_t now = kcore_mono_ms();
  pthread_mutex_lock(&k->lock);
  ks_count_states(k->sched, now, states);
  int64_t left = ks_min_time_left(k->sched, now);
  const struct kcore_fleet *fleet = k->fleet;
  pthread_mutex_unlock(&k->lock);
  char *text = km_render(k->metrics, states, left);
  if(text && fleet) {
    char *more = fleet->metrics_text(fleet->ud);
    char *both = more ? malloc(strlen(text) + strlen(more) + 1) : NULL;
    if(both) {
      strcpy(both, text);
      strcat(both, more);
    }
    free(more);
    free(text);
    text = both;
  }
  return text;
}
