/* SPDX-License-Identifier: MIT */
/* sched.c - the keeper's schedule: a hash of calls by id, a binary min-heap
 * on (due, seq) (libuv timers, chrony), the calls already due in a second
 * min-heap on (deadline, due, seq): when the keeper cannot send all that is
 * due at once (a backlog after an outage, a restart, pushback), the earliest
 * deadline goes first, so a retry whose deadline is near is never stuck
 * behind thousands of fresh calls; the live calls by deadline (rank.h) and
 * the count of ended and lost ones. */
#include "sched.h"

#include "mgcx.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct ks_sched {
  struct ks_config cfg;
  uint64_t rng;
  uint64_t next_seq;
  /* hash of every call by id */
  struct ks_call **buckets;
  size_t nbuckets; /* power of two */
  size_t count;
  /* min-heap of scheduled calls (struct ks_call *, by due time then seq;
   * each call's heap_idx follows its position) */
  struct mgcx_heap heap;
  /* due calls not taken yet (struct ks_call *, by deadline, due, seq;
   * each call's ready_idx follows its position) */
  struct mgcx_heap ready;
  size_t in_flight;
  struct ks_call *dirty;
  /* the live calls by anchor (= by deadline), and the final ones */
  struct krank live;
  size_t nended, nlost;
};

static const char *const state_names[] = {"active", "at-risk", "ended", "lost"};
static const char *const reason_names[] = {"", "not-found", "terminated",
                                           "removed", "lost"};

const char *ks_state_name(enum ks_state st)
{
  return (unsigned)st < 4 ? state_names[st] : "unknown";
}

const char *ks_reason_name(enum ks_reason r)
{
  return (unsigned)r < 5 ? reason_names[r] : "";
}

int ks_state_parse(const char *name)
{
  for(int i = 0; i < 4; i++)
    if(name && !strcmp(name, state_names[i]))
      return i;
  return -1;
}

