/* SPDX-License-Identifier: MIT */
/* faults.c - random faults, fault sequences, latency and per-app token
 * buckets. */
#include "faults.h"

#include "calls.h" /* emu_now_ms */
#include "mgcx.h"

#include <errno.h>
#include <math.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_APPS 4096

struct bucket {
  char *app;
  double tokens;
  int64_t last_ms;
};

struct emu_faults {
  pthread_mutex_t lock;
  struct emu_faults_config cfg;
  int sequence[EMU_FAULT_MAX_SEQUENCE];
  size_t seq_head, seq_len;
  struct bucket *buckets;
  size_t nbuckets;
  uint64_t rng, seed;
  uint64_t injected, throttled;
  int64_t token_outage_until; /* emu_now_ms() */
  atomic_int active;          /* anything to do at all? */
};

void emu_faults_config_default(struct emu_faults_config *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->statuses[0] = 503;
  cfg->nstatuses = 1;
  cfg->retry_after_s = 1;
  cfg->slow_ms = 2000;
  cfg->scope = EMU_SCOPE_GRAPH;
  cfg->goaway_error = EMU_H2_NO_ERROR;
  cfg->rst_error = EMU_H2_REFUSED_STREAM;
}

/* The fault kinds that are not statuses, by name. */
static const char *const kind_names[] = {NULL, "reset", "slow", "goaway",
                                         "rst_stream"};
#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

/* EMU_FAULT_* of a name, or 0. */
static int kind_of(const char *name, size_t len)
{
  for(size_t k = 1; name && k < NKINDS; k++)
    if(strlen(kind_names[k]) == len && !strncmp(name, kind_names[k], len))
      return (int)k;
  return 0;
}

/* A status or kind as JSON (new reference). */
static json_t *fault_json(int status)
{
  if(status > 0 && (size_t)status < NKINDS)
    return json_string(kind_names[status]);
  return json_integer(status);
}

static const struct {
  const char *name;
  uint32_t code;
} h2_errors[] = {{"NO_ERROR", EMU_H2_NO_ERROR},
                 {"INTERNAL_ERROR", EMU_H2_INTERNAL_ERROR},
                 {"REFUSED_STREAM", EMU_H2_REFUSED_STREAM},
                 {"CANCEL", EMU_H2_CANCEL}};

int emu_parse_h2_error(const char *s, uint32_t *code)
{
  for(size_t i = 0; s && i < sizeof(h2_errors) / sizeof(h2_errors[0]); i++)
    if(!strcmp(s, h2_errors[i].name)) {
      *code = h2_errors[i].code;
      return 0;
    }
  return -1;
}

static const char *h2_error_name(uint32_t code)
{
  for(size_t i = 0; i < sizeof(h2_errors) / sizeof(h2_errors[0]); i++)
    if(h2_errors[i].code == code)
      return h2_errors[i].name;
  return "NO_ERROR";
}

/* Lock held (or not yet shared). */
static void update_active(struct emu_faults *f)
{
  atomic_store(&f->active, f->cfg.rate > 0 || f->cfg.latency_ms > 0 ||
                               f->cfg.throttle_per_s > 0 || f->seq_len > 0 ||
                               f->token_outage_until > 0);
}

/* The generator's state from a seed (splitmix64: any seed, even 0, gives
 * a good non-zero state). */
static void reseed(struct emu_faults *f, uint64_t seed)
{
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  f->seed = seed;
  f->rng = z ? z : 0x2545F4914F6CDD1DULL;
}

