/* SPDX-License-Identifier: MIT */
/* notify.c - commsNotifications parser (no I/O). */
#include "notify.h"

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
  if(!n || n > KS_ID_MAX || id[n] != '\0')
    return NULL;
  for(size_t i = 0; i < n; i++)
    if((unsigned char)id[i] < 0x21 || id[i] == 0x7f)
      return NULL;
  *idlen = n;
  return id;
}

static const char *str_of(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static void copy_tenant(char *dst, const char *t)
{
  dst[0] = '\0';
  if(t && strlen(t) <= KS_ID_MAX && !strpbrk(t, "\r\n"))
    snprintf(dst, KS_ID_MAX + 1, "%s", t);
}

static int one(json_t *item, struct kn_event *ev)
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
  memcpy(ev->call_id, id, idlen);
  ev->call_id[idlen] = '\0';
  const char *tenant = json_is_object(data) ? str_of(data, "tenantId") : NULL;
  copy_tenant(ev->tenant_id, tenant ? tenant : str_of(item, "tenantId"));
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
  if(value) {
    size_t i;
    json_t *item;
    json_array_foreach(value, i, item)
    {
      if(*n >= max || *n >= KN_MAX_EVENTS)
        break;
      if(one(item, &events[*n]))
        (*n)++;
    }
  }
  else if(max && one(root, &events[0]))
    *n = 1;
  json_decref(root);
  return 0;
}
