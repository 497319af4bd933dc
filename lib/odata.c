/* SPDX-License-Identifier: MIT */
/* odata.c - Graph OData error body parser (jansson). */
#include "odata.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The member of obj whose key equals name ignoring case, or NULL. */
static json_t *member_nocase(json_t *obj, const char *name)
{
  const char *key;
  json_t *value;
  json_t *exact = json_object_get(obj, name);
  if(exact)
    return exact;
  json_object_foreach(obj, key, value)
  {
    if(!strcasecmp(key, name))
      return value;
  }
  return NULL;
}

static void copy_string(char *dst, size_t dstlen, json_t *obj, const char *name)
{
  json_t *v = member_nocase(obj, name);
  if(json_is_string(v))
    snprintf(dst, dstlen, "%s", json_string_value(v));
}

int mgc__odata_parse(const char *body, size_t len, struct mgc_odata_error *out)
{
  memset(out, 0, sizeof(*out));
  if(!body || !len || len > MGC_ODATA_MAX_BODY)
    return -1;
  json_error_t jerr;
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if(!json_is_object(root)) {
    json_decref(root);
    return -1;
  }
  json_t *error = member_nocase(root, "error");
  if(!json_is_object(error)) {
    json_decref(root);
    return -1;
  }
  copy_string(out->code, sizeof(out->code), error, "code");
  copy_string(out->message, sizeof(out->message), error, "message");
  json_t *inner = member_nocase(error, "innerError");
  /* Some services nest the ids one level deeper. */
  for(int depth = 0; json_is_object(inner) && depth < 3; depth++) {
    if(!out->inner_code[0])
      copy_string(out->inner_code, sizeof(out->inner_code), inner, "code");
    if(!out->request_id[0])
      copy_string(out->request_id, sizeof(out->request_id), inner,
                  "request-id");
    if(!out->client_request_id[0])
      copy_string(out->client_request_id, sizeof(out->client_request_id), inner,
                  "client-request-id");
    if(!out->date[0])
      copy_string(out->date, sizeof(out->date), inner, "date");
    inner = member_nocase(inner, "innerError");
  }
  json_decref(root);
  return 0;
}
