/* SPDX-License-Identifier: MIT */
/* lease.c - shard leases, adoption, and the fleet view (see lease.h). */
#include "lease.h"

#include "log.h"
#include "pg.h"
#include "store_pg.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSHARDS KSTORE_PG_SHARDS
/* How often the registrations and removals of other nodes are read. */
#define POLL_MS 200
/* Longest time between two renewals (and looks for expired shards). */
#define TICK_MAX_MS 5000
/* after another member's leases expire (its heartbeat age from the
 * database's clock): the round trip is already past, this is for rounding */
#define EXPIRY_MARGIN_MS 20

static const double renew_buckets_s[] = {0.001, 0.005, 0.01, 0.025, 0.05,
                                         0.1,   0.25,  0.5,  1,     2.5};
#define NRB (sizeof(renew_buckets_s) / sizeof(renew_buckets_s[0]))

struct klease {
  struct kcore *core;
  struct kpg *pg;
  char *node_id, *api_url;
  int64_t ttl_ms;
  struct kcore_fleet hooks;
  /* under core->lock: the term of each shard held, 0 = not held */
  int64_t terms[NSHARDS];
  /* under core->lock: shards lost or given up whose calls are still sent
   * (never written) until their new owner has written progress for them:
   * the term this keeper had, 0 = none */
  int64_t handing[NSHARDS];
  /* lease thread: shards taken whose calls could not be loaded yet */
  unsigned char unloaded[NSHARDS];
  /* calls dropped while a request was out: forgotten once it is back
   * (core->lock) */
  char **ghosts;
  size_t nghosts, capghosts;
  /* under lock: the fleet view and the metrics */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int stopping;
  json_t *members; /* from the last renewal */
  uint64_t renew_buckets[NRB], renew_count, adopted, lost;
  double renew_sum_s;
  size_t live_members, held;
  int down; /* the last renewal failed */
  /* lease thread: ms from the last read of the members until the first
   * other member's heartbeat (and with it its leases, renewed in the same
   * statement) expires, -1 = none */
  int64_t next_expiry_ms;
  pthread_t thread;
};

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int shard_of(const char *call_id)
{
  return (int)kstore_pg_shard(call_id, NSHARDS);
}

/* ---- hooks into the core ---- */

static int64_t term_of(void *ud, const char *call_id)
{
  struct klease *l = ud;
  return l->terms[shard_of(call_id)];
}

static json_t *members_json(void *ud)
{
  struct klease *l = ud;
  pthread_mutex_lock(&l->lock);
  json_t *m = l->members ? json_deep_copy(l->members) : json_array();
  pthread_mutex_unlock(&l->lock);
  return json_pack("{s:o,s:i}", "members", m ? m : json_array(), "shards",
                   NSHARDS);
}

static char *metrics_text(void *ud)
{
  struct klease *l = ud;
  size_t cap = 4096, len = 0;
  char *out = malloc(cap);
  if(!out)
    return NULL;
  pthread_mutex_lock(&l->lock);
#define PUT(...)                                                               \
  do {                                                                         \
    int w_ = snprintf(out + len, cap - len, __VA_ARGS__);                      \
    if(w_ > 0 && (size_t)w_ < cap - len)                                       \
      len += (size_t)w_;                                                       \
  } while(0)
  PUT("# HELP mgcall_keeper_fleet_members Live keepers in the fleet (as seen "
      "at the last lease renewal).\n"
      "# TYPE mgcall_keeper_fleet_members gauge\n"
      "mgcall_keeper_fleet_members %zu\n"
      "# HELP mgcall_keeper_shards_held Shards this keeper holds by lease.\n"
      "# TYPE mgcall_keeper_shards_held gauge\n"
      "mgcall_keeper_shards_held %zu\n"
      "# HELP mgcall_keeper_lease_renewal_seconds Time one renewal of every "
      "lease held took.\n"
      "# TYPE mgcall_keeper_lease_renewal_seconds histogram\n",
      l->live_members, l->held);
  for(size_t i = 0; i < NRB; i++) /* cumulative: see renew() */
    PUT("mgcall_keeper_lease_renewal_seconds_bucket{le=\"%g\"} %llu\n",
        renew_buckets_s[i], (unsigned long long)l->renew_buckets[i]);
  PUT("mgcall_keeper_lease_renewal_seconds_bucket{le=\"+Inf\"} %llu\n"
      "mgcall_keeper_lease_renewal_seconds_sum %.6f\n"
      "mgcall_keeper_lease_renewal_seconds_count %llu\n"
      "# HELP mgcall_keeper_calls_adopted_total Calls taken over from a "
      "keeper whose lease expired.\n"
      "# TYPE mgcall_keeper_calls_adopted_total counter\n"
      "mgcall_keeper_calls_adopted_total %llu\n"
      "# HELP mgcall_keeper_leases_lost_total Shards found taken by another "
      "keeper (their calls dropped).\n"
      "# TYPE mgcall_keeper_leases_lost_total counter\n"
      "mgcall_keeper_leases_lost_total %llu\n",
      (unsigned long long)l->renew_count, l->renew_sum_s,
      (unsigned long long)l->renew_count, (unsigned long long)l->adopted,
      (unsigned long long)l->lost);
#undef PUT
  pthread_mutex_unlock(&l->lock);
  return out;
}