struct emu_faults *emu_faults_new(const struct emu_faults_config *cfg)
{
  struct emu_faults *f = calloc(1, sizeof(*f));
  if(!f)
    return NULL;
  pthread_mutex_init(&f->lock, NULL);
  f->cfg = *cfg;
  update_active(f);
  uint64_t seed = cfg->seed;
  if(!cfg->have_seed && RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
    seed = (uint64_t)time(NULL);
  reseed(f, seed);
  return f;
}

void emu_faults_free(struct emu_faults *f)
{
  if(!f)
    return;
  for(size_t i = 0; i < f->nbuckets; i++)
    free(f->buckets[i].app);
  free(f->buckets);
  pthread_mutex_destroy(&f->lock);
  free(f);
}

static double next_uniform(struct emu_faults *f)
{
  /* xorshift64*: plenty for picking faults. */
  f->rng ^= f->rng >> 12;
  f->rng ^= f->rng << 25;
  f->rng ^= f->rng >> 27;
  uint64_t r = f->rng * 0x2545F4914F6CDD1DULL;
  return (double)(r >> 11) / (double)(1ULL << 53);
}

static struct bucket *bucket_for(struct emu_faults *f, const char *app,
                                 int64_t now)
{
  for(size_t i = 0; i < f->nbuckets; i++)
    if(!strcmp(f->buckets[i].app, app))
      return &f->buckets[i];
  if(f->nbuckets == MAX_APPS)
    return &f->buckets[0]; /* share the first: never unbounded */
  struct bucket *b =
      realloc(f->buckets, (f->nbuckets + 1) * sizeof(*f->buckets));
  if(!b)
    return f->nbuckets ? &f->buckets[0] : NULL;
  f->buckets = b;
  char *copy = strdup(app);
  if(!copy)
    return f->nbuckets ? &f->buckets[0] : NULL;
  b = &f->buckets[f->nbuckets++];
  b->app = copy;
  b->tokens = f->cfg.throttle_per_s;
  b->last_ms = now;
  return b;
}

void emu_faults_decide(struct emu_faults *f, enum emu_fault_scope scope,
                       const char *app, int64_t now_ms,
                       struct emu_fault_decision *out)
{
  memset(out, 0, sizeof(*out));
  if(!atomic_load_explicit(&f->active, memory_order_relaxed))
    return; /* nothing configured: the common case, no lock */
  pthread_mutex_lock(&f->lock);
  if(f->token_outage_until > 0 && scope == EMU_SCOPE_TOKEN) {
    if(now_ms < f->token_outage_until) { /* PUT {"tokenOutage": DUR} */
      out->status = 503;
      out->retry_after = f->cfg.retry_after_s;
      f->injected++;
      pthread_mutex_unlock(&f->lock);
      return;
    }
    f->token_outage_until = 0;
    update_active(f);
  }
  if(!(f->cfg.scope & scope)) {
    pthread_mutex_unlock(&f->lock);
    return;
  }
  out->latency_ms = f->cfg.latency_ms;
  if(f->cfg.latency_jitter_pct > 0 && out->latency_ms > 0) {
    double span = (double)out->latency_ms * f->cfg.latency_jitter_pct / 100;
    out->latency_ms += (int64_t)llround((2 * next_uniform(f) - 1) * span);
  }
  if(app && f->cfg.throttle_per_s > 0 && scope == EMU_SCOPE_GRAPH) {
    struct bucket *b = bucket_for(f, app, now_ms);
    if(b) {
      double cap = f->cfg.throttle_per_s < 1 ? 1 : f->cfg.throttle_per_s;
      b->tokens += (double)(now_ms - b->last_ms) * f->cfg.throttle_per_s / 1000;
      if(b->tokens > cap)
        b->tokens = cap;
      b->last_ms = now_ms;
      if(b->tokens >= 1)
        b->tokens -= 1;
      else {
        double wait = (1 - b->tokens) / f->cfg.throttle_per_s;
        out->status = 429;
        out->throttled = 1;
        out->retry_after = (int)ceil(wait);
        if(out->retry_after < 1)
          out->retry_after = 1;
        f->throttled++;
        pthread_mutex_unlock(&f->lock);
        return;
      }
    }
  }
  int status = 0;
  if(f->seq_len) {
    status = f->sequence[f->seq_head];
    f->seq_head = (f->seq_head + 1) % EMU_FAULT_MAX_SEQUENCE;
    f->seq_len--;
    update_active(f);
  }
  else if(f->cfg.rate > 0 && f->cfg.nstatuses && next_uniform(f) < f->cfg.rate)
    status =
        f->cfg.statuses[(size_t)(next_uniform(f) * (double)f->cfg.nstatuses) %
                        f->cfg.nstatuses];
  if(status > 0 && (size_t)status < NKINDS) {
    out->reset = status == EMU_FAULT_RESET;
    if(status == EMU_FAULT_SLOW)
      out->latency_ms += f->cfg.slow_ms;
    out->goaway = status == EMU_FAULT_GOAWAY;
    out->rst_stream = status == EMU_FAULT_RST_STREAM;
    out->h2_error = out->goaway ? f->cfg.goaway_error : f->cfg.rst_error;
    f->injected++;
  }
  else if(status) {
    out->status = status;
    if(status == 429 || status == 503)
      out->retry_after = f->cfg.retry_after_s;
    f->injected++;
  }
  pthread_mutex_unlock(&f->lock);
}

void emu_faults_tenant(struct emu_faults *f, const char *tenant,
                       struct emu_fault_decision *out)
{
  pthread_mutex_lock(&f->lock);
  if(tenant && f->cfg.tenant[0] && !strcmp(f->cfg.tenant, tenant)) {
    if(out->latency_ms < f->cfg.tenant_latency_ms)
      out->latency_ms = f->cfg.tenant_latency_ms;
    if(!out->status && f->cfg.tenant_status) {
      out->status = f->cfg.tenant_status;
      out->retry_after =
          out->status == 429 || out->status == 503 ? f->cfg.retry_after_s : 0;
      f->injected++;
    }
  }
  pthread_mutex_unlock(&f->lock);
}

/* tenantFault as JSON: null, or {"tenant","latencyMs","status"}. */
static json_t *tenant_fault_json(const struct emu_faults_config *c)
{
  if(!c->tenant[0])
    return json_null();
  return json_pack("{s:s,s:I,s:i}", "tenant", c->tenant, "latencyMs",
                   (json_int_t)c->tenant_latency_ms, "status",
                   c->tenant_status);
}

json_t *emu_faults_to_json(struct emu_faults *f)
{
  pthread_mutex_lock(&f->lock);
  json_t *statuses = json_array();
  for(size_t i = 0; i < f->cfg.nstatuses; i++)
    json_array_append_new(statuses, fault_json(f->cfg.statuses[i]));
  json_t *seq = json_array();
  for(size_t i = 0; i < f->seq_len; i++)
    json_array_append_new(
        seq,
        fault_json(f->sequence[(f->seq_head + i) % EMU_FAULT_MAX_SEQUENCE]));
  char lat[32];
  mgcx_duration_format((uint64_t)f->cfg.latency_ms, lat, sizeof(lat));
  const char *scope = f->cfg.scope == EMU_SCOPE_ALL     ? "all"
                      : f->cfg.scope == EMU_SCOPE_TOKEN ? "token"
                                                        : "graph";
  char seed[24];
  snprintf(seed, sizeof(seed), "%llu", (unsigned long long)f->seed);
  json_t *o = json_pack(
      "{s:f,s:o,s:s,s:I,s:i,s:f,s:i,s:s,s:o,s:I,s:I,s:s}", "rate", f->cfg.rate,
      "statuses", statuses, "latency", lat, "latencyMs",
      (json_int_t)f->cfg.latency_ms, "latencyJitter", f->cfg.latency_jitter_pct,
      "throttle", f->cfg.throttle_per_s, "retryAfter", f->cfg.retry_after_s,
      "scope", scope, "sequence", seq, "injected", (json_int_t)f->injected,
      "throttled", (json_int_t)f->throttled, "seed", seed);
  if(o) {
    json_object_set_new(o, "tenantFault", tenant_fault_json(&f->cfg));
    json_object_set_new(o, "goawayError",
                        json_string(h2_error_name(f->cfg.goaway_error)));
    json_object_set_new(o, "rstStreamError",
                        json_string(h2_error_name(f->cfg.rst_error)));
  }
  pthread_mutex_unlock(&f->lock);
  return o;
}

static int status_ok(json_int_t s)
{
  return s >= 400 && s <= 599;
}

/* Parse tenantFault (null clears it) into cfg.  0, or -1 with err. */
static int tenant_fault_parse(const json_t *v, struct emu_faults_config *cfg,
                              char *err, size_t errlen)
{
  if(json_is_null(v)) {
    cfg->tenant[0] = '\0';
    cfg->tenant_latency_ms = 0;
    cfg->tenant_status = 0;
    return 0;
  }
  const char *why = "tenantFault: null or {\"tenant\": T, \"latency\": "
                    "\"6s\" or ms, \"status\": 0 or 400..599}";
  json_t *t = json_object_get(v, "tenant");
  json_t *lat = json_object_get(v, "latency");
  json_t *st = json_object_get(v, "status");
  size_t n = json_string_length(t);
  if(!json_is_object(v) || !json_is_string(t) || n == 0 ||
     n >= EMU_FAULT_TENANT_MAX || strlen(json_string_value(t)) != n)
    goto bad;
  const char *key;
  json_t *member;
  json_object_foreach((json_t *)v, key, member)
  {
    if(strcmp(key, "tenant") && strcmp(key, "latency") && strcmp(key, "status"))
      goto bad;
  }
  uint64_t ms = 0;
  if(json_is_integer(lat) && json_integer_value(lat) >= 0 &&
     json_integer_value(lat) <= 600000)
    ms = (uint64_t)json_integer_value(lat);
  else if(lat &&
          (!json_is_string(lat) ||
           mgcx_duration_parse(json_string_value(lat), &ms) || ms > 600000))
    goto bad;
  json_int_t status = st ? json_integer_value(st) : 0;
  if((st && !json_is_integer(st)) || (status && !status_ok(status)))
    goto bad;
  memcpy(cfg->tenant, json_string_value(t), n + 1);
  cfg->tenant_latency_ms = (int64_t)ms;
  cfg->tenant_status = (int)status;
  return 0;
bad:
  snprintf(err, errlen, "%s", why);
  return -1;
}

int emu_faults_from_json(struct emu_faults *f, const json_t *obj, char *err,
                         size_t errlen)
{
  if(!json_is_object(obj)) {
    snprintf(err, errlen, "expected a JSON object");
    return -1;
  }
  pthread_mutex_lock(&f->lock);
  struct emu_faults_config cfg = f->cfg;
  int seq[EMU_FAULT_MAX_SEQUENCE];
  size_t nseq = 0;
  int have_seq = 0, have_seed = 0;
  int64_t outage_ms = -1;
  uint64_t seed = 0;
  const char *key;
  json_t *v;
  int rc = -1;
  json_object_foreach((json_t *)obj, key, v)
  {
    if(!strcmp(key, "rate")) {
      double r = json_number_value(v);
      if(!json_is_number(v) || r < 0 || r > 1) {
        snprintf(err, errlen, "rate: a number from 0 to 1");
        goto out;
      }
      cfg.rate = r;
    }
    else if(!strcmp(key, "statuses")) {
      size_t i;
      json_t *s;
      if(!json_is_array(v) || json_array_size(v) > EMU_FAULT_MAX_STATUSES) {
        snprintf(err, errlen, "statuses: an array of at most %d statuses",
                 EMU_FAULT_MAX_STATUSES);
        goto out;
      }
      cfg.nstatuses = 0;
      json_array_foreach(v, i, s)
      {
        int kind = kind_of(json_string_value(s), json_string_length(s));
        if(kind) {
          cfg.statuses[cfg.nstatuses++] = kind;
          continue;
        }
        if(!json_is_integer(s) || !status_ok(json_integer_value(s))) {
          snprintf(err, errlen,
                   "statuses: each from 400 to 599, \"reset\", \"slow\", "
                   "\"goaway\" or \"rst_stream\"");
          goto out;
        }
        cfg.statuses[cfg.nstatuses++] = (int)json_integer_value(s);
      }
    }
    else if(!strcmp(key, "latency") || !strcmp(key, "latencyMs")) {
      uint64_t ms;
      if(json_is_integer(v) && json_integer_value(v) >= 0 &&
         json_integer_value(v) <= 600000)
        ms = (uint64_t)json_integer_value(v);
      else if(!json_is_string(v) ||
              mgcx_duration_parse(json_string_value(v), &ms) || ms > 600000) {
        snprintf(err, errlen, "%s: a duration up to 10m (\"250ms\") or ms",
                 key);
        goto out;
      }
      cfg.latency_ms = (int64_t)ms;
    }
    else if(!strcmp(key, "latencyJitter")) {
      if(!json_is_integer(v) || json_integer_value(v) < 0 ||
         json_integer_value(v) > 100) {
        snprintf(err, errlen, "latencyJitter: percent from 0 to 100");
        goto out;
      }
      cfg.latency_jitter_pct = (int)json_integer_value(v);
    }
    else if(!strcmp(key, "throttle")) {
      double t = 0;
      if(json_is_number(v))
        t = json_number_value(v);
      else if(json_is_string(v) && emu_parse_throttle(json_string_value(v), &t))
        t = -1;
      if(t < 0 || (!json_is_number(v) && !json_is_string(v)) || t > 10000000) {
        snprintf(err, errlen,
                 "throttle: requests per second (0: off) or "
                 "\"N/s\"");
        goto out;
      }
      cfg.throttle_per_s = t;
    }
    else if(!strcmp(key, "retryAfter")) {
      if(!json_is_integer(v) || json_integer_value(v) < 0 ||
         json_integer_value(v) > 3600) {
        snprintf(err, errlen, "retryAfter: seconds from 0 to 3600");
        goto out;
      }
      cfg.retry_after_s = (int)json_integer_value(v);
    }
    else if(!strcmp(key, "scope")) {
      if(!json_is_string(v) ||
         emu_parse_scope(json_string_value(v), &cfg.scope)) {
        snprintf(err, errlen, "scope: graph, token or all");
        goto out;
      }
    }
    else if(!strcmp(key, "sequence")) {
      size_t i;
      json_t *s;
      if(!json_is_array(v) || json_array_size(v) > EMU_FAULT_MAX_SEQUENCE) {
        snprintf(err, errlen, "sequence: an array of at most %d statuses",
                 EMU_FAULT_MAX_SEQUENCE);
        goto out;
      }
      json_array_foreach(v, i, s)
      {
        int kind = kind_of(json_string_value(s), json_string_length(s));
        if(kind) {
          seq[nseq++] = kind;
          continue;
        }
        if(!json_is_integer(s) || !status_ok(json_integer_value(s))) {
          snprintf(err, errlen,
                   "sequence: each from 400 to 599, \"reset\", \"slow\", "
                   "\"goaway\" or \"rst_stream\"");
          goto out;
        }
        seq[nseq++] = (int)json_integer_value(s);
      }
      have_seq = 1;
    }
    else if(!strcmp(key, "slowLatency") || !strcmp(key, "tokenOutage")) {
      uint64_t ms;
      if(!json_is_string(v) || mgcx_duration_parse(json_string_value(v), &ms) ||
         ms > 600000) {
        snprintf(err, errlen, "%s: a duration up to 10m (\"20s\")", key);
        goto out;
      }
      if(!strcmp(key, "slowLatency"))
        cfg.slow_ms = (int64_t)ms;
      else
        outage_ms = (int64_t)ms;
    }
    else if(!strcmp(key, "seed")) { /* a number, or digits (as GET shows) */
      char *end = NULL;
      const char *str = json_string_value(v);
      errno = 0;
      if(json_is_integer(v) && json_integer_value(v) >= 0)
        seed = (uint64_t)json_integer_value(v);
      else if(!str || !*str || *str == '-' ||
              (seed = strtoull(str, &end, 10), *end || errno)) {
        snprintf(err, errlen, "seed: a number from 0 to 2^64-1");
        goto out;
      }
      have_seed = 1;
    }
    else if(!strcmp(key, "goawayError") || !strcmp(key, "rstStreamError")) {
      uint32_t code;
      if(emu_parse_h2_error(json_string_value(v), &code)) {
        snprintf(err, errlen,
                 "%s: \"NO_ERROR\", \"REFUSED_STREAM\", \"INTERNAL_ERROR\" "
                 "or \"CANCEL\"",
                 key);
        goto out;
      }
      if(!strcmp(key, "goawayError"))
        cfg.goaway_error = code;
      else
        cfg.rst_error = code;
    }
    else if(!strcmp(key, "tenantFault")) {
      if(tenant_fault_parse(v, &cfg, err, errlen))
        goto out;
    }
    else if(!strcmp(key, "injected") || !strcmp(key, "throttled")) {
      /* read-only counters: ignored so GET output can be PUT back */
    }
    else {
      snprintf(err, errlen, "unknown setting '%.64s'", key);
      goto out;
    }
  }
  if(cfg.throttle_per_s != f->cfg.throttle_per_s) {
    for(size_t i = 0; i < f->nbuckets; i++)
      free(f->buckets[i].app);
    f->nbuckets = 0;
  }
  f->cfg = cfg;
  if(have_seq) {
    memcpy(f->sequence, seq, nseq * sizeof(*seq));
    f->seq_head = 0;
    f->seq_len = nseq;
  }
  if(have_seed)
    reseed(f, seed);
  if(outage_ms >= 0)
    f->token_outage_until = outage_ms ? emu_now_ms() + outage_ms : 0;
  update_active(f);
  rc = 0;
out:
  pthread_mutex_unlock(&f->lock);
  return rc;
}

uint64_t emu_faults_seed(struct emu_faults *f)
{
  pthread_mutex_lock(&f->lock);
  uint64_t s = f->seed;
  pthread_mutex_unlock(&f->lock);
  return s;
}

uint64_t emu_faults_injected(struct emu_faults *f)
{
  pthread_mutex_lock(&f->lock);
  uint64_t n = f->injected;
  pthread_mutex_unlock(&f->lock);
  return n;
}

uint64_t emu_faults_throttled(struct emu_faults *f)
{
  pthread_mutex_lock(&f->lock);
  uint64_t n = f->throttled;
  pthread_mutex_unlock(&f->lock);
  return n;
}

int emu_parse_rate(const char *s, double *rate)
{
  char *end;
  errno = 0;
  double r = strtod(s, &end);
  if(end == s || errno || r != r)
    return -1;
  if(*end == '%') {
    r /= 100;
    end++;
  }
  if(*end || r < 0 || r > 1)
    return -1;
  *rate = r;
  return 0;
}

int emu_parse_statuses(const char *s, int *out, size_t max, size_t *n)
{
  *n = 0;
  const char *p = s;
  for(;;) {
    size_t len = strcspn(p, ",");
    long v;
    int kind = kind_of(p, len);
    if(*n == max || (!kind && mgcx_parse_longn(p, len, 400, 599, &v)))
      return -1;
    out[(*n)++] = kind ? kind : (int)v;
    if(p[len] == '\0')
      return 0;
    p += len + 1;
  }
}

int emu_parse_throttle(const char *s, double *per_s)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if(end == s || errno || !(v > 0) || v > 10000000)
    return -1;
  if(!strcmp(end, "") || !strcmp(end, "/s"))
    *per_s = v;
  else if(!strcmp(end, "/m"))
    *per_s = v / 60;
  else if(!strcmp(end, "/h"))
    *per_s = v / 3600;
  else
    return -1;
  return 0;
}

int emu_parse_scope(const char *s, enum emu_fault_scope *scope)
{
  if(!strcmp(s, "graph"))
    *scope = EMU_SCOPE_GRAPH;
  else if(!strcmp(s, "token"))
    *scope = EMU_SCOPE_TOKEN;
  else if(!strcmp(s, "all"))
    *scope = EMU_SCOPE_ALL;
  else
    return -1;
  return 0;
}
