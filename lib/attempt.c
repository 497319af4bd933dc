/* SPDX-License-Identifier: MIT */
/* attempt.c - one keepAlive request: its URL, the easy handle with its
 * headers, and reading the answer into an mgcall_result.  Knows nothing of
 * clients or batches (lib/batch.c drives attempts; lib/client.c holds the
 * options). */
#include "attempt.h"

#include "jwt.h"
#include "odata.h"
#include "retry.h"
#include "url.h"

#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

char *mgc__attempt_url(const char *graph, const char *api_version,
                       const char *call_id)
{
  if(!graph || !api_version || !call_id || !*call_id)
    return NULL;
  char *seg = mgc__url_segment(call_id, strlen(call_id));
  if(!seg)
    return NULL;
  size_t n = strlen(graph) + strlen(api_version) + strlen(seg) + 64;
  char *url = malloc(n);
  if(url)
    snprintf(url, n, "%s/%s/communications/calls/%s/keepAlive", graph,
             api_version, seg);
  free(seg);
  return url;
}

/* 1 when the extra headers already name header name (case-insensitive). */
static int has_header(const char *const *headers, const char *name)
{
  size_t n = strlen(name);
  for(size_t i = 0; headers && headers[i]; i++)
    if(!strncasecmp(headers[i], name, n) && headers[i][n] == ':')
      return 1;
  return 0;
}

static size_t head_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
  struct mgc_attempt *a = ud;
  size_t n = size * nmemb;
  if(n >= 5 && !memcmp(ptr, "HTTP/", 5))
    a->head.len = 0; /* a new response (after 100 Continue ...) */
  if(mgcx_buf_add(&a->head, ptr, n))
    return 0;
  return n;
}

static int add_header(struct curl_slist **l, const char *line)
{
  struct curl_slist *n = curl_slist_append(*l, line);
  if(!n)
    return -1;
  *l = n;
  return 0;
}

int mgc__attempt_start(const struct mgc_request_opts *c, struct mgc_attempt *a,
                       const char *url, const char *token, const char *crid,
                       int retry, struct mgc_err *err)
{
  memset(a, 0, sizeof(*a));
  mgcx_buf_init(&a->body, MGC_HTTP_MAX_BODY);
  mgcx_buf_init(&a->head, 64 * 1024);
  a->easy = curl_easy_init();
  if(!a->easy)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  int rc = mgc__http_setup(a->easy, c->http, err);
  if(rc)
    return rc;
  size_t tlen = strlen(token) + 32;
  char *auth = malloc(tlen);
  int bad = !auth;
  if(auth) {
    snprintf(auth, tlen, "Authorization: Bearer %s", token);
    bad |= add_header(&a->hdrs, auth);
    OPENSSL_cleanse(auth, tlen);
    free(auth);
  }
  char line[128];
  if(!c->user_crid) {
    snprintf(line, sizeof(line), "client-request-id: %s", crid);
    bad |= add_header(&a->hdrs, line);
  }
  if(!has_header(c->headers, "Accept"))
    bad |= add_header(&a->hdrs, "Accept: application/json");
  if(retry > 0) {
    snprintf(line, sizeof(line), "Retry-Attempt: %d", retry);
    bad |= add_header(&a->hdrs, line);
  }
  bad |= add_header(&a->hdrs, "Content-Type:"); /* no body, no type */
  bad |= add_header(&a->hdrs, "Expect:");
  for(size_t i = 0; c->headers && c->headers[i]; i++)
    bad |= add_header(&a->hdrs, c->headers[i]);
  if(bad)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  CURLcode cc = CURLE_OK;
#define SET(opt, val)                                                          \
  do {                                                                         \
    if(cc == CURLE_OK)                                                         \
      cc = curl_easy_setopt(a->easy, opt, val);                                \
  } while(0)
  SET(CURLOPT_URL, url);
  SET(CURLOPT_POST, 1L);
  SET(CURLOPT_POSTFIELDS, "");
  SET(CURLOPT_POSTFIELDSIZE, 0L);
  SET(CURLOPT_HTTPHEADER, a->hdrs);
  SET(CURLOPT_WRITEFUNCTION, mgc__buf_curl_write);
  SET(CURLOPT_WRITEDATA, &a->body);
  SET(CURLOPT_HEADERFUNCTION, head_cb);
  SET(CURLOPT_HEADERDATA, a);
  SET(CURLOPT_ERRORBUFFER, a->errbuf);
  SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  SET(CURLOPT_PIPEWAIT, 1L);
#undef SET
  if(cc != CURLE_OK)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "libcurl set-up failed: %s",
                        curl_easy_strerror(cc));
  return MGCALL_OK;
}

void mgc__attempt_release(struct mgc_attempt *a)
{
  if(a->easy)
    curl_easy_cleanup(a->easy);
  curl_slist_free_all(a->hdrs);
  mgcx_buf_release(&a->body);
  mgcx_buf_release(&a->head);
  memset(a, 0, sizeof(*a));
}

/* Copy the value of header name from the header block into dst. */
static int header_value(const char *head, const char *name, char *dst,
                        size_t dstlen)
{
  size_t n = strlen(name);
  for(const char *p = head; p && *p;) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    if(len > n && !strncasecmp(p, name, n) && p[n] == ':') {
      const char *v = p + n + 1;
      const char *end = p + len;
      while(v < end && (*v == ' ' || *v == '\t'))
        v++;
      while(end > v && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
      snprintf(dst, dstlen, "%.*s", (int)(end - v), v);
      return 0;
    }
    p = eol ? eol + 1 : NULL;
  }
  return -1;
}