/* xorshift64*: jitter needs spread, not secrecy. */
static uint64_t rnd(struct ks_sched *s)
{
  uint64_t x = s->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  s->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [-pct, +pct] percent of v. */
static int64_t jitter(struct ks_sched *s, int64_t v, unsigned pct)
{
  if(!pct || v <= 0)
    return 0;
  int64_t span = v * (int64_t)pct / 100;
  if(span <= 0)
    return 0;
  uint64_t r = rnd(s) % (uint64_t)(2 * span + 1);
  return (int64_t)r - span;
}

static int before(const void *a, const void *b);
static void moved(void *ctx, const void *elem, size_t pos);
static int more_urgent(const void *a, const void *b);
static void ready_moved(void *ctx, const void *elem, size_t pos);

struct ks_sched *ks_sched_new(const struct ks_config *cfg, uint64_t seed)
{
  if(!cfg || cfg->interval_ms <= 0 || cfg->deadline_ms <= cfg->interval_ms ||
     cfg->jitter_pct > 50)
    return NULL;
  struct ks_sched *s = calloc(1, sizeof(*s));
  if(!s)
    return NULL;
  s->cfg = *cfg;
  mgcx_heap_init(&s->heap, sizeof(struct ks_call *), before, moved, NULL);
  mgcx_heap_init(&s->ready, sizeof(struct ks_call *), more_urgent, ready_moved,
                 NULL);
  s->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
  krank_init(&s->live, s->rng);
  s->nbuckets = 1024;
  s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
  if(!s->buckets) {
    free(s);
    return NULL;
  }
  return s;
}

static void call_free(struct ks_call *c)
{
  if(!c)
    return;
  free(c->call_id);
  free(c->tenant_id);
  free(c->last_error);
  free(c);
}

void ks_sched_free(struct ks_sched *s)
{
  if(!s)
    return;
  for(size_t i = 0; i < s->nbuckets; i++) {
    struct ks_call *c = s->buckets[i];
    while(c) {
      struct ks_call *n = c->hnext;
      call_free(c);
      c = n;
    }
  }
  free(s->buckets);
  mgcx_heap_release(&s->heap);
  mgcx_heap_release(&s->ready);
  free(s);
}

/* FNV-1a */
static size_t hash(const char *k)
{
  uint64_t h = 1469598103934665603ULL;
  for(; *k; k++) {
    h ^= (unsigned char)*k;
    h *= 1099511628211ULL;
  }
  return (size_t)h;
}

struct ks_call *ks_find(struct ks_sched *s, const char *call_id)
{
  if(!call_id)
    return NULL;
  struct ks_call *c = s->buckets[hash(call_id) & (s->nbuckets - 1)];
  for(; c; c = c->hnext)
    if(!strcmp(c->call_id, call_id))
      return c;
  return NULL;
}

static void hash_grow(struct ks_sched *s)
{
  size_t n = s->nbuckets * 2;
  struct ks_call **b = calloc(n, sizeof(*b));
  if(!b)
    return; /* keep working with longer chains */
  for(size_t i = 0; i < s->nbuckets; i++) {
    struct ks_call *c = s->buckets[i];
    while(c) {
      struct ks_call *next = c->hnext;
      size_t j = hash(c->call_id) & (n - 1);
      c->hnext = b[j];
      b[j] = c;
      c = next;
    }
  }
  free(s->buckets);
  s->buckets = b;
  s->nbuckets = n;
}

static void hash_insert(struct ks_sched *s, struct ks_call *c)
{
  if(s->count >= s->nbuckets)
    hash_grow(s);
  size_t j = hash(c->call_id) & (s->nbuckets - 1);
  c->hnext = s->buckets[j];
  s->buckets[j] = c;
  s->count++;
}

static void hash_remove(struct ks_sched *s, struct ks_call *c)
{
  struct ks_call **p = &s->buckets[hash(c->call_id) & (s->nbuckets - 1)];
  for(; *p; p = &(*p)->hnext)
    if(*p == c) {
      *p = c->hnext;
      s->count--;
      return;
    }
}

/* ---- heap (mgcx_heap of struct ks_call *) ---- */

static struct ks_call *call_at(const void *elem)
{
  struct ks_call *c;
  memcpy(&c, elem, sizeof(c));
  return c;
}

static int before(const void *a, const void *b)
{
  const struct ks_call *x = call_at(a), *y = call_at(b);
  if(x->due_mono != y->due_mono)
    return x->due_mono < y->due_mono;
  return x->seq < y->seq;
}

static void moved(void *ctx, const void *elem, size_t pos)
{
  (void)ctx;
  call_at(elem)->heap_idx = pos == MGCX_HEAP_NONE ? KS_NOT_QUEUED : pos;
}

/* Deadlines count from anchor_mono plus one deadline for every call. */
static int more_urgent(const void *a, const void *b)
{
  const struct ks_call *x = call_at(a), *y = call_at(b);
  if(x->anchor_mono != y->anchor_mono)
    return x->anchor_mono < y->anchor_mono;
  if(x->due_mono != y->due_mono)
    return x->due_mono < y->due_mono;
  return x->seq < y->seq;
}

static void ready_moved(void *ctx, const void *elem, size_t pos)
{
  (void)ctx;
  call_at(elem)->ready_idx = pos == MGCX_HEAP_NONE ? KS_NOT_QUEUED : pos;
}

static struct ks_call *heap_first(const struct ks_sched *s)
{
  const void *top = mgcx_heap_top(&s->heap);
  return top ? call_at(top) : NULL;
}

/* Room in the heap for n calls.  The heap holds every call at most once,
 * so with room for every call held (ks_track and ks_restore reserve it
 * before they add one) putting a tracked call back never allocates and
 * cannot fail: out of memory is refused at registration, never a live call
 * silently dropped from the schedule. */
static int heap_reserve(struct ks_sched *s, size_t n)
{
  if(n < 256)
    n = 256;
  return mgcx_heap_reserve(&s->heap, n) || mgcx_heap_reserve(&s->ready, n);
}

/* Reserved by heap_reserve: cannot fail. */
static void heap_push(struct ks_sched *s, struct ks_call *c)
{
  c->seq = s->next_seq++;
  if(mgcx_heap_push(&s->heap, &c))
    abort(); /* room was reserved: a broken invariant, never a lost call */
}

static void heap_remove(struct ks_sched *s, struct ks_call *c)
{
  if(c->heap_idx == KS_NOT_QUEUED)
    return;
  mgcx_heap_remove(&s->heap, c->heap_idx, NULL); /* moved() clears it */
}

static void ready_remove(struct ks_sched *s, struct ks_call *c)
{
  if(!c->ready)
    return;
  mgcx_heap_remove(&s->ready, c->ready_idx, NULL); /* ready_moved clears */
  c->ready = 0;
}

/* (Re)schedule c at due (it must be in no queue). */
static void schedule_at(struct ks_sched *s, struct ks_call *c, int64_t due)
{
  c->due_mono = due;
  heap_push(s, c);
}

/* c is live with its deadline counting from anchor: placed in the
 * by-deadline set. */
static void live_at(struct ks_sched *s, struct ks_call *c, int64_t anchor)
{
  if(c->ranked)
    krank_remove(&s->live, &c->by_deadline);
  c->anchor_mono = anchor;
  c->by_deadline.key = anchor;
  krank_insert(&s->live, &c->by_deadline);
  c->ranked = 1;
}

/* c leaves memory or becomes final: out of the set, out of the counts. */
static void unrank(struct ks_sched *s, struct ks_call *c)
{
  if(c->ranked) {
    krank_remove(&s->live, &c->by_deadline);
    c->ranked = 0;
  }
  else if(c->state == KS_ENDED)
    s->nended--;
  else if(c->state == KS_LOST)
    s->nlost--;
}

static struct ks_call *call_of_node(const struct krank_node *n)
{
  return (struct ks_call *)(void *)((char *)(uintptr_t)n -
                                    offsetof(struct ks_call, by_deadline));
}

int64_t ks_deadline_mono(const struct ks_sched *s, const struct ks_call *c)
{
  return c->anchor_mono + s->cfg.deadline_ms;
}

int64_t ks_at_risk_ms(const struct ks_sched *s)
{
  const int64_t ten_min = 10 * 60 * 1000;
  int64_t scaled = s->cfg.deadline_ms * 2 / 9;
  return scaled < ten_min ? scaled : ten_min;
}

/* Time kept free before the deadline for the request to reach Graph. */
static int64_t guard_ms(const struct ks_sched *s)
{
  int64_t g = s->cfg.deadline_ms / 10;
  if(g < 20)
    g = 20;
  if(g > 5000)
    g = 5000;
  return g;
}

int64_t ks_retry_delay(const struct ks_sched *s, int n, int64_t remaining_ms)
{
  /* The first retry comes after 1/40 of the slack (the time between the
   * regular keepAlive and the deadline): 3 s for the defaults (45 s,
   * clamped), 1 s for 20 s / 60 s.  A base tied to the deadline alone
   * (deadline/15: 3 s there too) left a call that failed at its due time
   * only three attempts in the next 18 s: the chaos soak lost such calls
   * when a Graph outage followed. */
  int64_t slack = s->cfg.deadline_ms - s->cfg.interval_ms;
  if(slack <= 0)
    slack = s->cfg.deadline_ms;
  int64_t base = slack / 40;
  if(base < 50)
    base = 50;
  if(base > 3000)
    base = 3000;
  /* The waits double up to 1/40 of the slack (45 s for the defaults, 1 s
   * for 20 s / 60 s, where that is the base: a fixed step), so the retries
   * stay spread over the whole slack: wherever an outage starts, the last
   * attempts before it are at most that far apart.  The cap was deadline/4
   * (15 s for 20 s / 60 s): a call that failed three times at its due time
   * next tried 8 s later, and the chaos soak lost the ones whose 8 s ran
   * into a Graph outage. */
  int64_t cap = slack / 40;
  if(cap > 180000)
    cap = 180000;
  if(cap < base)
    cap = base;
  int64_t d = base;
  for(int i = 1; i < n && d < cap; i++)
    d *= 2;
  if(d > cap)
    d = cap;
  int64_t room = remaining_ms - guard_ms(s);
  int64_t bound = room / 2;
  /* Near the deadline, halving would leave only a handful of attempts; keep
   * trying at a small fixed step (1% of the deadline: 27 s at 45 min, 30 ms
   * at 3 s) until the deadline itself, so that a run of transient failures
   * must be long to lose a call. */
  int64_t min_step = s->cfg.deadline_ms / 100;
  if(min_step < 20)
    min_step = 20;
  if(min_step > 30000)
    min_step = 30000;
  if(bound < min_step)
    bound = min_step; /* the caller sees when it does not fit: lost */
  return d < bound ? d : bound;
}

/* Next regular keepAlive after a success (or the start) at anchor. */
static int64_t regular_due(struct ks_sched *s, int64_t anchor)
{
  int64_t iv = s->cfg.interval_ms;
  int64_t due = anchor + iv + jitter(s, iv, s->cfg.jitter_pct);
  /* keep at least half of the slack for retries */
  int64_t latest = anchor + iv + (s->cfg.deadline_ms - iv) / 2;
  if(due > latest)
    due = latest;
  return due;
}

static struct ks_call *call_new(const char *call_id, const char *tenant_id)
{
  size_t n = call_id ? strlen(call_id) : 0;
  if(!n || n > KS_ID_MAX || (tenant_id && strlen(tenant_id) > KS_ID_MAX))
    return NULL;
  struct ks_call *c = calloc(1, sizeof(*c));
  if(!c)
    return NULL;
  c->call_id = strdup(call_id);
  c->tenant_id = tenant_id && *tenant_id ? strdup(tenant_id) : NULL;
  if(!c->call_id || (tenant_id && *tenant_id && !c->tenant_id)) {
    call_free(c);
    return NULL;
  }
  c->heap_idx = KS_NOT_QUEUED;
  c->ready_idx = KS_NOT_QUEUED;
  return c;
}

static int set_tenant(struct ks_call *c, const char *tenant_id)
{
  char *t = NULL;
  if(tenant_id && *tenant_id && !(t = strdup(tenant_id)))
    return -1;
  free(c->tenant_id);
  c->tenant_id = t;
  return 0;
}

/* Anchor and first due time of a call started at started_wall (0 = now). */
static void first_schedule(struct ks_sched *s, struct ks_call *c,
                           int64_t started_wall, int64_t now_mono,
                           int64_t now_wall)
{
  if(started_wall > 0 && started_wall <= now_wall) {
    live_at(s, c, now_mono - (now_wall - started_wall));
    int64_t due = regular_due(s, c->anchor_mono);
    if(due < now_mono)
      due = now_mono;
    c->last_chance = ks_deadline_mono(s, c) <= now_mono;
    schedule_at(s, c, due);
  }
  else {
    live_at(s, c, now_mono);
    schedule_at(s, c, now_mono);
  }
}

struct ks_call *ks_track(struct ks_sched *s, const char *call_id,
                         const char *tenant_id, int64_t started_wall,
                         int64_t now_mono, int64_t now_wall, int *created)
{
  struct ks_call *c = ks_find(s, call_id);
  if(c && c->state != KS_ENDED && c->state != KS_LOST) {
    if(created)
      *created = 0;
    return c;
  }
  /* room for every call held and this one, before anything changes */
  if(heap_reserve(s, s->count + 1))
    return NULL;
  if(c) {
    /* revive a call that had ended: it is a new registration */
    if(set_tenant(c, tenant_id))
      return NULL;
    unrank(s, c); /* out of the ended or lost count */
    c->state = KS_ACTIVE;
    c->reason = KS_REASON_NONE;
    c->failures = 0;
    free(c->last_error);
    c->last_error = NULL;
    c->last_success_wall = 0;
    c->ended_wall = 0;
  }
  else {
    if(s->count >= KS_MAX_CALLS)
      return NULL;
    c = call_new(call_id, tenant_id);
    if(!c)
      return NULL;
    hash_insert(s, c);
  }
  c->added_wall = now_wall;
  c->started_wall = started_wall;
  first_schedule(s, c, started_wall, now_mono, now_wall);
  if(created)
    *created = 1;
  return c;
}

static struct ks_call *put_back(struct ks_sched *s, const char *call_id,
                                const char *tenant_id, int64_t added_wall,
                                int64_t started_wall,
                                int64_t last_success_wall, int failures,
                                const char *last_error, int64_t now_mono,
                                int64_t now_wall, int spread)
{
  if(ks_find(s, call_id) || s->count >= KS_MAX_CALLS ||
     heap_reserve(s, s->count + 1))
    return NULL;
  struct ks_call *c = call_new(call_id, tenant_id);
  if(!c)
    return NULL;
  c->added_wall = added_wall;
  c->started_wall = started_wall;
  c->last_success_wall = last_success_wall;
  c->failures = failures;
  if(last_error && !(c->last_error = strndup(last_error, KS_ERROR_MAX))) {
    call_free(c);
    return NULL;
  }
  int64_t anchor_wall = last_success_wall  ? last_success_wall
                        : started_wall > 0 ? started_wall
                                           : added_wall;
  if(anchor_wall > now_wall)
    anchor_wall = now_wall; /* the clock went back: count from now */
  live_at(s, c, now_mono - (now_wall - anchor_wall));
  int64_t due = last_success_wall || started_wall > 0
                    ? regular_due(s, c->anchor_mono)
                    : now_mono; /* never kept alive: at once */
  if(due < now_mono && spread) { /* overdue: spread, most urgent first */
    int64_t left = ks_deadline_mono(s, c) - now_mono;
    due = now_mono + (left > 0 ? left / KS_RESTORE_SPREAD : 0);
  }
  else if(due < now_mono)
    due = now_mono; /* adopted: at once (the ready heap is by deadline) */
  c->last_chance = ks_deadline_mono(s, c) <= now_mono;
  hash_insert(s, c);
  schedule_at(s, c, due);
  return c;
}

struct ks_call *ks_restore(struct ks_sched *s, const char *call_id,
                           const char *tenant_id, int64_t added_wall,
                           int64_t started_wall, int64_t last_success_wall,
                           int failures, const char *last_error,
                           int64_t now_mono, int64_t now_wall)
{
  return put_back(s, call_id, tenant_id, added_wall, started_wall,
                  last_success_wall, failures, last_error, now_mono, now_wall,
                  1);
}

struct ks_call *ks_adopt(struct ks_sched *s, const char *call_id,
                         const char *tenant_id, int64_t added_wall,
                         int64_t started_wall, int64_t last_success_wall,
                         int failures, const char *last_error,
                         int64_t now_mono, int64_t now_wall)
{
  return put_back(s, call_id, tenant_id, added_wall, started_wall,
                  last_success_wall, failures, last_error, now_mono, now_wall,
                  0);
}

size_t ks_collect_due(struct ks_sched *s, int64_t now_mono)
{
  size_t n = 0;
  struct ks_call *c;
  while((c = heap_first(s)) && c->due_mono <= now_mono) {
    heap_remove(s, c);
    if(mgcx_heap_push(&s->ready, &c))
      abort(); /* room was reserved (heap_reserve): a broken invariant */
    c->ready = 1;
    n++;
  }
  return n;
}

static struct ks_call *ready_first(const struct ks_sched *s)
{
  const void *top = mgcx_heap_top(&s->ready);
  return top ? call_at(top) : NULL;
}

struct ks_call *ks_next_ready(struct ks_sched *s)
{
  struct ks_call *c = ready_first(s);
  if(!c)
    return NULL;
  ready_remove(s, c);
  c->in_flight = 1;
  s->in_flight++;
  return c;
}

const struct ks_call *ks_peek_ready(const struct ks_sched *s)
{
  return ready_first(s);
}

size_t ks_ready_count(const struct ks_sched *s)
{
  return s->ready.len;
}

int64_t ks_wait_ms(const struct ks_sched *s, int64_t now_mono)
{
  if(s->ready.len)
    return 0;
  const struct ks_call *first = heap_first(s);
  if(!first)
    return -1;
  int64_t d = first->due_mono - now_mono;
  return d > 0 ? d : 0;
}

static void landed(struct ks_sched *s, struct ks_call *c)
{
  if(c->in_flight) {
    c->in_flight = 0;
    s->in_flight--;
  }
}

void ks_on_success(struct ks_sched *s, struct ks_call *c, int64_t sent_mono,
                   int64_t sent_wall)
{
  landed(s, c);
  if(c->state == KS_ENDED || c->state == KS_LOST ||
     c->heap_idx != KS_NOT_QUEUED || c->ready)
    return; /* ended, or re-registered meanwhile: already scheduled */
  c->failures = 0;
  c->last_chance = 0;
  free(c->last_error);
  c->last_error = NULL;
  c->last_success_wall = sent_wall;
  live_at(s, c, sent_mono);
  c->state = KS_ACTIVE;
  schedule_at(s, c, regular_due(s, sent_mono));
  ks_mark_dirty(s, c);
}

int ks_on_failure(struct ks_sched *s, struct ks_call *c, const char *error,
                  int64_t now_mono)
{
  return ks_on_failure_after(s, c, error, now_mono, -1, NULL);
}

int ks_on_failure_after(struct ks_sched *s, struct ks_call *c,
                        const char *error, int64_t now_mono,
                        int64_t retry_after_ms, int *clamped)
{
  if(clamped)
    *clamped = 0;
  landed(s, c);
  if(c->state == KS_ENDED || c->state == KS_LOST ||
     c->heap_idx != KS_NOT_QUEUED || c->ready)
    return 0;
  c->failures++;
  if(error) {
    char *e = strndup(error, KS_ERROR_MAX);
    if(e) {
      free(c->last_error);
      c->last_error = e;
    }
  }
  ks_mark_dirty(s, c);
  int64_t remaining = ks_deadline_mono(s, c) - now_mono;
  if(remaining <= 0 || c->last_chance)
    return 1;
  int64_t d = ks_retry_delay(s, c->failures, remaining);
  if(d >= remaining) /* no further attempt can land in time */
    return 1;
  if(retry_after_ms > d) { /* the server asked for a longer wait */
    /* at most half of what remains minus the guard (the backoff's bound
     * without its 1% floor), so that further retries still fit before the
     * deadline; never less than the backoff d */
    int64_t latest = (remaining - guard_ms(s)) / 2;
    if(retry_after_ms > latest && clamped)
      *clamped = 1;
    if(latest > d)
      d = retry_after_ms < latest ? retry_after_ms : latest;
  }
  schedule_at(s, c, now_mono + d);
  return 0;
}

int ks_end(struct ks_sched *s, struct ks_call *c, enum ks_reason reason)
{
  heap_remove(s, c);
  ready_remove(s, c);
  landed(s, c);
  if(c->state == KS_ENDED || c->state == KS_LOST)
    return -1;
  unrank(s, c);
  c->state = reason == KS_REASON_LOST ? KS_LOST : KS_ENDED;
  if(c->state == KS_LOST)
    s->nlost++;
  else
    s->nended++;
  c->reason = (unsigned char)reason;
  ks_mark_dirty(s, c);
  return 0;
}

enum ks_state ks_state_at(const struct ks_sched *s, const struct ks_call *c,
                          int64_t now_mono)
{
  if(c->state == KS_ENDED || c->state == KS_LOST)
    return (enum ks_state)c->state;
  if(ks_deadline_mono(s, c) - now_mono < ks_at_risk_ms(s))
    return KS_AT_RISK;
  return KS_ACTIVE;
}

void ks_foreach(struct ks_sched *s, void (*fn)(void *ud, struct ks_call *c),
                void *ud)
{
  for(size_t i = 0; i < s->nbuckets; i++)
    for(struct ks_call *c = s->buckets[i]; c; c = c->hnext)
      fn(ud, c);
}

void ks_count_states(const struct ks_sched *s, int64_t now_mono,
                     size_t counts[4])
{
  /* at risk (ks_state_at): anchor + deadline - now < margin */
  size_t live = krank_size(&s->live);
  size_t at_risk = krank_count_below(&s->live, now_mono + ks_at_risk_ms(s) -
                                                   s->cfg.deadline_ms);
  counts[KS_ACTIVE] = live - at_risk;
  counts[KS_AT_RISK] = at_risk;
  counts[KS_ENDED] = s->nended;
  counts[KS_LOST] = s->nlost;
}

int64_t ks_min_time_left(const struct ks_sched *s, int64_t now_mono)
{
  const struct krank_node *first = krank_nth(&s->live, 0);
  if(!first)
    return -1;
  int64_t left = ks_deadline_mono(s, call_of_node(first)) - now_mono;
  return left > 0 ? left : 0;
}

size_t ks_most_urgent(const struct ks_sched *s, struct ks_call **out,
                      size_t max)
{
  size_t n = 0;
  for(const struct krank_node *x; n < max && (x = krank_nth(&s->live, n));)
    out[n++] = call_of_node(x);
  return n;
}

void ks_mark_dirty(struct ks_sched *s, struct ks_call *c)
{
  if(c->dirty)
    return;
  c->dirty = 1;
  c->next_dirty = s->dirty;
  s->dirty = c;
}

struct ks_call *ks_take_dirty(struct ks_sched *s)
{
  struct ks_call *d = s->dirty;
  s->dirty = NULL;
  for(struct ks_call *c = d; c; c = c->next_dirty)
    c->dirty = 0;
  return d;
}

void ks_forget(struct ks_sched *s, struct ks_call *c)
{
  heap_remove(s, c);
  ready_remove(s, c);
  landed(s, c);
  if(c->dirty) { /* unlink from the dirty list */
    struct ks_call **p = &s->dirty;
    for(; *p; p = &(*p)->next_dirty)
      if(*p == c) {
        *p = c->next_dirty;
        break;
      }
  }
  unrank(s, c);
  hash_remove(s, c);
  call_free(c);
}

size_t ks_forget_if(struct ks_sched *s,
                    int (*pick)(void *ud, const struct ks_call *c), void *ud)
{
  size_t n = 0;
  for(size_t b = 0; b < s->nbuckets; b++)
    for(struct ks_call *c = s->buckets[b]; c; c = c->hnext)
      n += !c->in_batch && pick(ud, c);
  if(!n)
    return 0;
  struct ks_call **v = malloc(n * sizeof(*v));
  if(!v) { /* one at a time, then */
    size_t done = 0;
    for(size_t b = 0; b < s->nbuckets; b++)
      for(struct ks_call *c = s->buckets[b], *next; c; c = next) {
        next = c->hnext;
        if(!c->in_batch && pick(ud, c)) {
          ks_forget(s, c);
          done++;
        }
      }
    return done;
  }
  size_t k = 0;
  for(size_t b = 0; b < s->nbuckets; b++)
    for(struct ks_call *c = s->buckets[b]; c; c = c->hnext)
      if(!c->in_batch && pick(ud, c) && k < n)
        v[k++] = c;
  /* the dirty list, rebuilt once without the picked calls */
  struct ks_call **p;
  for(p = &s->dirty; *p;) {
    struct ks_call *c = *p;
    if(!c->in_batch && pick(ud, c)) {
      *p = c->next_dirty;
      c->dirty = 0;
    }
    else
      p = &c->next_dirty;
  }
  for(size_t i = 0; i < k; i++) {
    heap_remove(s, v[i]);
    ready_remove(s, v[i]);
    landed(s, v[i]);
    unrank(s, v[i]);
    hash_remove(s, v[i]);
    call_free(v[i]);
  }
  free(v);
  return k;
}

size_t ks_count(const struct ks_sched *s)
{
  return s->count;
}

size_t ks_scheduled(const struct ks_sched *s)
{
  return s->heap.len + s->ready.len + s->in_flight;
}

int64_t ks_next_due_wall(const struct ks_call *c, int64_t now_mono,
                         int64_t now_wall)
{
  if(c->heap_idx == KS_NOT_QUEUED && !c->ready)
    return c->in_flight ? now_wall : 0;
  return now_wall + (c->due_mono - now_mono);
}
