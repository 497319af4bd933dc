/* SPDX-License-Identifier: MIT */
/* tokenrefresh.c - when to refresh each tenant's token ahead of expiry. */
#include "tokenrefresh.h"

#include <stdlib.h>
#include <string.h>

struct tenant {
  char *id;           /* NULL = the credential's tenant */
  int64_t used_mono;  /* last keepAlive for it */
  int64_t check_mono; /* next look at its token */
  long margin_s;      /* refresh when fewer seconds remain; 0 = just get */
  int asked;          /* the last look left a request under way */
};

struct ktr {
  struct tenant *v;
  size_t n, cap;
  int64_t forget_ms;
};

struct ktr *ktr_new(int64_t forget_ms)
{
  struct ktr *t = calloc(1, sizeof(*t));
  if(t)
    t->forget_ms = forget_ms;
  return t;
}

void ktr_free(struct ktr *t)
{
  if(!t)
    return;
  for(size_t i = 0; i < t->n; i++)
    free(t->v[i].id);
  free(t->v);
  free(t);
}

size_t ktr_count(const struct ktr *t)
{
  return t ? t->n : 0;
}

static int same(const char *a, const char *b)
{
  return (!a && !b) || (a && b && !strcmp(a, b));
}

void ktr_touch(struct ktr *t, const char *tenant, int64_t now_mono)
{
  if(!t)
    return;
  for(size_t i = 0; i < t->n; i++)
    if(same(t->v[i].id, tenant)) {
      t->v[i].used_mono = now_mono;
      return;
    }
  if(t->n == KTR_MAX_TENANTS)
    return; /* the library still refreshes on demand */
  if(t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    struct tenant *grown = realloc(t->v, cap * sizeof(*grown));
    if(!grown)
      return;
    t->v = grown;
    t->cap = cap;
  }
  char *id = NULL;
  if(tenant && !(id = strdup(tenant)))
    return;
  t->v[t->n++] = (struct tenant){id, now_mono, now_mono, 0, 0};
}

long ktr_margin_s(long lifetime_s)
{
  if(lifetime_s < 0)
    return KTR_MARGIN_MAX_S;
  if(lifetime_s <= KTR_LIBRARY_MARGIN_S + 1) /* no whole second between */
    return 0;
  long m = (lifetime_s + KTR_LIBRARY_MARGIN_S + 1) / 2;
  return m < KTR_MARGIN_MAX_S ? m : KTR_MARGIN_MAX_S;
}

static void refresh(struct tenant *e, int64_t now, ktr_fetch_fn fn, void *ud)
{
  long left = -1, life = -1;
  int pending = 0;
  int rc = fn(ud, e->id, e->margin_s, e->asked, &pending, &left, &life);
  e->asked = !rc && pending;
  if(rc) {
    e->check_mono = now + KTR_RETRY_MS;
    return;
  }
  if(pending) {
    e->check_mono = now + KTR_PENDING_MS;
    return;
  }
  e->margin_s = ktr_margin_s(life);
  if(left < 0 || e->margin_s == 0) /* unknown expiry, or too short-lived */
    e->check_mono = now + KTR_UNKNOWN_MS;
  else if(left - e->margin_s + 1 > 1)
    e->check_mono = now + (int64_t)(left - e->margin_s + 1) * 1000;
  else
    e->check_mono = now + 1000;
}

int ktr_run(struct ktr *t, int64_t now_mono, ktr_fetch_fn fn, void *ud)
{
  if(!t || !fn)
    return 0;
  int calls = 0;
  for(size_t i = 0; i < t->n;) {
    struct tenant *e = &t->v[i];
    if(now_mono - e->used_mono > t->forget_ms) { /* no keepAlive lately */
      free(e->id);
      t->v[i] = t->v[--t->n];
      continue;
    }
    i++;
    if(now_mono < e->check_mono)
      continue;
    refresh(e, now_mono, fn, ud);
    calls++;
  }
  return calls;
}
