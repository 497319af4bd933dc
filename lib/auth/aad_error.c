/* SPDX-License-Identifier: MIT */
/* aad_error.c - the identity platform's error body, with jansson. */
#include "aad_error.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* Copy s into dst (size n): control characters become spaces. */
static void copy_clean(char *dst, size_t n, const char *s)
{
  size_t w = 0;
  if(!n)
    return;
  for(; s && *s && w + 1 < n; s++) {
    unsigned char c = (unsigned char)*s;
    dst[w++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
  }
  /* Collapse the trailing spaces left by a final CR/LF. */
  while(w && dst[w - 1] == ' ')
    w--;
  dst[w] = '\0';
}

int mgc__aad_error_parse(const char *body, size_t len,
                         struct mgc_aad_error *out)
{
  memset(out, 0, sizeof(*out));
  if(!body || !len)
    return 0;
  json_error_t jerr;
  json_t *doc = json_loadb(body, len, 0, &jerr);
  if(!json_is_object(doc)) {
    json_decref(doc);
    return 0;
  }
  int found = 0;
  json_t *error = json_object_get(doc, "error");
  if(json_is_string(error)) {
    found = 1;
    copy_clean(out->error, sizeof(out->error), json_string_value(error));
    copy_clean(out->description, sizeof(out->description),
               json_string_value(json_object_get(doc, "error_description")));
  }
  else if(json_is_object(error)) {
    /* Some gateways answer in the Graph (OData) shape. */
    json_t *code = json_object_get(error, "code");
    if(json_is_string(code)) {
      found = 1;
      copy_clean(out->error, sizeof(out->error), json_string_value(code));
      copy_clean(out->description, sizeof(out->description),
                 json_string_value(json_object_get(error, "message")));
    }
  }
  else if(json_is_string(json_object_get(doc, "message"))) {
    found = 1;
    json_t *sc = json_object_get(doc, "statusCode");
    if(json_is_integer(sc))
      snprintf(out->error, sizeof(out->error), "status %lld",
               (long long)json_integer_value(sc));
    else
      snprintf(out->error, sizeof(out->error), "error");
    copy_clean(out->description, sizeof(out->description),
               json_string_value(json_object_get(doc, "message")));
  }
  if(found) {
    json_t *codes = json_object_get(doc, "error_codes");
    size_t i;
    json_t *v;
    size_t w = 0;
    if(json_is_array(codes)) {
      json_array_foreach(codes, i, v)
      {
        if(!json_is_integer(v) || w + 24 >= sizeof(out->codes))
          continue;
        int k = snprintf(out->codes + w, sizeof(out->codes) - w, "%s%lld",
                         w ? ", " : "", (long long)json_integer_value(v));
        if(k > 0)
          w += (size_t)k;
      }
    }
    copy_clean(out->trace_id, sizeof(out->trace_id),
               json_string_value(json_object_get(doc, "trace_id")));
    copy_clean(out->correlation_id, sizeof(out->correlation_id),
               json_string_value(json_object_get(doc, "correlation_id")));
  }
  json_decref(doc);
  return found;
}

void mgc__aad_error_format(const struct mgc_aad_error *e, char *buf, size_t n)
{
  char extra[320] = "";
  size_t w = 0;
  if(e->codes[0])
    w += (size_t)snprintf(extra + w, sizeof(extra) - w, "error codes %s",
                          e->codes);
  if(e->trace_id[0] && w < sizeof(extra))
    w += (size_t)snprintf(extra + w, sizeof(extra) - w, "%strace id %s",
                          w ? "; " : "", e->trace_id);
  if(e->correlation_id[0] && w < sizeof(extra))
    snprintf(extra + w, sizeof(extra) - w, "%scorrelation id %s", w ? "; " : "",
             e->correlation_id);
  snprintf(buf, n, "%s%s%s%s%s%s", e->error, e->description[0] ? ": " : "",
           e->description, extra[0] ? " (" : "", extra, extra[0] ? ")" : "");
}
