/* SPDX-License-Identifier: MIT */
/* calls.c - call store: slab of compact records, open-addressing id index,
 * interned strings, a timer heap and the thread that fires it. */
#include "calls.h"

#include "timer_heap.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_CALLS (4u * 1024 * 1024)
#define MAX_STRING_LEN 2048u
/* Bytes of interned tenant / app / callbackUri strings held at once: far
 * above what the call limit needs for real ids and URLs. */
#define MAX_STRING_BYTES ((size_t)1 << 30)
#define SLOT_FREE 0xFF

/* One call: 72 bytes.  Times are monotonic ms; last_ka 0 means none.
 * max_gap: the longest closed gap between successful keepAlives (from
 * creation), in ms. */
struct call {
  uint8_t id[16];
  int64_t created, last_ka, ended;
  uint32_t heap_pos, tenant, app, callback, keepalives, max_gap;
  uint8_t state, end_reason, modalities, media;
};

/* An interned string: freed with the last call that uses it, or later when
 * an emu_call_info still holds it (emu_calls_info_release). */
struct istr {
  _Atomic uint32_t refs; /* 1 while calls use it, + 1 per info holding it */
  uint32_t calls;        /* calls using it (store lock) */
  size_t len;
  char s[];
};

struct strtab {
  struct istr **str; /* slot -> string; slot 0 is "", NULL a free slot */
  uint32_t *idx;     /* hash -> slot + 1 (0 empty) */
  uint32_t len, cap, mask;
  uint32_t *free_slots;
  uint32_t nfree, free_cap;
  uint32_t live; /* strings held, "" not counted */
  size_t bytes;
};

struct emu_calls {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  int thread_started, stopping;
  struct emu_calls_config cfg;
  emu_call_event_fn on_event;
  void *ctx;
  int64_t wall_offset; /* wall ms = mono ms + wall_offset */

  struct call *slab;
  uint32_t slab_len, slab_cap;
  uint32_t *free_list;
  uint32_t free_len, free_cap;
  uint32_t *index; /* id hash -> slab index + 1 */
  uint32_t index_mask, count;

  struct strtab strings;
  struct emu_timer_heap heap;
  struct emu_calls_stats stats; /* max_gap_ms: closed gaps only */
  uint64_t generation;
  int64_t (*clock)(void);
};

int64_t emu_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- UUIDs ------------------------------------------------------------ */

int emu_uuid_parse(const char *s, uint8_t out[16])
{
  size_t n = 0;
  for(size_t i = 0; i < 36; i++) {
    if(i == 8 || i == 13 || i == 18 || i == 23) {
      if(s[i] != '-')
        return -1;
      continue;
    }
    int hi = mgcx_hexval(s[i]);
    if(hi < 0)
      return -1;
    int lo = mgcx_hexval(s[++i]);
    if(lo < 0)
      return -1;
    out[n++] = (uint8_t)(hi << 4 | lo);
  }
  return s[36] == '\0' ? 0 : -1;
}

void emu_uuid_format(const uint8_t id[16], char out[37])
{
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for(size_t i = 0; i < 16; i++) {
    if(i == 4 || i == 6 || i == 8 || i == 10)
      out[o++] = '-';
    out[o++] = hex[id[i] >> 4];
    out[o++] = hex[id[i] & 15];
  }
  out[o] = '\0';
}

static void uuid_bytes(uint8_t id[16])
{
  if(RAND_bytes(id, 16) != 1) {
    /* Not for security: fall back to a clock-seeded generator. */
    static uint64_t x;
    if(!x)
      x = (uint64_t)wall_now_ms() ^ 0x9e3779b97f4a7c15ULL;
    for(size_t i = 0; i < 16; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      id[i] = (uint8_t)x;
    }
  }
  id[6] = (uint8_t)((id[6] & 0x0F) | 0x40);
  id[8] = (uint8_t)((id[8] & 0x3F) | 0x80);
}