/* Store the header lines (not the status line) in res->headers, names lower
 * case, stopping at a line boundary when full. */
static void keep_headers(const char *head, mgcall_result *res)
{
  size_t w = 0;
  res->headers[0] = '\0';
  for(const char *p = head; p && *p;) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    size_t l = len;
    while(l && (p[l - 1] == '\r' || p[l - 1] == ' '))
      l--;
    const char *colon = memchr(p, ':', l);
    if(l && colon && memcmp(p, "HTTP/", 5)) {
      if(w + l + 2 > sizeof(res->headers))
        break;
      for(size_t i = 0; i < l; i++) {
        char ch = p[i];
        res->headers[w++] =
            p + i < colon ? (char)tolower((unsigned char)ch) : ch;
      }
      res->headers[w++] = '\n';
      res->headers[w] = '\0';
    }
    p = eol ? eol + 1 : NULL;
  }
}

int mgc__status_code(long status)
{
  if(status >= 200 && status < 300)
    return MGCALL_OK;
  if(status == 404)
    return MGCALL_E_NOT_FOUND;
  if(status == 401 || status == 403)
    return MGCALL_E_ACCESS_DENIED;
  if(mgc__retry_status(status))
    return MGCALL_E_THROTTLED;
  return MGCALL_E_HTTP;
}

/* A short, printable excerpt of a non-OData body for the error message. */
static void body_excerpt(const struct mgcx_buf *b, char *dst, size_t dstlen)
{
  size_t w = 0;
  for(size_t i = 0; i < b->len && w + 1 < dstlen && i < 200; i++) {
    unsigned char ch = (unsigned char)b->data[i];
    dst[w++] = (char)(isprint(ch) ? ch : ' ');
  }
  dst[w] = '\0';
}

void mgc__attempt_result(struct mgc_attempt *a, CURLcode rc, mgcall_result *res,
                         int64_t *retry_after_ms)
{
  long status = 0;
  *retry_after_ms = -1;
  res->retry_after_ms = -1;
  res->request_id[0] = res->date[0] = res->error_code[0] = '\0';
  res->error_message[0] = res->headers[0] = '\0';
  if(rc != CURLE_OK) {
    res->status = 0;
    res->code = mgc__http_curl_code(rc);
    snprintf(res->error_message, sizeof(res->error_message), "%s",
             a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc));
    return;
  }
  curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
  res->status = status;
  res->code = mgc__status_code(status);
  const char *head = a->head.data ? a->head.data : "";
  keep_headers(head, res);
  header_value(head, "request-id", res->request_id, sizeof(res->request_id));
  header_value(head, "date", res->date, sizeof(res->date));
  char ra[80];
  uint64_t ms;
  if(!header_value(head, "retry-after", ra, sizeof(ra)) &&
     !mgc__retry_after_parse(ra, time(NULL), &ms)) {
    *retry_after_ms = (int64_t)ms;
    res->retry_after_ms = ms > (uint64_t)LONG_MAX ? LONG_MAX : (long)ms;
  }
  if(res->code == MGCALL_OK)
    return;
  struct mgc_odata_error e;
  if(!mgc__odata_parse(a->body.data, a->body.len, &e)) {
    snprintf(res->error_code, sizeof(res->error_code), "%s", e.code);
    snprintf(res->error_message, sizeof(res->error_message), "%s", e.message);
    if(!res->request_id[0])
      snprintf(res->request_id, sizeof(res->request_id), "%s", e.request_id);
    if(!res->date[0])
      snprintf(res->date, sizeof(res->date), "%s", e.date);
  }
  else if(a->body.len) {
    body_excerpt(&a->body, res->error_message, sizeof(res->error_message));
  }
}

void mgc__token_roles(const char *token, mgcall_result *res)
{
  res->roles[0] = '\0';
  json_t *claims = NULL;
  if(!token || mgc__jwt_decode(token, NULL, &claims, NULL))
    return;
  json_t *roles = json_object_get(claims, "roles");
  size_t i, w = 0;
  json_t *r;
  json_array_foreach(roles, i, r)
  {
    if(!json_is_string(r))
      continue;
    int n = snprintf(res->roles + w, sizeof(res->roles) - w, "%s%s",
                     w ? "," : "", json_string_value(r));
    if(n < 0 || (size_t)n >= sizeof(res->roles) - w) {
      res->roles[w] = '\0';
      break;
    }
    w += (size_t)n;
  }
  json_decref(claims);
}

char *mgcall_result_headers_json(const mgcall_result *res)
{
  json_t *obj = json_object();
  if(!obj)
    return NULL;
  const char *p = res ? res->headers : "";
  while(p && *p) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    const char *colon = memchr(p, ':', len);
    if(colon) {
      char name[256];
      snprintf(name, sizeof(name), "%.*s", (int)(colon - p), p);
      const char *v = colon + 1;
      while(v < p + len && (*v == ' ' || *v == '\t'))
        v++;
      json_t *arr = json_object_get(obj, name);
      if(!arr) {
        arr = json_array();
        json_object_set_new(obj, name, arr);
      }
      json_array_append_new(arr, json_stringn(v, (size_t)(p + len - v)));
    }
    p = eol ? eol + 1 : NULL;
  }
  char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
  json_decref(obj);
  return s;
}
