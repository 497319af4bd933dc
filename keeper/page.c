/* SPDX-License-Identifier: MIT */
/* page.c - GET /calls, one page at a time. */
#include "page.h"

#include "ids.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name;
  unsigned bit;
} state_bits[] = {
    {"active", KSTORE_STATE_ACTIVE},
    {"at-risk", KSTORE_STATE_AT_RISK},
    {"ended", KSTORE_STATE_ENDED},
    {"lost", KSTORE_STATE_LOST},
};

static unsigned bit_of(const char *state)
{
  for(size_t i = 0; state && i < sizeof(state_bits) / sizeof(state_bits[0]);
      i++)
    if(!strcmp(state, state_bits[i].name))
      return state_bits[i].bit;
  return 0;
}

int kpage_parse(const char *state, const char *limit, const char *after,
                size_t after_len, struct kpage_query *q, char *why,
                size_t whylen)
{
  memset(q, 0, sizeof(*q));
  q->limit = KPAGE_DEFAULT_LIMIT;
  if(state && !(q->states = bit_of(state))) {
    snprintf(why, whylen, "\"state\" must be active, at-risk, ended or lost");
    return -1;
  }
  if(limit) {
    char *end;
    errno = 0;
    unsigned long n = strtoul(limit, &end, 10);
    if(*limit < '0' || *limit > '9' || *end || errno || n < 1 ||
       n > KPAGE_MAX_LIMIT) {
      snprintf(why, whylen, "\"limit\" must be 1..%d", KPAGE_MAX_LIMIT);
      return -1;
    }
    q->limit = (size_t)n;
  }
  if(after && after_len) {
    if(after_len > KS_ID_MAX || memchr(after, '\0', after_len) ||
       !mgc__call_id_ok(after)) {
      snprintf(why, whylen, "\"after\" is not a cursor of this API");
      return -1;
    }
    memcpy(q->after, after, after_len);
    q->after[after_len] = '\0';
  }
  return 0;
}

/* A row with its own copies of the strings. */
struct own_row {
  struct kstore_call r;
  int64_t deadline_ms;
  char *call_id, *tenant_id, *state, *reason, *last_error;
};

struct page {
  struct own_row *v;
  size_t n, cap;
  int oom;
};

static void own_release(struct own_row *o)
{
  free(o->call_id);
  free(o->tenant_id);
  free(o->state);
  free(o->reason);
  free(o->last_error);
}

static char *dup_or_null(const char *s, int *oom)
{
  if(!s)
    return NULL;
  char *d = strdup(s);
  if(!d)
    *oom = 1;
  return d;
}

/* Copy r's strings into o (what was there is freed). */
static void own_set(struct own_row *o, const struct kstore_call *r, int *oom)
{
  own_release(o);
  o->r = *r;
  o->r.call_id = o->call_id = dup_or_null(r->call_id, oom);
  o->r.tenant_id = o->tenant_id = dup_or_null(r->tenant_id, oom);
  o->r.state = o->state = dup_or_null(r->state, oom);
  o->r.reason = o->reason = dup_or_null(r->reason, oom);
  o->r.last_error = o->last_error = dup_or_null(r->last_error, oom);
}

static int take_row(void *ud, const struct kstore_call *r)
{
  struct page *p = ud;
  if(p->n == p->cap) {
    p->oom = 1;
    return 1;
  }
  struct own_row *o = &p->v[p->n++];
  memset(o, 0, sizeof(*o));
  own_set(o, r, &p->oom);
  o->r.next_due_ms = 0; /* stored values are not kept current */
  return p->oom;
}

json_t *kpage_calls(struct kcore *k, const struct kpage_query *q,
                    struct mgc_err *err)
{
  struct page p = {calloc(q->limit, sizeof(struct own_row)), 0, q->limit, 0};
  if(!p.v) {
    mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
    return NULL;
  }
  /* a live call's state in the store may be stale (at-risk is computed):
   * ask for both live states and filter on the live one below */
  unsigned want = q->states;
  if(want & (KSTORE_STATE_ACTIVE | KSTORE_STATE_AT_RISK))
    want |= KSTORE_STATE_ACTIVE | KSTORE_STATE_AT_RISK;
  int more = 0;
  pthread_mutex_lock(&k->store_lock);
  int rc = k->store->ops->list_page(k->store, want, q->after, q->limit,
                                    take_row, &p, &more, err);
  pthread_mutex_unlock(&k->store_lock);
  json_t *out = NULL;
  if(!rc && p.oom)
    rc = mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  if(!rc) { /* live fields of the calls the schedule holds: copies only */
    int64_t now_mono = kcore_mono_ms(), now_wall = kcore_wall_ms();
    pthread_mutex_lock(&k->lock);
    for(size_t i = 0; i < p.n && !p.oom; i++) {
      struct ks_call *c = ks_find(k->sched, p.v[i].call_id);
      if(!c)
        continue;
      struct kstore_call live;
      kcore_row_locked(k, c, now_mono, now_wall, &live);
      own_set(&p.v[i], &live, &p.oom);
      int alive = c->state == KS_ACTIVE || c->state == KS_AT_RISK;
      p.v[i].deadline_ms =
          alive ? now_wall + (ks_deadline_mono(k->sched, c) - now_mono) : 0;
    }
    pthread_mutex_unlock(&k->lock);
    if(p.oom)
      rc = mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  if(!rc) {
    json_t *calls = json_array();
    for(size_t i = 0; calls && i < p.n; i++) {
      if(q->states && !(q->states & bit_of(p.v[i].r.state)))
        continue;
      if(json_array_append_new(calls,
                               kcore_row_json(&p.v[i].r, p.v[i].deadline_ms))) {
        json_decref(calls);
        calls = NULL;
      }
    }
    /* the next page starts after the last row read, shown or not */
    json_t *next =
        more && p.n ? json_string(p.v[p.n - 1].call_id) : json_null();
    out = calls && next ? json_object() : NULL;
    if(out && (json_object_set(out, "calls", calls) ||
               json_object_set(out, "next", next))) {
      json_decref(out);
      out = NULL;
    }
    json_decref(calls);
    json_decref(next);
    if(!out)
      mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  for(size_t i = 0; i < p.n; i++)
    own_release(&p.v[i]);
  free(p.v);
  return out;
}