void emu_uuid_new(char out[37])
{
  /* Request ids and the like: a per-thread xorshift generator seeded from
   * the system's CSPRNG (fast; these ids are not secrets). */
  static _Thread_local uint64_t x;
  if(!x) {
    if(RAND_bytes((unsigned char *)&x, sizeof(x)) != 1 || !x)
      x = (uint64_t)wall_now_ms() ^ (uint64_t)(uintptr_t)&x;
    x |= 1;
  }
  uint8_t id[16];
  for(size_t i = 0; i < 16; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint64_t r = x * 0x2545F4914F6CDD1DULL;
    memcpy(id + i, &r, 8);
  }
  id[6] = (uint8_t)((id[6] & 0x0F) | 0x40);
  id[8] = (uint8_t)((id[8] & 0x3F) | 0x80);
  emu_uuid_format(id, out);
}

/* ---- interned strings --------------------------------------------------- */

static uint64_t hash_bytes(const void *p, size_t n)
{
  const unsigned char *b = p;
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for(size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static struct istr *istr_new(const char *str, size_t n)
{
  struct istr *i = malloc(sizeof(*i) + n + 1);
  if(!i)
    return NULL;
  atomic_init(&i->refs, 1);
  i->calls = 0;
  i->len = n;
  memcpy(i->s, str, n + 1);
  return i;
}

static void istr_put(struct istr *i)
{
  if(i && atomic_fetch_sub(&i->refs, 1) == 1)
    free(i);
}

static int strtab_init(struct strtab *t)
{
  t->cap = 64;
  t->str = calloc(t->cap, sizeof(*t->str));
  t->mask = 127;
  t->idx = calloc(t->mask + 1, sizeof(*t->idx));
  if(!t->str || !t->idx)
    return -1;
  t->str[0] = istr_new("", 0);
  t->len = 1;
  return t->str[0] ? 0 : -1;
}

static void strtab_release(struct strtab *t)
{
  for(uint32_t i = 0; t->str && i < t->len; i++)
    istr_put(t->str[i]); /* an info still holding one keeps it */
  free(t->str);
  free(t->idx);
  free(t->free_slots);
}

static uint32_t istr_home(const struct istr *i, uint32_t mask)
{
  return (uint32_t)hash_bytes(i->s, i->len) & mask;
}

static int strtab_grow_index(struct strtab *t)
{
  uint32_t mask = t->mask * 2 + 1;
  uint32_t *idx = calloc((size_t)mask + 1, sizeof(*idx));
  if(!idx)
    return -1;
  for(uint32_t i = 1; i < t->len; i++) {
    if(!t->str[i])
      continue;
    uint32_t h = istr_home(t->str[i], mask);
    while(idx[h])
      h = (h + 1) & mask;
    idx[h] = i + 1;
  }
  free(t->idx);
  t->idx = idx;
  t->mask = mask;
  return 0;
}

/* The slot of s, interned and counted for one more call; UINT32_MAX when
 * too long or out of memory.  "" is slot 0 and not counted. */
static uint32_t strtab_intern(struct strtab *t, const char *s)
{
  if(!s || !*s)
    return 0;
  size_t n = strlen(s);
  if(n > MAX_STRING_LEN)
    return UINT32_MAX;
  uint32_t h = (uint32_t)hash_bytes(s, n) & t->mask;
  while(t->idx[h]) {
    uint32_t i = t->idx[h] - 1;
    if(t->str[i]->len == n && !memcmp(t->str[i]->s, s, n)) {
      t->str[i]->calls++;
      return i;
    }
    h = (h + 1) & t->mask;
  }
  if(t->bytes + n > MAX_STRING_BYTES || t->len == UINT32_MAX - 1)
    return UINT32_MAX;
  if(!t->nfree && t->len == t->cap) {
    struct istr **str = realloc(t->str, (size_t)t->cap * 2 * sizeof(*str));
    if(!str)
      return UINT32_MAX;
    t->str = str;
    t->cap *= 2;
  }
  if(!t->nfree && (uint64_t)(t->live + 2) * 2 > t->mask) {
    if(strtab_grow_index(t))
      return UINT32_MAX;
    h = (uint32_t)hash_bytes(s, n) & t->mask;
    while(t->idx[h])
      h = (h + 1) & t->mask;
  }
  struct istr *copy = istr_new(s, n);
  if(!copy)
    return UINT32_MAX;
  copy->calls = 1;
  uint32_t i = t->nfree ? t->free_slots[--t->nfree] : t->len++;
  t->str[i] = copy;
  t->idx[h] = i + 1;
  t->live++;
  t->bytes += n;
  return i;
}

/* One call less uses slot i; the last one takes the string out of the
 * table (linear-probing removal with backward shift). */
static void strtab_unref(struct strtab *t, uint32_t i)
{
  struct istr *str = i ? t->str[i] : NULL;
  if(!str || --str->calls)
    return;
  if(t->nfree == t->free_cap) {
    uint32_t cap = t->free_cap ? t->free_cap * 2 : 256;
    uint32_t *fs = realloc(t->free_slots, (size_t)cap * sizeof(*fs));
    if(!fs) {
      str->calls = 1; /* keep it rather than lose track of the slot */
      return;
    }
    t->free_slots = fs;
    t->free_cap = cap;
  }
  uint32_t hole = istr_home(str, t->mask);
  while(t->idx[hole] != i + 1)
    hole = (hole + 1) & t->mask;
  t->idx[hole] = 0;
  for(uint32_t j = (hole + 1) & t->mask; t->idx[j]; j = (j + 1) & t->mask) {
    uint32_t home = istr_home(t->str[t->idx[j] - 1], t->mask);
    int in_range =
        hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if(!in_range) {
      t->idx[hole] = t->idx[j];
      t->idx[j] = 0;
      hole = j;
    }
  }
  t->str[i] = NULL;
  t->free_slots[t->nfree++] = i;
  t->live--;
  t->bytes -= str->len;
  istr_put(str);
}

/* ---- id index --------------------------------------------------------------
 */

static uint32_t id_hash(const uint8_t id[16], uint32_t mask)
{
  uint64_t a, b;
  memcpy(&a, id, 8);
  memcpy(&b, id + 8, 8);
  uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ULL)) * 0xBF58476D1CE4E5B9ULL;
  return (uint32_t)(h >> 32) & mask;
}

