/* SPDX-License-Identifier: MIT */
/* notify.c - commsNotifications parser (no I/O). */
#include "notify.h"

#include "ids.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void set_err(char *err, size_t errlen, const char *msg)
{
  if(err && errlen)
    snprintf(err, errlen, "%s", msg);
}

/* The call id of a resource URL that names a call itself, else NULL. */
static const char *call_of(const char *url, size_t *idlen)
{
  static const char key[] = "communications/calls/";
  const char *p = strstr(url, key);
  if(!p)
    return NULL;
  /* only "", "/", "/app/", "/beta/", "/v1.0/" may come before */
  size_t pre = (size_t)(p - url);
  char prefix[16];
  if(pre >= sizeof(prefix))
    return NULL;
  memcpy(prefix, url, pre);
  prefix[pre] = '\0';
  if(pre && strcmp(prefix, "/") && strcmp(prefix, "/app/") &&
     strcmp(prefix, "app/") && strcmp(prefix, "/beta/") &&
     strcmp(prefix, "/v1.0/"))
    return NULL;
  const char *id = p + sizeof(key) - 1;
  size_t n = strcspn(id, "/?#");
  if(!n || id[n] != '\0')
    return NULL;
  *idlen = n;
  return id;
}

static const char *str_of(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

/* 1: an event; 0: not about a call; -1: a bad id or tenant (err set). */
static int one(json_t *item, struct kn_event *ev, char *err, size_t errlen)
{
  if(!json_is_object(item))
    return 0;
  const char *url = str_of(item, "resourceUrl");
  if(!url)
    url = str_of(item, "resource");
  size_t idlen = 0;
  const char *id = url ? call_of(url, &idlen) : NULL;
  if(!id)
    return 0;
  json_t *data = json_object_get(item, "resourceData");
  if(json_is_array(data)) /* "an entity or a collection" */
    data = json_array_get(data, 0);
  const char *change = str_of(item, "changeType");
  const char *state = json_is_object(data) ? str_of(data, "state") : NULL;
  if((change && !strcasecmp(change, "deleted")) ||
     (state && !strcasecmp(state, "terminated")))
    ev->action = KN_END;
  else if(state && !strcasecmp(state, "established"))
    ev->action = KN_TRACK;
  else
    return 0;
  if(idlen > KS_ID_MAX) {
    set_err(err, errlen, "a call id in resourceUrl is too long");
    return -1;
  }
  memcpy(ev->call_id, id, idlen);
  ev->call_id[idlen] = '\0';
  if(!mgc__call_id_ok(ev->call_id)) {
    set_err(err, errlen, "a call id in resourceUrl has control characters");
    return -1;
  }
  const char *tenant = json_is_object(data) ? str_of(data, "tenantId") : NULL;
  if(!tenant)
    tenant = str_of(item, "tenantId");
  ev->tenant_id[0] = '\0';
  if(tenant && !mgc__tenant_id_ok(tenant)) {
    set_err(err, errlen,
            "a tenantId is not a tenant id (1 to 256 of A-Z a-z 0-9 - . _)");
    return -1;
  }
  if(tenant)
    snprintf(ev->tenant_id, sizeof(ev->tenant_id), "%s", tenant);
  return 1;
}

int kn_parse(const char *body, size_t len, struct kn_event *events, size_t max,
             size_t *n, char *err, size_t errlen)
{
  *n = 0;
  if(len > KN_MAX_BODY) {
    set_err(err, errlen, "body too large");
    return -1;
  }
  json_error_t jerr;
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if(!root) {
    set_err(err, errlen, "body is not JSON");
    return -1;
  }
  if(!json_is_object(root)) {
    json_decref(root);
    set_err(err, errlen, "body is not a JSON object");
    return -1;
  }
  json_t *value = json_object_get(root, "value");
  if(value && !json_is_array(value)) {
    json_decref(root);
    set_err(err, errlen, "\"value\" is not an array");
    return -1;
  }
  size_t cap = max < KN_MAX_EVENTS ? max : KN_MAX_EVENTS;
  int rc = 0;
  if(value && json_array_size(value) > KN_MAX_EVENTS) {
    snprintf(err, errlen, "more than %d notifications in one body",
             KN_MAX_EVENTS);
    rc = KN_TOO_MANY;
  }
  else if(value) {
    size_t i;
    json_t *item;
    json_array_foreach(value, i, item)
    {
      struct kn_event scratch;
      int r = one(item, *n < cap ? &events[*n] : &scratch, err, errlen);
      if(r < 0) {
        rc = -1;
        break;
      }
      if(r && *n == cap) {
        snprintf(err, errlen, "more than %zu call notifications in one body",
                 cap);
        rc = KN_TOO_MANY;
        break;
      }
      if(r)
        (*n)++;
    }
  }
  else {
    struct kn_event scratch;
    int r = one(root, max ? &events[0] : &scratch, err, errlen);
    if(r < 0)
      rc = -1;
    else if(r && !max) {
      set_err(err, errlen, "more than 0 call notifications in one body");
      rc = KN_TOO_MANY;
    }
    else
      *n = (size_t)r;
  }
  json_decref(root);
  if(rc)
    *n = 0;
  return rc;
}
