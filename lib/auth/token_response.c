/* SPDX-License-Identifier: MIT */
/* token_response.c - token endpoint / IMDS answers, with jansson. */
#include "token_response.h"

#include "mgcx.h"

#include "aad_error.h"
#include "credential.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* Longest lifetime we believe (seconds): a day covers every real token. */
#define MAX_LIFETIME (24L * 3600L)

void mgc__token_response_release(struct mgc_token_response *r)
{
  if(!r)
    return;
  if(r->access_token) {
    OPENSSL_cleanse(r->access_token, strlen(r->access_token));
    free(r->access_token);
  }
  r->access_token = NULL;
  r->expires_at = 0;
}

/* A JSON integer, or a string of decimal digits, as a long long; -1 when it
 * is neither or out of range. */
static long long number_of(const json_t *v)
{
  if(json_is_integer(v)) {
    json_int_t n = json_integer_value(v);
    return n < 0 ? -1 : (long long)n;
  }
  if(json_is_real(v)) {
    double d = json_real_value(v);
    return d >= 0 && d < 1e15 ? (long long)d : -1;
  }
  const char *s = json_string_value(v);
  if(!s || !*s || strlen(s) > 15)
    return -1;
  for(const char *p = s; *p; p++)
    if(!isdigit((unsigned char)*p))
      return -1;
  return strtoll(s, NULL, 10);
}

/* A short printable excerpt of a body for a message. */
static void excerpt(const char *body, size_t len, char *buf, size_t n)
{
  size_t w = 0, i = 0;
  while(i < len && isspace((unsigned char)body[i]))
    i++;
  for(; i < len && w + 4 < n && w < 60; i++) {
    unsigned char c = (unsigned char)body[i];
    buf[w++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
  }
  if(i < len && w + 4 < n) {
    memcpy(buf + w, "...", 3);
    w += 3;
  }
  buf[w] = '\0';
}

static int looks_html(const char *body, size_t len)
{
  size_t i = 0;
  while(i < len && isspace((unsigned char)body[i]))
    i++;
  return i < len && body[i] == '<';
}

/* The code for a failed answer with this status: 429, 503, 504 -> throttled
 * or unavailable (after the retries of tokens.c); other 5xx and 0 -> the
 * endpoint was not reached properly; else dflt. */
static int status_code(long status, int dflt)
{
  if(status == 429 || status == 503 || status == 504)
    return MGCALL_E_THROTTLED;
  if(status >= 500 || status == 0)
    return MGCALL_E_NETWORK;
  return dflt;
}

static int not_a_token(const char *body, size_t len, long status,
                       const char *what, const char *why, struct mgc_err *err)
{
  char ex[80];
  excerpt(body, len, ex, sizeof(ex));
  int code = status_code(status, MGCALL_E_AUTH);
  if(!len)
    return mgc__err_set(err, code, "%s answered HTTP %ld with an empty body",
                        what, status);
  if(looks_html(body, len))
    return mgc__err_set(err, code,
                        "%s answered HTTP %ld with an HTML page, not a token "
                        "response (wrong --authority-url, or a proxy in the "
                        "way?): \"%s\"",
                        what, status, ex);
  /* Never quote a body that may hold a token. */
  if(strstr(why, "access_token"))
    return mgc__err_set(err, code, "%s answered HTTP %ld: %s", what, status,
                        why);
  return mgc__err_set(err, code, "%s answered HTTP %ld: %s: \"%s\"", what,
                      status, why, ex);
}

int mgc__token_response_parse(const char *body, size_t len, long status,
                              time_t now, const char *what,
                              struct mgc_token_response *out,
                              struct mgc_err *err)
{
  memset(out, 0, sizeof(*out));
  if(!what)
    what = "token endpoint";
  if(!body)
    len = 0;
  struct mgc_aad_error aad;
  if(len && mgc__aad_error_parse(body, len, &aad)) {
    char line[1400];
    mgc__aad_error_format(&aad, line, sizeof(line));
    int code = status_code(status, MGCALL_E_AUTH);
    if(code != MGCALL_E_AUTH)
      return mgc__err_set(err, code, "%s answered HTTP %ld: %s", what, status,
                          line);
    return mgc__err_set(err, code, "%s refused: %s", what, line);
  }
  if(status < 200 || status > 299)
    return not_a_token(body, len, status, what, "not a JSON error body", err);
  json_error_t jerr;
  json_t *doc = len ? json_loadb(body, len, 0, &jerr) : NULL;
  if(!json_is_object(doc)) {
    json_decref(doc);
    return not_a_token(body, len, status, what, "not a JSON token response",
                       err);
  }
  int rc = MGCALL_OK;
  const char *token = json_string_value(json_object_get(doc, "access_token"));
  const char *type = json_string_value(json_object_get(doc, "token_type"));
  long long expires_in = -1, expires_on = -1;
  json_t *v;
  if((v = json_object_get(doc, "expires_in")) != NULL)
    expires_in = number_of(v);
  if((v = json_object_get(doc, "expires_on")) != NULL)
    expires_on = number_of(v);
  if(!token) {
    rc = not_a_token(body, len, status, what, "no access_token in the answer",
                     err);
  }
  else if(!mgc__token_is_valid(token)) {
    rc = not_a_token(body, len, status, what,
                     "the access_token is not a usable bearer token", err);
  }
  else if(type && strcasecmp(type, "Bearer")) {
    char shown[64]; /* the server's text, escaped: it reaches the logs */
    rc = mgc__err_set(err, MGCALL_E_AUTH,
                      "%s answered a token of type '%s', not Bearer", what,
                      mgcx_escape_text(type, shown, sizeof(shown)));
  }
  else if(expires_in > 0 && expires_in <= MAX_LIFETIME) {
    out->expires_at = now + (time_t)expires_in;
  }
  else if(expires_in < 0 && expires_on > (long long)now &&
          expires_on <= (long long)now + MAX_LIFETIME) {
    out->expires_at = (time_t)expires_on;
  }
  else {
    rc = not_a_token(body, len, status, what,
                     "the access_token has no usable expires_in", err);
  }
  if(rc == MGCALL_OK) {
    out->access_token = strdup(token);
    if(!out->access_token)
      rc = mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  json_decref(doc);
  return rc;
}