static uint32_t *index_find(struct emu_calls *s, const uint8_t id[16])
{
  uint32_t h = id_hash(id, s->index_mask);
  while(s->index[h]) {
    if(!memcmp(s->slab[s->index[h] - 1].id, id, 16))
      return &s->index[h];
    h = (h + 1) & s->index_mask;
  }
  return NULL;
}

static int index_grow(struct emu_calls *s)
{
  uint32_t mask = s->index_mask * 2 + 1;
  uint32_t *idx = calloc((size_t)mask + 1, sizeof(*idx));
  if(!idx)
    return -1;
  for(uint32_t i = 0; i <= s->index_mask; i++) {
    uint32_t v = s->index[i];
    if(!v)
      continue;
    uint32_t h = id_hash(s->slab[v - 1].id, mask);
    while(idx[h])
      h = (h + 1) & mask;
    idx[h] = v;
  }
  free(s->index);
  s->index = idx;
  s->index_mask = mask;
  return 0;
}

static void index_insert(struct emu_calls *s, uint32_t slot)
{
  uint32_t h = id_hash(s->slab[slot].id, s->index_mask);
  while(s->index[h])
    h = (h + 1) & s->index_mask;
  s->index[h] = slot + 1;
  s->count++;
}

/* Linear probing removal with backward shift (no tombstones). */
static void index_remove(struct emu_calls *s, uint32_t *entry)
{
  uint32_t mask = s->index_mask;
  uint32_t hole = (uint32_t)(entry - s->index);
  uint32_t i = hole;
  s->index[hole] = 0;
  for(;;) {
    i = (i + 1) & mask;
    uint32_t v = s->index[i];
    if(!v)
      break;
    uint32_t home = id_hash(s->slab[v - 1].id, mask);
    /* Move v into the hole if its home is not cyclically in (hole, i]. */
    int in_range =
        hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if(!in_range) {
      s->index[hole] = v;
      s->index[i] = 0;
      hole = i;
    }
  }
  s->count--;
}

