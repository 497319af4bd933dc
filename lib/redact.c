/* SPDX-License-Identifier: MIT */
/* redact.c - see redact.h.  One pass over the text, copying to a buffer that
 * can only grow by the length of the markers it inserts. */
#include "redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const secret_headers[] = {
    "authorization", "proxy-authorization", "x-identity-header", "secret"};
static const char *const secret_fields[] = {
    "access_token", "client_secret", "client_assertion", "refresh_token"};

#define NHEADERS (sizeof(secret_headers) / sizeof(secret_headers[0]))
#define NFIELDS (sizeof(secret_fields) / sizeof(secret_fields[0]))

struct out {
  char *buf;
  size_t len;
  size_t cap;
};

static int put(struct out *o, const char *p, size_t n)
{
  if(o->len + n + 1 > o->cap) {
    size_t cap = (o->len + n + 1) * 2;
    char *b = realloc(o->buf, cap);
    if(!b)
      return -1;
    o->buf = b;
    o->cap = cap;
  }
  memcpy(o->buf + o->len, p, n);
  o->len += n;
  o->buf[o->len] = '\0';
  return 0;
}

/* At a line start: "<secret header>:" -> length of the name + ':' else 0. */
static size_t header_at(const char *p, size_t left)
{
  for(size_t i = 0; i < NHEADERS; i++) {
    size_t n = strlen(secret_headers[i]);
    if(left > n && !strncasecmp(p, secret_headers[i], n) && p[n] == ':')
      return n + 1;
  }
  return 0;
}

/* At a form-field start: "<field>=" -> length of name + '=' else 0. */
static size_t form_at(const char *p, size_t left)
{
  for(size_t i = 0; i < NFIELDS; i++) {
    size_t n = strlen(secret_fields[i]);
    if(left > n && !strncmp(p, secret_fields[i], n) && p[n] == '=')
      return n + 1;
  }
  return 0;
}

/* At '"': "<field>" <ws> : <ws> " -> length up to and including the
 * value's opening quote, else 0. */
static size_t json_at(const char *p, size_t left)
{
  for(size_t i = 0; i < NFIELDS; i++) {
    size_t n = strlen(secret_fields[i]);
    if(left < n + 2 || strncmp(p + 1, secret_fields[i], n) || p[n + 1] != '"')
      continue;
    size_t k = n + 2;
    while(k < left && isspace((unsigned char)p[k]))
      k++;
    if(k >= left || p[k] != ':')
      continue;
    k++;
    while(k < left && isspace((unsigned char)p[k]))
      k++;
    if(k < left && p[k] == '"')
      return k + 1;
  }
  return 0;
}

char *mgc__redact(const char *text, size_t len)
{
  struct out o = {NULL, 0, 0};
  if(put(&o, "", 0))
    return NULL;
  size_t i = 0;
  int line_start = 1;
  while(i < len) {
    const char *p = text + i;
    size_t left = len - i, n;
    if(line_start && (n = header_at(p, left))) {
      size_t end = n;
      while(end < left && p[end] != '\r' && p[end] != '\n')
        end++;
      if(put(&o, p, n) || put(&o, " " MGC_REDACTED, strlen(MGC_REDACTED) + 1))
        goto nomem;
      i += end;
      line_start = 0;
      continue;
    }
    /* libcurl's HTTP/2 trace: "h2h3 [authorization: Bearer ...]" (7.88),
     * "[HTTP/2] [1] [authorization: ...]" (8.x): to the ']' or the end
     * of the line */
    if(*p == '[' && (n = header_at(p + 1, left - 1))) {
      size_t end = n + 1;
      while(end < left && p[end] != ']' && p[end] != '\r' && p[end] != '\n')
        end++;
      if(put(&o, p, n + 1) ||
         put(&o, " " MGC_REDACTED, strlen(MGC_REDACTED) + 1))
        goto nomem;
      i += end; /* the ']' is copied by the next step */
      line_start = 0;
      continue;
    }
    int field_start = i == 0 || text[i - 1] == '&' || text[i - 1] == '?' ||
                      isspace((unsigned char)text[i - 1]);
    if(field_start && (n = form_at(p, left))) {
      size_t end = n;
      while(end < left && p[end] != '&' && !isspace((unsigned char)p[end]))
        end++;
      if(put(&o, p, n) || put(&o, MGC_REDACTED, strlen(MGC_REDACTED)))
        goto nomem;
      i += end;
      line_start = 0;
      continue;
    }
    if(*p == '"' && (n = json_at(p, left))) {
      size_t end = n;
      while(end < left && p[end] != '"') {
        if(p[end] == '\\' && end + 1 < left)
          end++;
        end++;
      }
      if(put(&o, p, n) || put(&o, MGC_REDACTED, strlen(MGC_REDACTED)))
        goto nomem;
      i += end; /* the closing quote is copied by the next step */
      line_start = 0;
      continue;
    }
    if(put(&o, p, 1))
      goto nomem;
    line_start = *p == '\n';
    i++;
  }
  return o.buf;
nomem:
  free(o.buf);
  return NULL;
}