/* ---- dropping and adopting calls (core->lock held) ---- */

static int is_live(const struct ks_call *c)
{
  return c->state != KS_ENDED && c->state != KS_LOST;
}

static int ghost_index(const struct klease *l, const char *call_id)
{
  for(size_t i = 0; i < l->nghosts; i++)
    if(!strcmp(l->ghosts[i], call_id))
      return (int)i;
  return -1;
}

static void ghost_remove(struct klease *l, size_t i)
{
  free(l->ghosts[i]);
  l->ghosts[i] = l->ghosts[--l->nghosts];
}

static void ghost_add(struct klease *l, const char *call_id)
{
  if(l->nghosts == l->capghosts) {
    size_t cap = l->capghosts ? l->capghosts * 2 : 64;
    char **g = realloc(l->ghosts, cap * sizeof(*g));
    if(!g)
      return; /* stays in memory as ended: harmless */
    l->ghosts = g;
    l->capghosts = cap;
  }
  char *id = strdup(call_id);
  if(id)
    l->ghosts[l->nghosts++] = id;
}

struct drop_set {
  int (*pick)(void *ud, const struct ks_call *c);
  void *ud;
  struct ks_call **v;
  size_t n, cap;
};

static void pick_dropped(void *ud, struct ks_call *c)
{
  struct drop_set *d = ud;
  if(!d->pick(d->ud, c))
    return;
  if(d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 256;
    struct ks_call **v = realloc(d->v, cap * sizeof(*v));
    if(!v)
      return;
    d->v = v;
    d->cap = cap;
  }
  d->v[d->n++] = c;
}

/* Forget every call pick(ud, c) chooses (the same answer every time it is
 * asked); returns how many. */
static size_t drop_where(struct klease *l,
                         int (*pick)(void *ud, const struct ks_call *c),
                         void *ud)
{
  struct kcore *k = l->core;
  struct drop_set d = {pick, ud, NULL, 0, 0};
  ks_foreach(k->sched, pick_dropped, &d);
  for(size_t i = 0; i < d.n; i++) {
    struct ks_call *c = d.v[i];
    int g = ghost_index(l, c->call_id);
    if(c->in_batch) { /* its answer must find it: forget it later */
      if(is_live(c))
        ks_end(k->sched, c, KS_REASON_REMOVED);
      if(g < 0)
        ghost_add(l, c->call_id);
      continue;
    }
    if(!is_live(c) && g < 0 && k->terminal)
      k->terminal--;
    if(g >= 0)
      ghost_remove(l, (size_t)g);
  }
  /* the rest in one pass (one by one would walk the lists per call) */
  ks_forget_if(k->sched, pick, ud);
  free(d.v);
  return d.n;
}

/* Stop writing for the marked shards but keep sending their calls until
 * their new owner is seen keeping them (settle_handovers): a shard's new
 * owner may not load its calls at once (a database that just came back, a
 * connection cut), and a duplicate keepAlive is harmless where a missed
 * one is not.  Returns how many calls stay in memory for them. */
struct count_set {
  const unsigned char *shards;
  size_t n;
};

static void count_marked(void *ud, struct ks_call *c)
{
  struct count_set *cs = ud;
  cs->n += cs->shards[shard_of(c->call_id)] != 0;
}

static size_t hand_over(struct klease *l, const unsigned char *shards)
{
  for(int s = 0; s < NSHARDS; s++)
    if(shards[s]) {
      if(l->terms[s])
        l->handing[s] = l->terms[s];
      l->terms[s] = 0; /* from now on nothing is written for them */
    }
  struct count_set cs = {shards, 0};
  ks_foreach(l->core->sched, count_marked, &cs);
  return cs.n;
}

/* settle_handovers: the calls of handed-over shards the database says are
 * still ours to send (active, no write under a later term yet), sorted. */