/* ---- slab + heap --------------------------------------------------------- */

static void heap_moved(void *ctx, uint32_t item, uint32_t pos)
{
  struct emu_calls *s = ctx;
  s->slab[item].heap_pos = pos;
}

static uint32_t slot_alloc(struct emu_calls *s)
{
  if(s->free_len)
    return s->free_list[--s->free_len];
  if(s->slab_len == s->slab_cap) {
    uint32_t cap = s->slab_cap ? s->slab_cap * 2 : 1024;
    if(cap > s->cfg.max_calls)
      cap = s->cfg.max_calls;
    if(cap <= s->slab_len)
      return UINT32_MAX;
    struct call *slab = realloc(s->slab, (size_t)cap * sizeof(*slab));
    if(!slab)
      return UINT32_MAX;
    s->slab = slab;
    s->slab_cap = cap;
  }
  return s->slab_len++;
}

static void slot_free(struct emu_calls *s, uint32_t slot)
{
  s->slab[slot].state = SLOT_FREE;
  if(s->free_len == s->free_cap) {
    uint32_t cap = s->free_cap ? s->free_cap * 2 : 1024;
    uint32_t *fl = realloc(s->free_list, (size_t)cap * sizeof(*fl));
    if(!fl)
      return; /* leak the slot rather than fail */
    s->free_list = fl;
    s->free_cap = cap;
  }
  s->free_list[s->free_len++] = slot;
}

static int64_t deadline(const struct emu_calls *s, const struct call *c)
{
  return (c->last_ka ? c->last_ka : c->created) + s->cfg.inactivity_ms;
}

/* The gap open since the last successful keepAlive (or creation), up to
 * the end or now. */
static int64_t open_gap(const struct call *c, int64_t now)
{
  int64_t to = c->state == EMU_CALL_TERMINATED ? c->ended : now;
  int64_t gap = to - (c->last_ka ? c->last_ka : c->created);
  return gap > 0 ? gap : 0;
}

/* Close the open gap at now (a keepAlive or the end). */
static void close_gap(struct emu_calls *s, struct call *c, int64_t now)
{
  int64_t gap = now - (c->last_ka ? c->last_ka : c->created);
  if(gap > (int64_t)UINT32_MAX)
    gap = UINT32_MAX;
  if(gap > (int64_t)c->max_gap)
    c->max_gap = (uint32_t)gap;
  if(gap > s->stats.max_gap_ms)
    s->stats.max_gap_ms = gap;
}

/* When the call's next timer fires. */
static int64_t next_due(const struct emu_calls *s, const struct call *c)
{
  if(c->state == EMU_CALL_TERMINATED)
    return c->ended + s->cfg.retention_ms;
  int64_t d = deadline(s, c);
  if(c->state == EMU_CALL_ESTABLISHING && c->created + s->cfg.establish_ms < d)
    return c->created + s->cfg.establish_ms;
  return d;
}

