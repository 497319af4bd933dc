/* SPDX-License-Identifier: MIT */
/* status.c - gathering the status page's snapshot. */
#include "status.h"

#include <stdlib.h>
#include <string.h>

static char *copy_str(const char *s, int *oom)
{
  if(!s)
    return NULL;
  char *d = strdup(s);
  if(!d)
    *oom = 1;
  return d;
}

struct latest {
  struct ksp_snapshot *s;
  int oom;
};

static int take_ended(void *ud, const struct kstore_ended *r)
{
  struct latest *l = ud;
  if(l->s->nlatest == KSP_LATEST)
    return 1;
  struct ksp_call *c = &l->s->latest[l->s->nlatest++];
  c->call_id = copy_str(r->call.call_id, &l->oom);
  c->tenant_id = copy_str(r->call.tenant_id, &l->oom);
  c->state = copy_str(r->call.state, &l->oom);
  c->reason = copy_str(r->call.reason, &l->oom);
  c->last_error = copy_str(r->call.last_error, &l->oom);
  c->ended_ms = r->call.ended_ms;
  c->failures = r->call.failures;
  c->hook = copy_str(r->hook, &l->oom);
  c->hook_error = copy_str(r->hook_error, &l->oom);
  c->hook_attempts = r->hook_attempts;
  return l->oom;
}

/* Fleet mode: the members as GET /fleet has them. */
static void take_members(struct kcore *k, struct ksp_snapshot *s, int *oom)
{
  pthread_mutex_lock(&k->lock);
  s->fleet = k->fleet != NULL;
  pthread_mutex_unlock(&k->lock);
  if(!s->fleet)
    return;
  json_t *f = kcore_fleet_json(k);
  if(!f) {
    *oom = 1;
    return;
  }
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(f, "members"), i, m)
  {
    if(s->nmembers == KSP_MEMBERS)
      break;
    struct ksp_member *o = &s->members[s->nmembers++];
    o->node_id = copy_str(json_string_value(json_object_get(m, "nodeId")), oom);
    o->api_url = copy_str(json_string_value(json_object_get(m, "apiUrl")), oom);
    o->heartbeat_age_ms =
        json_integer_value(json_object_get(m, "heartbeatAgeMs"));
    o->shards = json_integer_value(json_object_get(m, "shards"));
    o->calls = json_integer_value(json_object_get(m, "calls"));
    o->self = json_is_true(json_object_get(m, "self"));
    if(o->self && !s->node_id)
      s->node_id = copy_str(o->node_id, oom);
  }
  json_decref(f);
}

int kstat_collect(struct kcore *k, struct ksp_snapshot *s)
{
  memset(s, 0, sizeof(*s));
  int oom = 0;
  /* O(log n) under the core lock: the schedule keeps its live calls by
   * deadline (sched.h), so nothing here walks every call */
  struct ks_call *worst[KSP_WORST];
  size_t counts[4];
  int64_t now_wall = kcore_wall_ms();
  pthread_mutex_lock(&k->lock);
  int64_t now_mono = kcore_mono_ms();
  ks_count_states(k->sched, now_mono, counts);
  size_t nworst = ks_most_urgent(k->sched, worst, KSP_WORST);
  for(size_t i = 0; i < nworst; i++) {
    const struct ks_call *c = worst[i];
    struct ksp_call *o = &s->worst[s->nworst++];
    o->call_id = copy_str(c->call_id, &oom);
    o->tenant_id = copy_str(c->tenant_id, &oom);
    o->state =
        copy_str(ks_state_name(ks_state_at(k->sched, c, now_mono)), &oom);
    o->last_error = copy_str(c->last_error, &oom);
    o->deadline_ms = now_wall + (ks_deadline_mono(k->sched, c) - now_mono);
    o->last_success_ms = c->last_success_wall;
    o->failures = c->failures;
  }
  pthread_mutex_unlock(&k->lock);
  s->now_ms = now_wall;
  s->active = counts[KS_ACTIVE];
  s->at_risk = counts[KS_AT_RISK];
  s->ended = km_ended_count(k->metrics, KS_REASON_NOT_FOUND) +
             km_ended_count(k->metrics, KS_REASON_TERMINATED) +
             km_ended_count(k->metrics, KS_REASON_REMOVED);
  s->lost = km_ended_count(k->metrics, KS_REASON_LOST);
  if(k->store->ops->list_ended) {
    struct latest l = {s, 0};
    struct mgc_err err = {0};
    pthread_mutex_lock(&k->store_lock);
    int rc =
        k->store->ops->list_ended(k->store, KSP_LATEST, take_ended, &l, &err);
    pthread_mutex_unlock(&k->store_lock);
    oom |= l.oom;
    if(rc && !l.oom)
      s->latest_error = copy_str(err.msg, &oom);
  }
  else
    s->latest_error = copy_str("this store does not list ended calls", &oom);
  take_members(k, s, &oom);
  if(oom) {
    ksp_release(s);
    return -1;
  }
  return 0;
}
