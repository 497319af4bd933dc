/* SPDX-License-Identifier: MIT */
/* regs.c - POST /calls bodies, split then parsed element by element. */
#include "regs.h"

#include "ids.h"
#include "mgcx.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct span {
  size_t start, end;
};

static int is_ws(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Fill reg from one element's text (copies the strings). */
static int parse_one(const char *p, size_t n, size_t index, int bulk,
                     struct kcore_reg *reg, char *why, size_t whylen)
{
  char where[48] = "";
  if(bulk)
    snprintf(where, sizeof(where), "registration %zu: ", index + 1);
  if(n > KREGS_MAX_ELEMENT) {
    snprintf(why, whylen, "%sa registration is at most %d bytes", where,
             KREGS_MAX_ELEMENT);
    return 400;
  }
  json_error_t jerr;
  json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if(!o) {
    snprintf(why, whylen, "%snot JSON: %s", where, jerr.text);
    return 400;
  }
  int status = 400;
  json_t *id = json_object_get(o, "callId");
  json_t *tenant = json_object_get(o, "tenantId");
  json_t *started = json_object_get(o, "startedAt");
  int64_t ms = 0;
  if(!json_is_object(o))
    snprintf(why, whylen, "%seach registration must be a JSON object", where);
  else if(!json_is_string(id) || !mgc__call_id_ok(json_string_value(id)))
    snprintf(why, whylen,
             "%s\"callId\" must be a string of 1 to %d bytes of UTF-8 "
             "without control characters",
             where, MGC_ID_MAX);
  else if(tenant && !json_is_null(tenant) &&
          (!json_is_string(tenant) ||
           !mgc__tenant_id_ok(json_string_value(tenant))))
    snprintf(why, whylen,
             "%s\"tenantId\" must be a tenant id (1 to %d of A-Z a-z 0-9 "
             "- . _)",
             where, MGC_ID_MAX);
  else if(started && !json_is_null(started) &&
          (!json_is_string(started) ||
           mgcx_rfc3339_parse(json_string_value(started), &ms)))
    snprintf(why, whylen,
             "%s\"startedAt\" must be an RFC 3339 time such as "
             "2026-01-31T12:00:00Z",
             where);
  else {
    char *cid = strdup(json_string_value(id));
    char *tid =
        json_is_string(tenant) ? strdup(json_string_value(tenant)) : NULL;
    if(!cid || (json_is_string(tenant) && !tid)) {
      free(cid);
      free(tid);
      snprintf(why, whylen, "out of memory");
      status = 503;
    }
    else {
      reg->call_id = cid;
      reg->tenant_id = tid;
      reg->started_ms = started && !json_is_null(started) ? (ms ? ms : 1) : 0;
      status = 0;
    }
  }
  json_decref(o);
  return status;
}

/* Split "[e1, e2, ...]" at its top-level commas.  Returns 0 with the
 * spans, or a status with why. */
static int split(const char *b, size_t len, size_t max, struct span **out,
                 size_t *count, char *why, size_t whylen)
{
  size_t i = 0, cap = 0, n = 0;
  struct span *v = NULL;
  while(i < len && is_ws(b[i]))
    i++;
  i++; /* '[' */
  size_t start = i;
  int depth = 0, in_str = 0, esc = 0, closed = 0;
  for(; i < len && !closed; i++) {
    char c = b[i];
    if(in_str) {
      if(esc)
        esc = 0;
      else if(c == '\\')
        esc = 1;
      else if(c == '"')
        in_str = 0;
      continue;
    }
    if(c == '"')
      in_str = 1;
    else if(c == '[' || c == '{')
      depth++;
    else if((c == ']' || c == '}') && depth > 0)
      depth--;
    else if(depth == 0 && (c == ',' || c == ']')) {
      size_t s = start, e = i;
      while(s < e && is_ws(b[s]))
        s++;
      while(e > s && is_ws(b[e - 1]))
        e--;
      if(c == ']' && s == e && n == 0) { /* [] */
        closed = 1;
        continue;
      }
      if(s == e) {
        snprintf(why, whylen, "registration %zu: empty element", n + 1);
        free(v);
        return 400;
      }
      if(n == max) {
        snprintf(why, whylen,
                 "too many registrations in one request (at "
                 "most %zu)",
                 max);
        free(v);
        return 413;
      }
      if(n == cap) {
        size_t ncap = cap ? cap * 2 : 64;
        if(ncap > max)
          ncap = max;
        struct span *nv = realloc(v, ncap * sizeof(*nv));
        if(!nv) {
          free(v);
          snprintf(why, whylen, "out of memory");
          return 503;
        }
        v = nv;
        cap = ncap;
      }
      v[n].start = s;
      v[n].end = e;
      n++;
      start = i + 1;
      if(c == ']')
        closed = 1;
    }
    else if(depth == 0 && (c == ']' || c == '}')) {
      break; /* unbalanced */
    }
  }
  while(i < len && is_ws(b[i]))
    i++;
  if(!closed || i != len) {
    snprintf(why, whylen, "body is not a JSON array of registrations");
    free(v);
    return 400;
  }
  if(!n) {
    snprintf(why, whylen, "empty array");
    free(v);
    return 400;
  }
  *out = v;
  *count = n;
  return 0;
}

int kregs_parse(const char *body, size_t len, size_t max, struct kregs *out,
                char *why, size_t whylen)
{
  memset(out, 0, sizeof(*out));
  size_t i = 0;
  while(i < len && is_ws(body[i]))
    i++;
  struct span one = {i, len}, *spans = &one;
  size_t n = 1;
  int bulk = i < len && body[i] == '[';
  if(bulk) {
    int st = split(body, len, max ? max : 1, &spans, &n, why, whylen);
    if(st)
      return st;
  }
  else
    while(one.end > one.start && is_ws(body[one.end - 1]))
      one.end--;
  out->v = calloc(n, sizeof(*out->v));
  if(!out->v) {
    if(bulk)
      free(spans);
    snprintf(why, whylen, "out of memory");
    return 503;
  }
  out->bulk = bulk;
  int st = 0;
  for(size_t k = 0; k < n && !st; k++) {
    st = parse_one(body + spans[k].start, spans[k].end - spans[k].start, k,
                   bulk, &out->v[k], why, whylen);
    if(!st)
      out->n++;
  }
  if(bulk)
    free(spans);
  if(st)
    kregs_release(out);
  return st;
}

void kregs_release(struct kregs *r)
{
  for(size_t i = 0; i < r->n; i++) {
    free((char *)r->v[i].call_id);
    free((char *)r->v[i].tenant_id);
  }
  free(r->v);
  memset(r, 0, sizeof(*r));
}