static void to_info(const struct emu_calls *s, const struct call *c,
                    struct emu_call_info *out)
{
  emu_uuid_format(c->id, out->id);
  out->state = (enum emu_call_state)c->state;
  out->end_reason = (enum emu_end_reason)c->end_reason;
  out->created_ms = c->created + s->wall_offset;
  out->last_keepalive_ms = c->last_ka ? c->last_ka + s->wall_offset : 0;
  out->ended_ms =
      c->state == EMU_CALL_TERMINATED ? c->ended + s->wall_offset : 0;
  out->expires_ms = next_due(s, c) + s->wall_offset;
  if(c->state == EMU_CALL_ESTABLISHING)
    out->expires_ms = deadline(s, c) + s->wall_offset;
  out->keepalives = c->keepalives;
  int64_t gap = open_gap(c, s->clock());
  out->max_gap_ms = gap > (int64_t)c->max_gap ? gap : (int64_t)c->max_gap;
  out->modalities = c->modalities;
  out->media = (enum emu_media)c->media;
  const uint32_t slots[3] = {c->tenant, c->app, c->callback};
  const char **strs[3] = {&out->tenant, &out->app, &out->callback};
  for(size_t k = 0; k < 3; k++) {
    struct istr *i = s->strings.str[slots[k]];
    *strs[k] = i->s;
    out->held_[k] = NULL;
    if(slots[k]) { /* pinned until emu_calls_info_release() */
      atomic_fetch_add(&i->refs, 1);
      out->held_[k] = i;
    }
  }
}

void emu_calls_info_release(struct emu_call_info *info)
{
  for(size_t k = 0; info && k < 3; k++) {
    istr_put(info->held_[k]);
    info->held_[k] = NULL;
  }
}

/* An out parameter the store may not fill: safe to release either way. */
static void info_clear(struct emu_call_info *out)
{
  if(out)
    out->held_[0] = out->held_[1] = out->held_[2] = NULL;
}

/* The call's strings are used by one call less (it is forgotten). */
static void unref_strings(struct emu_calls *s, const struct call *c)
{
  strtab_unref(&s->strings, c->tenant);
  strtab_unref(&s->strings, c->app);
  strtab_unref(&s->strings, c->callback);
}

static void wake_timer(struct emu_calls *s)
{
  pthread_cond_signal(&s->wake);
}

/* ---- lifecycle ----------------------------------------------------------- */

struct emu_calls *emu_calls_new(const struct emu_calls_config *cfg,
                                emu_call_event_fn on_event, void *ctx)
{
  struct emu_calls *s = calloc(1, sizeof(*s));
  if(!s)
    return NULL;
  s->cfg = *cfg;
  if(!s->cfg.max_calls)
    s->cfg.max_calls = DEFAULT_MAX_CALLS;
  s->clock = cfg->clock ? cfg->clock : emu_now_ms;
  s->on_event = on_event;
  s->ctx = ctx;
  s->wall_offset = wall_now_ms() - s->clock();
  pthread_mutex_init(&s->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->wake, &ca);
  pthread_condattr_destroy(&ca);
  emu_heap_init(&s->heap, heap_moved, s);
  s->index_mask = 1023;
  s->index = calloc(s->index_mask + 1, sizeof(*s->index));
  if(!s->index || strtab_init(&s->strings)) {
    emu_calls_free(s);
    return NULL;
  }
  return s;
}

void emu_calls_free(struct emu_calls *s)
{
  if(!s)
    return;
  if(s->thread_started) {
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    wake_timer(s);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
  }
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->wake);
  emu_heap_release(&s->heap);
  strtab_release(&s->strings);
  free(s->slab);
  free(s->free_list);
  free(s->index);
  free(s);
}

#define BATCH 256

/* Fire due timers; fills events (at most BATCH) and returns how many. */
static size_t run_due(struct emu_calls *s, int64_t now,
                      struct emu_call_info *ev, enum emu_call_event *kind)
{
  size_t n = 0;
  const struct emu_timer *t;
  while(n < BATCH && (t = emu_heap_top(&s->heap)) && t->due <= now) {
    uint32_t slot = t->item;
    struct call *c = &s->slab[slot];
    if(c->state == EMU_CALL_TERMINATED) {
      /* Retention over: forget the call. */
      emu_heap_remove(&s->heap, c->heap_pos);
      uint32_t *e = index_find(s, c->id);
      if(e)
        index_remove(s, e);
      s->stats.ended--;
      s->stats.dropped++;
      unref_strings(s, c);
      slot_free(s, slot);
      s->generation++;
      continue;
    }
    if(deadline(s, c) <= now) {
      close_gap(s, c, now);
      c->state = EMU_CALL_TERMINATED;
      c->end_reason = EMU_END_TIMEOUT;
      c->ended = now;
      s->stats.active--;
      s->stats.ended++;
      s->stats.ended_timeout++;
      kind[n] = EMU_EVENT_ENDED;
    }
    else {
      c->state = EMU_CALL_ESTABLISHED;
      kind[n] = EMU_EVENT_ESTABLISHED;
    }
    emu_heap_update(&s->heap, c->heap_pos, next_due(s, c));
    to_info(s, c, &ev[n++]);
    s->generation++;
  }
  return n;
}