struct settle {
  unsigned char mask[NSHARDS]; /* handing shards asked about */
  unsigned char kept[NSHARDS]; /* ... with a call still ours */
  const char **keep;
  size_t nkeep;
};

static int cmp_id(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int handed(void *ud, const struct ks_call *c)
{
  const struct settle *st = ud;
  if(!st->mask[shard_of(c->call_id)])
    return 0;
  const char *id = c->call_id;
  return !st->nkeep ||
         !bsearch(&id, st->keep, st->nkeep, sizeof(*st->keep), cmp_id);
}

/* Forget the calls of handed-over shards that their new owner has written
 * progress for (or that ended or went from the store); a shard whose calls
 * are all gone is handed over.  On any error everything stays (sending). */
static void settle_handovers(struct klease *l)
{
  struct kcore *k = l->core;
  struct settle st = {0};
  int64_t asked[NSHARDS] = {0};
  struct kpg_array sh, tm;
  kpg_array_init(&sh);
  kpg_array_init(&tm);
  size_t n = 0;
  pthread_mutex_lock(&k->lock);
  for(int s = 0; s < NSHARDS; s++)
    if(l->handing[s]) {
      asked[s] = l->handing[s];
      kpg_array_int(&sh, s);
      kpg_array_int(&tm, l->handing[s]);
      n++;
    }
  pthread_mutex_unlock(&k->lock);
  const char *p[] = {n ? kpg_array_text(&sh) : NULL,
                     n ? kpg_array_text(&tm) : NULL};
  struct mgc_err err = {0};
  PGresult *res = NULL;
  if(p[0] && p[1])
    res = kpg_exec(l->pg, "read handed-over calls",
                   "SELECT c.call_id FROM mgcall_calls c"
                   " JOIN unnest($1::int[], $2::bigint[]) AS g(shard, term)"
                   " ON c.shard = g.shard"
                   " WHERE c.state = 'active' AND c.term <= g.term",
                   2, p, &err);
  kpg_array_release(&sh);
  kpg_array_release(&tm);
  if(!res) {
    if(n && err.msg[0])
      klog(KLOG_WARN, NULL, NULL, "%s: still sending for them", err.msg);
    return;
  }
  int rows = PQntuples(res);
  st.keep = rows ? malloc((size_t)rows * sizeof(*st.keep)) : NULL;
  if(rows && !st.keep) {
    PQclear(res);
    return;
  }
  for(int r = 0; r < rows; r++) {
    st.keep[st.nkeep++] = PQgetvalue(res, r, 0);
    st.kept[shard_of(PQgetvalue(res, r, 0))] = 1;
  }
  if(st.nkeep) /* qsort and bsearch want a non-null array */
    qsort(st.keep, st.nkeep, sizeof(*st.keep), cmp_id);
  size_t dropped = 0, done = 0;
  pthread_mutex_lock(&k->lock);
  for(int s = 0; s < NSHARDS; s++) /* not re-taken or dropped meanwhile */
    st.mask[s] = asked[s] && l->handing[s] == asked[s];
  dropped = drop_where(l, handed, &st);
  for(int s = 0; s < NSHARDS; s++)
    if(st.mask[s] && !st.kept[s]) {
      l->handing[s] = 0;
      done++;
    }
  pthread_mutex_unlock(&k->lock);
  free(st.keep);
  PQclear(res);
  if(dropped || done)
    klog(KLOG_INFO, NULL, NULL,
         "handed over %zu calls to their new owners (%zu shard%s done)",
         dropped, done, done == 1 ? "" : "s");
}

/* Forget ghosts whose request came back. */
static void sweep_ghosts(struct klease *l)
{
  struct kcore *k = l->core;
  for(size_t i = 0; i < l->nghosts;) {
    struct ks_call *c = ks_find(k->sched, l->ghosts[i]);
    if(c && c->in_batch) {
      i++;
      continue;
    }
    if(c && !is_live(c) && !l->terms[shard_of(c->call_id)])
      ks_forget(k->sched, c);
    ghost_remove(l, i);
  }
}

struct adopt {
  struct klease *l;
  const unsigned char *adopted_from; /* [NSHARDS]: taken from another */
  size_t adopted;
  /* rows to claim */
  char **ids;
  const char **states;
  int64_t *terms;
  size_t n, cap;
};

static void to_claim(struct adopt *a, const char *call_id, const char *state,
                     int64_t term)
{
  if(a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 64;
    char **ids = realloc(a->ids, cap * sizeof(*ids));
    if(ids)
      a->ids = ids;
    const char **st = realloc(a->states, cap * sizeof(*st));
    if(st)
      a->states = st;
    int64_t *t = realloc(a->terms, cap * sizeof(*t));
    if(t)
      a->terms = t;
    if(!ids || !st || !t)
      return; /* claimed at the next look */
    a->cap = cap;
  }
  char *id = strdup(call_id);
  if(!id)
    return;
  a->ids[a->n] = id;
  a->states[a->n] = !strcmp(state, "active") ? "active"
                    : !strcmp(state, "lost") ? "lost"
                                             : "ended";
  a->terms[a->n++] = term;
}

static enum ks_reason reason_of(const char *name)
{
  for(int r = KS_REASON_NOT_FOUND; r <= KS_REASON_LOST; r++)
    if(name && !strcmp(name, ks_reason_name((enum ks_reason)r)))
      return (enum ks_reason)r;
  return KS_REASON_REMOVED;
}

/* One row the owner must act on (kstore_pg_row_cb). */
static int adopt_row(void *ud, const struct kstore_call *r, int claimed)
{
  struct adopt *a = ud;
  struct klease *l = a->l;
  struct kcore *k = l->core;
  int shard = shard_of(r->call_id);
  int64_t now_mono = kcore_mono_ms(), now_wall = kcore_wall_ms();
  pthread_mutex_lock(&k->lock);
  int64_t term = l->terms[shard];
  if(!term) { /* dropped meanwhile */
    pthread_mutex_unlock(&k->lock);
    return 0;
  }
  struct ks_call *c = ks_find(k->sched, r->call_id);
  int active = !strcmp(r->state, "active");
  if(active && (!c || !is_live(c))) {
    if(c) { /* revived: an ended call here, a ghost, or one re-registered */
      int g = ghost_index(l, r->call_id);
      if(g >= 0)
        ghost_remove(l, (size_t)g);
      else if(k->terminal)
        k->terminal--;
    }
    int created = 0;
    int from_other = a->adopted_from && a->adopted_from[shard];
    if(claimed && !c && from_other) /* a dead keeper's: overdue at once */
      c = ks_adopt(k->sched, r->call_id, r->tenant_id, r->added_ms,
                   r->started_ms, r->last_success_ms, r->failures,
                   r->last_error, now_mono, now_wall);
    else if(claimed && !c) /* a free shard (fleet start): spread */
      c = ks_restore(k->sched, r->call_id, r->tenant_id, r->added_ms,
                     r->started_ms, r->last_success_ms, r->failures,
                     r->last_error, now_mono, now_wall);
    else
      c = ks_track(k->sched, r->call_id, r->tenant_id, r->started_ms, now_mono,
                   now_wall, &created);
    if(!c)
      klog(KLOG_WARN, r->call_id, NULL,
           "not taken over (bad id or out of memory)");
    else if(from_other)
      a->adopted++;
  }
  else if(!active && c && is_live(c)) /* removed through some node */
    kcore_end_at_locked(k, c, reason_of(r->reason),
                        r->ended_ms > 0 ? r->ended_ms : now_wall);
  else if(!active && !c && !claimed) /* never kept here: its hook still runs */
    khooks_stage(k->hooks, r->call_id, r->tenant_id,
                 ks_reason_name(reason_of(r->reason)), r->ended_ms);
  pthread_mutex_unlock(&k->lock);
  if(!claimed)
    to_claim(a, r->call_id, r->state, term);
  return 0;
}

static void adopt_release(struct adopt *a)
{
  for(size_t i = 0; i < a->n; i++)
    free(a->ids[i]);
  free(a->ids);
  free(a->states);
  free(a->terms);
}

/* Load the calls of shards[0..n) (all: every active row; else only the
 * unclaimed ones), put them on the schedule, claim what was unclaimed.
 * Returns the number adopted from another keeper, or -1. */
static long load_shards(struct klease *l, const int *shards, size_t n, int all,
                        const unsigned char *adopted_from)
{
  if(!n)
    return 0;
  struct mgc_err err = {0};
  struct adopt a = {l, adopted_from, 0, NULL, NULL, NULL, 0, 0};
  int rc = kstore_pg_load(l->pg, shards, n, all, adopt_row, &a, &err);
  if(!rc)
    rc = kstore_pg_claim(l->pg, (const char *const *)a.ids, a.states, a.terms,
                         a.n, &err);
  if(rc && !l->down) /* once per outage */
    klog(KLOG_WARN, NULL, NULL, "%s: will look again", err.msg);
  if(rc)
    l->down = 1; /* the next renewal says when it is back */
  struct kcore *k = l->core;
  pthread_mutex_lock(&k->lock);
  if(k->wake)
    k->wake(k->wake_ud);
  pthread_mutex_unlock(&k->lock);
  long adopted = (long)a.adopted;
  adopt_release(&a);
  return rc ? -1 : adopted;
}

/* ---- the lease statements ---- */

static void ms_text(char *buf, size_t n, int64_t v)
{
  snprintf(buf, n, "%lld", (long long)v);
}

/* Renew every lease this node holds (and its heartbeat) in one statement;
 * fill got[] with the terms the database says it holds (0 = not).  Returns
 * 0, or -1 (database unreachable: keep everything). */
static int renew(struct klease *l, int64_t *got, struct mgc_err *err)
{
  char ttl[32];
  ms_text(ttl, sizeof(ttl), l->ttl_ms);
  const char *p[] = {l->node_id, l->api_url, ttl};
  int64_t t0 = mono_ms();
  PGresult *res = kpg_exec(
      l->pg, "renew leases",
      "WITH hb AS (INSERT INTO mgcall_members (node_id, api_url, heartbeat)"
      " VALUES ($1, $2, now()) ON CONFLICT (node_id) DO UPDATE"
      " SET heartbeat = now(), api_url = EXCLUDED.api_url)"
      " UPDATE mgcall_shards SET expires_at = now() + $3::bigint"
      " * interval '1 millisecond' WHERE owner = $1 RETURNING shard, term",
      3, p, err);
  if(!res)
    return -1;
  double s = (double)(mono_ms() - t0) / 1000.0;
  memset(got, 0, NSHARDS * sizeof(*got));
  for(int r = 0; r < PQntuples(res); r++) {
    int64_t shard = kpg_int(res, r, 0);
    if(shard >= 0 && shard < NSHARDS)
      got[shard] = kpg_int(res, r, 1);
  }
  PQclear(res);
  pthread_mutex_lock(&l->lock);
  for(size_t i = 0; i < NRB; i++)
    if(s <= renew_buckets_s[i])
      l->renew_buckets[i]++;
  l->renew_count++;
  l->renew_sum_s += s;
  pthread_mutex_unlock(&l->lock);
  return 0;
}

/* The members seen alive (heartbeat within the TTL) for GET /fleet, with
 * the shards and active calls each holds.  Returns how many are live, 0 on
 * error. */
static size_t read_members(struct klease *l, struct mgc_err *err)
{
  char ttl[32];
  ms_text(ttl, sizeof(ttl), l->ttl_ms);
  const char *p[] = {ttl};
  PGresult *res = kpg_exec(
      l->pg, "read members",
      "SELECT m.node_id, m.api_url,"
      " (extract(epoch FROM now() - m.heartbeat) * 1000)::bigint,"
      " (SELECT count(*) FROM mgcall_shards s WHERE s.owner = m.node_id"
      "  AND s.expires_at > now()),"
      " (SELECT count(*) FROM mgcall_calls c JOIN mgcall_shards s"
      "  USING (shard) WHERE s.owner = m.node_id AND s.expires_at > now()"
      "  AND c.state = 'active')"
      " FROM mgcall_members m"
      " WHERE m.heartbeat > now() - $1::bigint * interval '1 millisecond'"
      " ORDER BY m.node_id",
      1, p, err);
  if(!res)
    return 0;
  json_t *arr = json_array();
  size_t live = 0;
  l->next_expiry_ms = -1;
  for(int r = 0; r < PQntuples(res); r++) {
    const char *id = PQgetvalue(res, r, 0);
    int64_t left = l->ttl_ms - kpg_int(res, r, 2);
    if(strcmp(id, l->node_id) &&
       (l->next_expiry_ms < 0 || left < l->next_expiry_ms))
      l->next_expiry_ms = left > 0 ? left : 0;
    json_array_append_new(
        arr, json_pack("{s:s,s:s?,s:I,s:I,s:I,s:b}", "nodeId", id, "apiUrl",
                       PQgetisnull(res, r, 1) ? NULL : PQgetvalue(res, r, 1),
                       "heartbeatAgeMs", (json_int_t)kpg_int(res, r, 2),
                       "shards", (json_int_t)kpg_int(res, r, 3), "calls",
                       (json_int_t)kpg_int(res, r, 4), "self",
                       !strcmp(id, l->node_id)));
    live++;
  }
  PQclear(res);
  pthread_mutex_lock(&l->lock);
  json_decref(l->members);
  l->members = arr;
  l->live_members = live;
  pthread_mutex_unlock(&l->lock);
  return live;
}

/* Take at most want expired or free shards; their calls are loaded. */
static void take(struct klease *l, int want)
{
  char ttl[32], lim[32];
  ms_text(ttl, sizeof(ttl), l->ttl_ms);
  ms_text(lim, sizeof(lim), want);
  const char *p[] = {l->node_id, ttl, lim};
  struct mgc_err err = {0};
  PGresult *res = kpg_exec(
      l->pg, "take shards",
      "WITH pick AS (SELECT shard, owner FROM mgcall_shards"
      " WHERE owner IS NULL OR expires_at IS NULL OR expires_at <= now()"
      " ORDER BY owner IS NULL, shard FOR UPDATE SKIP LOCKED LIMIT $3)"
      " UPDATE mgcall_shards s SET owner = $1, term = s.term + 1,"
      " expires_at = now() + $2::bigint * interval '1 millisecond'"
      " FROM pick WHERE s.shard = pick.shard"
      " RETURNING s.shard, s.term, pick.owner",
      3, p, &err);
  if(!res) {
    klog(KLOG_WARN, NULL, NULL, "%s", err.msg);
    return;
  }
  int shards[NSHARDS];
  unsigned char from_other[NSHARDS] = {0};
  size_t n = 0;
  struct kcore *k = l->core;
  pthread_mutex_lock(&k->lock);
  for(int r = 0; r < PQntuples(res) && n < NSHARDS; r++) {
    int s = (int)kpg_int(res, r, 0);
    if(s < 0 || s >= NSHARDS)
      continue;
    l->terms[s] = kpg_int(res, r, 1);
    l->handing[s] = 0; /* ours again: its calls in memory stay */
    from_other[s] = !PQgetisnull(res, r, 2);
    shards[n++] = s;
  }
  pthread_mutex_unlock(&k->lock);
  PQclear(res);
  if(!n)
    return;
  long adopted = load_shards(l, shards, n, 1, from_other);
  for(size_t i = 0; adopted < 0 && i < n; i++)
    l->unloaded[shards[i]] = 1; /* loaded at the next look */
  klog(KLOG_INFO, NULL, NULL, "took %zu shard%s (%ld calls adopted)%s", n,
       n == 1 ? "" : "s", adopted > 0 ? adopted : 0,
       adopted < 0 ? "; their calls are loaded when the database answers" : "");
  if(adopted > 0) {
    pthread_mutex_lock(&l->lock);
    l->adopted += (uint64_t)adopted;
    pthread_mutex_unlock(&l->lock);
  }
}

/* Release the marked shards: their progress written first, then their
 * calls handed over (forget) or only no longer written (leaving), then the
 * leases given up (term + 1). */
static void release(struct klease *l, const unsigned char *mark, size_t n,
                    int forget, const char *why)
{
  struct kcore *k = l->core;
  struct mgc_err err = {0};
  pthread_mutex_lock(&k->lock);
  struct kwjob *j = kcore_flush_durable_locked(k, &err);
  pthread_mutex_unlock(&k->lock);
  if(j && kwriter_wait(k->writer, j, &err))
    klog(KLOG_WARN, NULL, NULL, "%s", err.msg);
  struct kpg_array a;
  kpg_array_init(&a);
  size_t calls = 0;
  pthread_mutex_lock(&k->lock);
  if(forget) /* sent until their new owner keeps them */
    calls = hand_over(l, mark);
  else /* leaving: memory goes with the keeper, only stop writing */
    for(int s = 0; s < NSHARDS; s++)
      if(mark[s])
        l->terms[s] = 0;
  pthread_mutex_unlock(&k->lock);
  for(int s = 0; s < NSHARDS; s++)
    if(mark[s])
      kpg_array_int(&a, s);
  const char *p[] = {l->node_id, kpg_array_text(&a)};
  if(p[1] && kpg_run(l->pg, "release shards",
                     "UPDATE mgcall_shards SET owner = NULL, term = term + 1,"
                     " expires_at = NULL WHERE owner = $1"
                     " AND shard = ANY($2::int[])",
                     2, p, &err))
    klog(KLOG_WARN, NULL, NULL, "%s (they expire by themselves)", err.msg);
  kpg_array_release(&a);
  if(forget)
    klog(KLOG_INFO, NULL, NULL,
         "released %zu shard%s (%zu calls, sent until their new owner "
         "keeps them): %s",
         n, n == 1 ? "" : "s", calls, why);
  else
    klog(KLOG_INFO, NULL, NULL, "released %zu shard%s: %s", n,
         n == 1 ? "" : "s", why);
}

/* One round: renew, drop what was lost, balance to the fair share. */
static void tick(struct klease *l)
{
  struct kcore *k = l->core;
  struct mgc_err err = {0};
  int64_t got[NSHARDS];
  if(renew(l, got, &err)) {
    if(!l->down)
      klog(KLOG_ERROR, NULL, NULL,
           "%s: keeping every call held and sending for them", err.msg);
    l->down = 1;
    return;
  }
  if(l->down)
    klog(KLOG_INFO, NULL, NULL, "leases: the database is reachable again");
  l->down = 0;
  unsigned char lost[NSHARDS] = {0};
  size_t nlost = 0, held = 0, kept = 0;
  pthread_mutex_lock(&k->lock);
  for(int s = 0; s < NSHARDS; s++) {
    if(l->terms[s] && got[s] != l->terms[s]) {
      lost[s] = 1;
      nlost++;
    }
    else if(l->terms[s])
      held++;
  }
  if(nlost)
    kept = hand_over(l, lost);
  sweep_ghosts(l);
  pthread_mutex_unlock(&k->lock);
  if(nlost) {
    klog(KLOG_WARN, NULL, NULL,
         "lost %zu shard%s to another keeper (lease expired): their %zu "
         "calls are sent, not written, until their new owner keeps them",
         nlost, nlost == 1 ? "" : "s", kept);
    pthread_mutex_lock(&l->lock);
    l->lost += nlost;
    pthread_mutex_unlock(&l->lock);
  }
  /* shards the database says are ours but we did not know (an older
   * process of this node id): give them up, someone takes them fresh */
  unsigned char stray[NSHARDS] = {0};
  size_t nstray = 0;
  for(int s = 0; s < NSHARDS; s++)
    if(got[s] && !l->terms[s] && !lost[s]) {
      stray[s] = 1;
      nstray++;
    }
  if(nstray)
    release(l, stray, nstray, 1, "held under this node id before");
  settle_handovers(l);
  size_t live = read_members(l, &err);
  if(!live) {
    klog(KLOG_WARN, NULL, NULL, "%s", err.msg[0] ? err.msg : "no members");
    return;
  }
  size_t fair = (NSHARDS + live - 1) / live;
  if(held > fair) {
    unsigned char extra[NSHARDS] = {0};
    size_t n = 0;
    pthread_mutex_lock(&k->lock);
    for(int s = NSHARDS - 1; s >= 0 && held - n > fair; s--)
      if(l->terms[s]) {
        extra[s] = 1;
        n++;
      }
    pthread_mutex_unlock(&k->lock);
    release(l, extra, n, 1, "above the fair share");
    held -= n;
  }
  else if(held < fair)
    take(l, (int)(fair - held));
  pthread_mutex_lock(&k->lock);
  held = 0;
  for(int s = 0; s < NSHARDS; s++)
    held += l->terms[s] != 0;
  pthread_mutex_unlock(&k->lock);
  pthread_mutex_lock(&l->lock);
  l->held = held;
  pthread_mutex_unlock(&l->lock);
}

/* Registrations and removals made through any node, for our shards. */
static void poll_unclaimed(struct klease *l)
{
  struct kcore *k = l->core;
  int shards[NSHARDS], again[NSHARDS];
  size_t n = 0, nagain = 0;
  pthread_mutex_lock(&k->lock);
  for(int s = 0; s < NSHARDS; s++) {
    if(!l->terms[s])
      l->unloaded[s] = 0; /* not ours any more */
    else if(l->unloaded[s])
      again[nagain++] = s;
    else
      shards[n++] = s;
  }
  pthread_mutex_unlock(&k->lock);
  /* shards taken while their calls could not be read: every call now */
  if(nagain && load_shards(l, again, nagain, 1, NULL) >= 0)
    for(size_t i = 0; i < nagain; i++)
      l->unloaded[again[i]] = 0;
  load_shards(l, shards, n, 0, NULL);
}

static void *run(void *arg)
{
  struct klease *l = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  /* several renewals per TTL, and at most 5 s apart; a dead keeper's
   * shards are taken when its leases expire (next_expiry_ms), the TTL
   * after its last renewal */
  int64_t every = l->ttl_ms / 4 < TICK_MAX_MS ? l->ttl_ms / 4 : TICK_MAX_MS;
  int64_t next_tick = 0;
  pthread_mutex_lock(&l->lock);
  while(!l->stopping) {
    pthread_mutex_unlock(&l->lock);
    int64_t now = mono_ms();
    if(now >= next_tick) {
      l->next_expiry_ms = -1;
      tick(l);
      next_tick = now + every;
      /* a member that stopped renewing: look again the moment its leases
       * expire (not up to a whole period later), so that its shards are
       * taken at most the TTL after its last renewal */
      if(l->next_expiry_ms >= 0 && l->next_expiry_ms + EXPIRY_MARGIN_MS < every)
        next_tick = now + l->next_expiry_ms + EXPIRY_MARGIN_MS;
    }
    if(!l->down)
      poll_unclaimed(l);
    now = mono_ms();
    int64_t wait = next_tick - now;
    if(wait > POLL_MS)
      wait = POLL_MS;
    if(wait < 1)
      wait = 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(wait / 1000);
    ts.tv_nsec += (long)(wait % 1000) * 1000000L;
    if(ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->lock);
    if(!l->stopping)
      pthread_cond_timedwait(&l->cond, &l->lock, &ts);
  }
  pthread_mutex_unlock(&l->lock);
  return NULL;
}

static void lease_free(struct klease *l)
{
  kpg_free(l->pg);
  for(size_t i = 0; i < l->nghosts; i++)
    free(l->ghosts[i]);
  free(l->ghosts);
  json_decref(l->members);
  pthread_mutex_destroy(&l->lock);
  pthread_cond_destroy(&l->cond);
  free(l->node_id);
  free(l->api_url);
  free(l);
}

int klease_start(const struct klease_config *cfg, struct kcore *core,
                 struct klease **out, struct mgc_err *err)
{
  *out = NULL;
  struct klease *l = calloc(1, sizeof(*l));
  if(!l)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  pthread_mutex_init(&l->lock, NULL);
  pthread_cond_init(&l->cond, NULL);
  l->core = core;
  l->ttl_ms =
      cfg->ttl_ms >= KLEASE_MIN_TTL_MS ? cfg->ttl_ms : KLEASE_DEFAULT_TTL_MS;
  l->node_id = strdup(cfg->node_id);
  l->api_url = strdup(cfg->api_url ? cfg->api_url : "");
  if(!l->node_id || !l->api_url) {
    lease_free(l);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  int rc = kpg_open(cfg->store_url, "mgcall-keeper-lease", &l->pg, err);
  const char *p[] = {l->node_id};
  /* a previous process of this node id: its leases go (term + 1) */
  if(!rc)
    rc = kpg_run(l->pg, "join the fleet",
                 "UPDATE mgcall_shards SET owner = NULL, term = term + 1,"
                 " expires_at = NULL WHERE owner = $1",
                 1, p, err);
  if(rc) {
    lease_free(l);
    return rc;
  }
  l->hooks.term_of = term_of;
  l->hooks.members_json = members_json;
  l->hooks.metrics_text = metrics_text;
  l->hooks.ud = l;
  pthread_mutex_lock(&core->lock);
  core->fleet = &l->hooks;
  pthread_mutex_unlock(&core->lock);
  if(pthread_create(&l->thread, NULL, run, l)) {
    core->fleet = NULL;
    lease_free(l);
    return mgc__err_set(err, MGCALL_E_INTERNAL,
                        "cannot start the lease "
                        "thread");
  }
  klog(KLOG_INFO, NULL, NULL,
       "fleet: node %s on %s, %d shards, lease TTL %lld ms", l->node_id,
       kpg_where(l->pg), NSHARDS, (long long)l->ttl_ms);
  *out = l;
  return MGCALL_OK;
}

void klease_stop(struct klease *l)
{
  if(!l)
    return;
  pthread_mutex_lock(&l->lock);
  l->stopping = 1;
  pthread_cond_broadcast(&l->cond);
  pthread_mutex_unlock(&l->lock);
  pthread_join(l->thread, NULL);
  unsigned char all[NSHARDS];
  size_t n = 0;
  struct kcore *k = l->core;
  pthread_mutex_lock(&k->lock);
  for(int s = 0; s < NSHARDS; s++)
    n += (all[s] = l->terms[s] != 0);
  pthread_mutex_unlock(&k->lock);
  if(n)
    release(l, all, n, 0, "leaving the fleet");
  struct mgc_err err = {0};
  const char *p[] = {l->node_id};
  if(kpg_run(l->pg, "leave the fleet",
             "DELETE FROM mgcall_members WHERE node_id = $1", 1, p, &err))
    klog(KLOG_WARN, NULL, NULL, "%s", err.msg);
  pthread_mutex_lock(&k->lock);
  k->fleet = NULL;
  pthread_mutex_unlock(&k->lock);
  lease_free(l);
}
