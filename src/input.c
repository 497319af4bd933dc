/* SPDX-License-Identifier: MIT */
/* input.c - parser of keep-alive input items (jansson for the JSON form). */
#include "input.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_blank(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
         c == '\f';
}

static enum mgc_input_kind fail(char *errbuf, size_t errlen, const char *msg)
{
  if(errbuf && errlen)
    snprintf(errbuf, errlen, "%s", msg);
  return MGC_INPUT_ERROR;
}

/* A non-empty string without NUL, copied into *out; else an error. */
static enum mgc_input_kind take_string(json_t *v, const char *what, char **out,
                                       char *errbuf, size_t errlen)
{
  if(!json_is_string(v) || !json_string_length(v)) {
    if(errbuf && errlen)
      snprintf(errbuf, errlen, "input object's %s is not a non-empty string",
               what);
    return MGC_INPUT_ERROR;
  }
  if(strlen(json_string_value(v)) != json_string_length(v)) {
    if(errbuf && errlen)
      snprintf(errbuf, errlen, "input object's %s contains a NUL", what);
    return MGC_INPUT_ERROR;
  }
  *out = strdup(json_string_value(v));
  return *out ? MGC_INPUT_ID : fail(errbuf, errlen, "out of memory");
}

static enum mgc_input_kind parse_object(const char *p, size_t n, char **call_id,
                                        char **tenant_id, char *errbuf,
                                        size_t errlen)
{
  json_error_t jerr;
  json_t *root = json_loadb(p, n, 0, &jerr);
  if(!root) {
    if(errbuf && errlen)
      snprintf(errbuf, errlen, "bad JSON: %s", jerr.text);
    return MGC_INPUT_ERROR;
  }
  if(!json_is_object(root)) {
    json_decref(root);
    return fail(errbuf, errlen, "input object is not a JSON object");
  }
  const char *key;
  json_t *value, *id = NULL, *tenant = NULL;
  json_object_foreach(root, key, value)
  {
    if(!id && !strcasecmp(key, "CallId"))
      id = value;
    else if(!tenant && !strcasecmp(key, "TenantId"))
      tenant = value;
  }
  enum mgc_input_kind k =
      id ? take_string(id, "CallId", call_id, errbuf, errlen)
         : fail(errbuf, errlen, "input object has no CallId");
  if(k == MGC_INPUT_ID && tenant && tenant_id)
    k = take_string(tenant, "TenantId", tenant_id, errbuf, errlen);
  if(k != MGC_INPUT_ID) {
    free(*call_id);
    *call_id = NULL;
  }
  json_decref(root);
  return k;
}

static enum mgc_input_kind parse(const char *line, size_t len, int object_only,
                                 char **call_id, char **tenant_id, char *errbuf,
                                 size_t errlen)
{
  *call_id = NULL;
  if(tenant_id)
    *tenant_id = NULL;
  if(errbuf && errlen)
    errbuf[0] = '\0';
  if(len > MGC_INPUT_MAX_LINE)
    return fail(errbuf, errlen, "line too long");
  if(memchr(line, '\0', len))
    return fail(errbuf, errlen, "line contains a NUL byte");
  size_t b = 0, e = len;
  while(b < e && is_blank(line[b]))
    b++;
  while(e > b && is_blank(line[e - 1]))
    e--;
  if(b == e)
    return object_only ? fail(errbuf, errlen, "input object is empty")
                       : MGC_INPUT_SKIP;
  if(line[b] == '{' || object_only)
    return parse_object(line + b, e - b, call_id, tenant_id, errbuf, errlen);
  if(line[b] == '#')
    return MGC_INPUT_SKIP;
  *call_id = strndup(line + b, e - b);
  if(!*call_id)
    return fail(errbuf, errlen, "out of memory");
  return MGC_INPUT_ID;
}

enum mgc_input_kind mgc_input_parse_line(const char *line, size_t len,
                                         char **call_id, char **tenant_id,
                                         char *errbuf, size_t errlen)
{
  return parse(line, len, 0, call_id, tenant_id, errbuf, errlen);
}

enum mgc_input_kind mgc_input_parse_object(const char *json, size_t len,
                                           char **call_id, char **tenant_id,
                                           char *errbuf, size_t errlen)
{
  return parse(json, len, 1, call_id, tenant_id, errbuf, errlen);
}