size_t emu_calls_run_due(struct emu_calls *s)
{
  struct emu_call_info *ev = malloc(BATCH * sizeof(*ev));
  enum emu_call_event kind[BATCH];
  size_t total = 0, n;
  if(!ev)
    return 0;
  do {
    pthread_mutex_lock(&s->lock);
    n = run_due(s, s->clock(), ev, kind);
    pthread_mutex_unlock(&s->lock);
    for(size_t i = 0; i < n; i++) {
      if(s->on_event)
        s->on_event(s->ctx, kind[i], &ev[i]);
      emu_calls_info_release(&ev[i]);
    }
    total += n;
  } while(n == BATCH);
  free(ev);
  return total;
}

static void *timer_main(void *arg)
{
  struct emu_calls *s = arg;
  for(;;) {
    emu_calls_run_due(s);
    pthread_mutex_lock(&s->lock);
    if(s->stopping) {
      pthread_mutex_unlock(&s->lock);
      break;
    }
    int64_t now = s->clock();
    const struct emu_timer *t = emu_heap_top(&s->heap);
    if(!t || t->due > now) {
      /* Sleep until the next timer (at most a minute: a safety net).  The
       * condition variable runs on CLOCK_MONOTONIC like emu_now_ms(). */
      int64_t until = t ? t->due : now + 60000;
      if(until > now + 60000)
        until = now + 60000;
      int64_t abs_ms = emu_now_ms() + (until - now);
      struct timespec ts = {(time_t)(abs_ms / 1000),
                            (long)(abs_ms % 1000) * 1000000L};
      pthread_cond_timedwait(&s->wake, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
  }
  return NULL;
}

int emu_calls_start(struct emu_calls *s)
{
  if(pthread_create(&s->thread, NULL, timer_main, s))
    return -1;
  s->thread_started = 1;
  return 0;
}

static enum emu_call_result insert(struct emu_calls *s, const uint8_t id[16],
                                   const struct emu_call_info *in,
                                   int64_t created, int64_t last_ka,
                                   int64_t ended, struct emu_call_info *out)
{
  if(index_find(s, id))
    return EMU_CALLS_INVALID;
  if(s->count >= s->cfg.max_calls)
    return EMU_CALLS_FULL;
  if((uint64_t)(s->count + 1) * 2 > s->index_mask && index_grow(s))
    return EMU_CALLS_FULL;
  uint32_t tenant = strtab_intern(&s->strings, in->tenant);
  uint32_t app =
      tenant == UINT32_MAX ? UINT32_MAX : strtab_intern(&s->strings, in->app);
  uint32_t cb =
      app == UINT32_MAX ? UINT32_MAX : strtab_intern(&s->strings, in->callback);
  uint32_t slot = cb == UINT32_MAX ? UINT32_MAX : slot_alloc(s);
  if(slot == UINT32_MAX) {
    if(tenant != UINT32_MAX)
      strtab_unref(&s->strings, tenant);
    if(app != UINT32_MAX)
      strtab_unref(&s->strings, app);
    if(cb != UINT32_MAX)
      strtab_unref(&s->strings, cb);
    return EMU_CALLS_FULL;
  }
  struct call *c = &s->slab[slot];
  memset(c, 0, sizeof(*c));
  memcpy(c->id, id, 16);
  c->created = created;
  c->last_ka = last_ka;
  c->ended = ended;
  c->tenant = tenant;
  c->app = app;
  c->callback = cb;
  c->keepalives = in->keepalives;
  c->max_gap = in->max_gap_ms > (int64_t)UINT32_MAX ? UINT32_MAX
               : in->max_gap_ms > 0                 ? (uint32_t)in->max_gap_ms
                                                    : 0;
  if(in->max_gap_ms > s->stats.max_gap_ms)
    s->stats.max_gap_ms = c->max_gap;
  c->state = (uint8_t)in->state;
  c->end_reason = (uint8_t)in->end_reason;
  c->modalities = (uint8_t)in->modalities;
  c->media = (uint8_t)in->media;
  c->heap_pos = EMU_HEAP_NONE;
  if(emu_heap_push(&s->heap, next_due(s, c), slot)) {
    unref_strings(s, c);
    slot_free(s, slot);
    return EMU_CALLS_FULL;
  }
  index_insert(s, slot);
  if(c->state == EMU_CALL_TERMINATED)
    s->stats.ended++;
  else
    s->stats.active++;
  s->generation++;
  if(out)
    to_info(s, c, out);
  wake_timer(s);
  return EMU_CALLS_OK;
}

enum emu_call_result emu_calls_create(struct emu_calls *s, const char *tenant,
                                      const char *app, const char *callback,
                                      unsigned modalities, enum emu_media media,
                                      struct emu_call_info *out)
{
  struct emu_call_info in;
  memset(&in, 0, sizeof(in));
  in.tenant = tenant;
  in.app = app;
  in.callback = callback;
  in.modalities = modalities;
  in.media = media;
  in.state = EMU_CALL_ESTABLISHING;
  info_clear(out);
  uint8_t id[16];
  enum emu_call_result rc;
  pthread_mutex_lock(&s->lock);
  int64_t now = s->clock();
  do {
    uuid_bytes(id);
    rc = insert(s, id, &in, now, 0, 0, out);
  } while(rc == EMU_CALLS_INVALID);
  if(rc == EMU_CALLS_OK)
    s->stats.created++;
  pthread_mutex_unlock(&s->lock);
  return rc;
}

/* The live record for id, or NULL.  Lock held. */
static struct call *lookup(struct emu_calls *s, const char *id)
{
  uint8_t bin[16];
  if(!id || strlen(id) != 36 || emu_uuid_parse(id, bin))
    return NULL;
  uint32_t *e = index_find(s, bin);
  return e ? &s->slab[*e - 1] : NULL;
}

enum emu_call_result emu_calls_get(struct emu_calls *s, const char *id,
                                   struct emu_call_info *out)
{
  info_clear(out);
  pthread_mutex_lock(&s->lock);
  struct call *c = lookup(s, id);
  if(c && out)
    to_info(s, c, out);
  pthread_mutex_unlock(&s->lock);
  return c ? EMU_CALLS_OK : EMU_CALLS_NOT_FOUND;
}

static int tenant_differs(struct emu_calls *s, const struct call *c,
                          const char *tenant)
{
  return tenant && strcmp(s->strings.str[c->tenant]->s, tenant) != 0;
}

enum emu_call_result emu_calls_keepalive(struct emu_calls *s, const char *id,
                                         const char *tenant,
                                         struct emu_call_info *out)
{
  enum emu_call_result rc = EMU_CALLS_OK;
  info_clear(out);
  pthread_mutex_lock(&s->lock);
  struct call *c = lookup(s, id);
  int64_t now = s->clock();
  if(!c || c->state == EMU_CALL_TERMINATED || deadline(s, c) <= now)
    rc = EMU_CALLS_NOT_FOUND; /* a due timeout not yet fired is ended too */
  else if(tenant_differs(s, c, tenant))
    rc = EMU_CALLS_WRONG_TENANT;
  else {
    close_gap(s, c, now);
    c->last_ka = now;
    c->keepalives++;
    s->stats.keepalives++;
    s->generation++;
    emu_heap_update(&s->heap, c->heap_pos, next_due(s, c));
  }
  if(c && out)
    to_info(s, c, out);
  pthread_mutex_unlock(&s->lock);
  return rc;
}

enum emu_call_result emu_calls_end(struct emu_calls *s, const char *id,
                                   const char *tenant,
                                   enum emu_end_reason reason,
                                   struct emu_call_info *out)
{
  struct emu_call_info info;
  enum emu_call_result rc = EMU_CALLS_OK;
  info_clear(out);
  pthread_mutex_lock(&s->lock);
  struct call *c = lookup(s, id);
  int64_t now = s->clock();
  if(!c || c->state == EMU_CALL_TERMINATED || deadline(s, c) <= now)
    rc = EMU_CALLS_NOT_FOUND;
  else if(tenant_differs(s, c, tenant))
    rc = EMU_CALLS_WRONG_TENANT;
  else {
    close_gap(s, c, now);
    c->state = EMU_CALL_TERMINATED;
    c->end_reason = (uint8_t)reason;
    c->ended = now;
    s->stats.active--;
    s->stats.ended++;
    if(reason == EMU_END_DELETED)
      s->stats.ended_deleted++;
    else
      s->stats.ended_emulator++;
    s->generation++;
    emu_heap_update(&s->heap, c->heap_pos, next_due(s, c));
    wake_timer(s);
  }
  if(c)
    to_info(s, c, &info);
  pthread_mutex_unlock(&s->lock);
  if(rc == EMU_CALLS_OK && s->on_event)
    s->on_event(s->ctx, EMU_EVENT_ENDED, &info);
  if(c && out)
    *out = info; /* the caller releases it */
  else if(c)
    emu_calls_info_release(&info);
  return rc;
}

size_t emu_calls_list(struct emu_calls *s, size_t *pos,
                      struct emu_call_info *out, size_t max)
{
  size_t n = 0;
  pthread_mutex_lock(&s->lock);
  while(n < max && *pos < s->slab_len) {
    const struct call *c = &s->slab[(*pos)++];
    if(c->state != SLOT_FREE)
      to_info(s, c, &out[n++]);
  }
  pthread_mutex_unlock(&s->lock);
  return n;
}

void emu_calls_get_stats(struct emu_calls *s, struct emu_calls_stats *out)
{
  pthread_mutex_lock(&s->lock);
  *out = s->stats;
  out->strings = s->strings.live;
  int64_t now = s->clock();
  out->open_gap_ms = 0;
  for(uint32_t i = 0; i < s->slab_len; i++) { /* the gaps still open */
    const struct call *c = &s->slab[i];
    if(c->state == SLOT_FREE || c->state == EMU_CALL_TERMINATED)
      continue;
    int64_t gap = open_gap(c, now);
    if(gap > out->open_gap_ms)
      out->open_gap_ms = gap;
  }
  if(out->open_gap_ms > out->max_gap_ms)
    out->max_gap_ms = out->open_gap_ms;
  pthread_mutex_unlock(&s->lock);
}

uint64_t emu_calls_generation(struct emu_calls *s)
{
  pthread_mutex_lock(&s->lock);
  uint64_t g = s->generation;
  pthread_mutex_unlock(&s->lock);
  return g;
}

enum emu_call_result emu_calls_restore(struct emu_calls *s,
                                       const struct emu_call_info *in)
{
  uint8_t id[16];
  if(emu_uuid_parse(in->id, id) || in->state > EMU_CALL_TERMINATED ||
     in->created_ms <= 0)
    return EMU_CALLS_INVALID;
  pthread_mutex_lock(&s->lock);
  int64_t off = s->wall_offset;
  int64_t created = in->created_ms - off;
  int64_t last_ka = in->last_keepalive_ms ? in->last_keepalive_ms - off : 0;
  int64_t ended = in->state == EMU_CALL_TERMINATED
                      ? (in->ended_ms ? in->ended_ms : in->created_ms) - off
                      : 0;
  enum emu_call_result rc = insert(s, id, in, created, last_ka, ended, NULL);
  pthread_mutex_unlock(&s->lock);
  return rc;
}
