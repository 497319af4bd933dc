/* SPDX-License-Identifier: MIT */
/* client.c - the client handle, the keepAlive request and its result. */
#include "client.h"

#include "cloud.h"
#include "jwt.h"
#include "odata.h"
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

int mgcall_global_init(void)
{
  if(curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return MGCALL_E_INTERNAL;
  if(OPENSSL_init_crypto(0, NULL) != 1)
    return MGCALL_E_INTERNAL;
  return MGCALL_OK;
}

void mgcall_global_cleanup(void)
{
  mgc__http_global_cleanup();
  curl_global_cleanup();
}

void mgcall_config_init(mgcall_config *cfg)
{
  if(!cfg)
    return;
  memset(cfg, 0, sizeof(*cfg));
  cfg->environment = "Global";
  cfg->api_version = "v1.0";
  cfg->connect_timeout_s = 10;
  cfg->timeout_s = 100;
  cfg->retries = MGC_RETRY_DEFAULT;
  cfg->token_cache = 1;
}

uint64_t mgc__now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int is_tchar(unsigned char c)
{
  return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c);
}

int mgc__header_check(const char *line, char *errbuf, size_t errlen)
{
  const char *why = NULL;
  size_t len = line ? strlen(line) : 0;
  const char *colon = line ? strchr(line, ':') : NULL;
  if(!line || !len)
    why = "empty header";
  else if(len > MGC_HEADER_MAX)
    why = "header too long";
  else if(strpbrk(line, "\r\n"))
    why = "header contains CR or LF";
  else if(!colon || colon == line)
    why = "header is not 'Name: value'";
  if(!why) {
    for(const char *p = line; p < colon; p++)
      if(!is_tchar((unsigned char)*p)) {
        why = "header name has a character not allowed in a name";
        break;
      }
  }
  if(!why) {
    size_t n = (size_t)(colon - line);
    static const char *const forbidden[] = {"Authorization", "Host",
                                            "Content-Length"};
    for(size_t i = 0; i < 3; i++)
      if(n == strlen(forbidden[i]) && !strncasecmp(line, forbidden[i], n)) {
        if(errbuf && errlen)
          snprintf(errbuf, errlen, "header '%s' may not be set", forbidden[i]);
        return -1;
      }
    for(const char *p = colon + 1; *p; p++)
      if((unsigned char)*p < 0x20 && *p != '\t') {
        why = "header value has a control character";
        break;
      }
  }
  if(why) {
    if(errbuf && errlen)
      snprintf(errbuf, errlen, "%s", why);
    return -1;
  }
  return 0;
}

/* Copy s, or NULL for NULL; *ok cleared when out of memory. */
static char *dup_opt(const char *s, int *ok)
{
  if(!s)
    return NULL;
  char *d = strdup(s);
  if(!d)
    *ok = 0;
  return d;
}

static char *dup_url(const char *s, int *ok)
{
  char *d = dup_opt(s, ok);
  if(d) {
    size_t n = strlen(d);
    while(n && d[n - 1] == '/')
      d[--n] = '\0';
  }
  return d;
}

static int url_ok(const char *u)
{
  return u &&
         (!strncasecmp(u, "https://", 8) || !strncasecmp(u, "http://", 7)) &&
         !strpbrk(u, " \t\r\n?#");
}

int mgcall_client_new(const mgcall_config *cfg, mgcall_client **out,
                      char *errbuf, size_t errlen)
{
  struct mgc_err err;
  mgc__err_clear(&err);
  if(out)
    *out = NULL;
  if(!cfg || !out) {
    mgc__err_set(&err, MGCALL_E_USAGE, "no configuration");
    goto fail;
  }
  const struct mgc_cloud *cloud = mgc__cloud_find(cfg->environment);
  if(!cloud) {
    mgc__err_set(&err, MGCALL_E_USAGE,
                 "unknown environment '%s': use Global, USGov, USGovDoD or "
                 "China",
                 cfg->environment);
    goto fail;
  }
  const char *api = cfg->api_version ? cfg->api_version : "v1.0";
  if(strcmp(api, "v1.0") && strcmp(api, "beta")) {
    mgc__err_set(&err, MGCALL_E_USAGE,
                 "unknown api version '%s': use v1.0 or beta", api);
    goto fail;
  }
  if(cfg->retries < 0 || cfg->retries > MGC_RETRY_MAX) {
    mgc__err_set(&err, MGCALL_E_USAGE, "retries must be 0..%d", MGC_RETRY_MAX);
    goto fail;
  }
  if(cfg->retry_max_time_s < 0 || cfg->connect_timeout_s < 0 ||
     cfg->timeout_s < 0) {
    mgc__err_set(&err, MGCALL_E_USAGE, "negative time");
    goto fail;
  }
  const char *urls[2] = {cfg->graph_url, cfg->authority_url};
  for(int i = 0; i < 2; i++)
    if(urls[i] && !url_ok(urls[i])) {
      mgc__err_set(&err, MGCALL_E_USAGE, "bad URL '%s': want http(s)://host",
                   urls[i]);
      goto fail;
    }
  size_t nheaders = 0;
  const char *user_crid = NULL;
  for(; cfg->headers && cfg->headers[nheaders]; nheaders++) {
    char why[256];
    if(mgc__header_check(cfg->headers[nheaders], why, sizeof(why))) {
      mgc__err_set(&err, MGCALL_E_USAGE, "bad header: %s", why);
      goto fail;
    }
  }
  mgcall_client *c = calloc(1, sizeof(*c));
  if(!c) {
    mgc__err_set(&err, MGCALL_E_INTERNAL, "out of memory");
    goto fail;
  }
  int ok = 1;
  c->graph = dup_url(cfg->graph_url ? cfg->graph_url : cloud->graph, &ok);
  c->api_version = dup_opt(api, &ok);
  c->authority =
      dup_url(cfg->authority_url ? cfg->authority_url : cloud->authority, &ok);
  c->graph_resource = dup_opt(cloud->graph, &ok);
  c->scope = dup_opt(cfg->scope, &ok);
  c->cacert = dup_opt(cfg->cacert, &ok);
  c->proxy = dup_opt(cfg->proxy, &ok);
  c->token_cache_path = dup_opt(cfg->token_cache_path, &ok);
  c->token_cache = cfg->token_cache;
  c->headers = calloc(nheaders + 1, sizeof(char *));
  if(!c->headers)
    ok = 0;
  for(size_t i = 0; ok && i < nheaders; i++) {
    c->headers[i] = dup_opt(cfg->headers[i], &ok);
    if(ok && !strncasecmp(c->headers[i], "client-request-id:", 18)) {
      user_crid = c->headers[i] + 18;
      while(*user_crid == ' ' || *user_crid == '\t')
        user_crid++;
    }
  }
  c->user_crid = user_crid;
  c->retry.retries = cfg->retries;
  c->retry.max_time_ms = (uint64_t)cfg->retry_max_time_s * 1000;
  c->credential = cfg->credential;
  c->verbose_cb = cfg->verbose_cb;
  c->log_userdata = cfg->log_userdata;
  c->http.cacert = c->cacert;
  c->http.proxy = c->proxy;
  c->http.connect_timeout_s = cfg->connect_timeout_s;
  c->http.timeout_s = cfg->timeout_s;
  c->http.debug_cb = cfg->debug_cb;
  c->http.log_userdata = cfg->log_userdata;
  if(!ok) {
    mgcall_client_free(c);
    mgc__err_set(&err, MGCALL_E_INTERNAL, "out of memory");
    goto fail;
  }
  *out = c;
  return MGCALL_OK;
fail:
  if(errbuf && errlen)
    snprintf(errbuf, errlen, "%s", err.msg);
  return err.code;
}

void mgcall_client_free(mgcall_client *c)
{
  if(!c)
    return;
  mgcall_batch_free(c->blocking);
  mgc__tokens_free(c->tokens);
  free(c->graph);
  free(c->api_version);
  free(c->authority);
  free(c->graph_resource);
  free(c->scope);
  free(c->cacert);
  free(c->proxy);
  free(c->token_cache_path);
  for(size_t i = 0; c->headers && c->headers[i]; i++)
    free(c->headers[i]);
  free(c->headers);
  free(c);
}

const char *mgcall_client_errmsg(const mgcall_client *client)
{
  return client ? client->err.msg : "";
}

unsigned long mgcall_client_token_requests(const mgcall_client *client)
{
  return client ? mgc__tokens_requests(client->tokens) : 0;
}

int mgc__client_tokens(mgcall_client *c, struct mgc_tokens **out)
{
  if(!c->tokens) {
    if(!c->credential)
      return mgc__err_set(&c->err, MGCALL_E_AUTH,
                          "no credentials: give --access-token-file, a client "
                          "secret, a certificate or --managed-identity");
    struct mgc_token_settings s = {
        .authority_url = c->authority,
        .graph_resource = c->graph_resource,
        .scope = c->scope,
        .cacert = c->cacert,
        .proxy = c->proxy,
        .connect_timeout_s = c->http.connect_timeout_s,
        .timeout_s = c->http.timeout_s,
        .use_cache = c->token_cache,
        .cache_path = c->token_cache_path,
        .debug_cb = c->http.debug_cb,
        .log_userdata = c->log_userdata,
    };
    int rc = mgc__tokens_new(c->credential, &s, &c->tokens, &c->err);
    if(rc)
      return rc;
  }
  *out = c->tokens;
  return MGCALL_OK;
}

char *mgcall_keep_alive_url(const mgcall_client *client, const char *call_id)
{
  if(!client || !call_id || !*call_id)
    return NULL;
  char *seg = mgc__url_segment(call_id, strlen(call_id));
  if(!seg)
    return NULL;
  size_t n =
      strlen(client->graph) + strlen(client->api_version) + strlen(seg) + 64;
  char *url = malloc(n);
  if(url)
    snprintf(url, n, "%s/%s/communications/calls/%s/keepAlive", client->graph,
             client->api_version, seg);
  free(seg);
  return url;
}

/* ---------------------------------------------------------------------
 * One attempt.
 * --------------------------------------------------------------------- */

/* 1 when the extra headers already name header name (case-insensitive). */
static int has_header(const mgcall_client *c, const char *name)
{
  size_t n = strlen(name);
  for(size_t i = 0; c->headers[i]; i++)
    if(!strncasecmp(c->headers[i], name, n) && c->headers[i][n] == ':')
      return 1;
  return 0;
}

static size_t head_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
  struct mgc_attempt *a = ud;
  size_t n = size * nmemb;
  if(n >= 5 && !memcmp(ptr, "HTTP/", 5))
    a->head.len = 0; /* a new response (after 100 Continue ...) */
  if(mgc__buf_add(&a->head, ptr, n))
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

int mgc__attempt_start(mgcall_client *c, struct mgc_attempt *a, const char *url,
                       const char *token, const char *crid, int retry)
{
  memset(a, 0, sizeof(*a));
  mgc__buf_init(&a->body, MGC_HTTP_MAX_BODY);
  mgc__buf_init(&a->head, 64 * 1024);
  a->easy = curl_easy_init();
  if(!a->easy)
    return mgc__err_set(&c->err, MGCALL_E_INTERNAL, "out of memory");
  int rc = mgc__http_setup(a->easy, &c->http, &c->err);
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
  if(!has_header(c, "Accept"))
    bad |= add_header(&a->hdrs, "Accept: application/json");
  if(retry > 0) {
    snprintf(line, sizeof(line), "Retry-Attempt: %d", retry);
    bad |= add_header(&a->hdrs, line);
  }
  bad |= add_header(&a->hdrs, "Content-Type:"); /* no body, no type */
  bad |= add_header(&a->hdrs, "Expect:");
  for(size_t i = 0; c->headers[i]; i++)
    bad |= add_header(&a->hdrs, c->headers[i]);
  if(bad)
    return mgc__err_set(&c->err, MGCALL_E_INTERNAL, "out of memory");
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
    return mgc__err_set(&c->err, MGCALL_E_INTERNAL, "libcurl set-up failed: %s",
                        curl_easy_strerror(cc));
  return MGCALL_OK;
}

void mgc__attempt_release(struct mgc_attempt *a)
{
  if(a->easy)
    curl_easy_cleanup(a->easy);
  curl_slist_free_all(a->hdrs);
  mgc__buf_release(&a->body);
  mgc__buf_release(&a->head);
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
static void body_excerpt(const struct mgc_buf *b, char *dst, size_t dstlen)
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

/* Whole lifetime of a JWT access token (exp - iat) in seconds, or -1. */
static long token_lifetime(const char *token)
{
  json_t *claims = NULL;
  long life = -1;
  if(mgc__jwt_decode(token, NULL, &claims, NULL) == 0) {
    json_t *exp = json_object_get(claims, "exp");
    json_t *iat = json_object_get(claims, "iat");
    if(json_is_integer(exp) && json_is_integer(iat) &&
       json_integer_value(exp) > json_integer_value(iat))
      life = (long)(json_integer_value(exp) - json_integer_value(iat));
  }
  json_decref(claims);
  return life;
}

#define PREFETCH_TOKEN_MAX 16384

int mgcall_client_prefetch_token(mgcall_client *client, const char *tenant_id,
                                 long min_remaining_s, long *remaining_s,
                                 long *lifetime_s)
{
  if(remaining_s)
    *remaining_s = -1;
  if(lifetime_s)
    *lifetime_s = -1;
  if(!client || min_remaining_s < 0)
    return MGCALL_E_USAGE;
  struct mgc_tokens *t;
  int rc = mgc__client_tokens(client, &t);
  if(rc)
    return rc;
  char *buf = malloc(PREFETCH_TOKEN_MAX);
  if(!buf)
    return mgc__err_set(&client->err, MGCALL_E_INTERNAL, "out of memory");
  time_t exp = 0;
  rc = mgc__tokens_get(t, tenant_id, 0, buf, PREFETCH_TOKEN_MAX, &exp,
                       &client->err);
  if(!rc && exp > 0 && (long)(exp - time(NULL)) < min_remaining_s) {
    exp = 0;
    rc = mgc__tokens_get(t, tenant_id, 1, buf, PREFETCH_TOKEN_MAX, &exp,
                         &client->err);
  }
  if(!rc) {
    long left = exp > 0 ? (long)(exp - time(NULL)) : -1;
    if(remaining_s)
      *remaining_s = left < 0 && exp > 0 ? 0 : left;
    if(lifetime_s)
      *lifetime_s = token_lifetime(buf);
  }
  OPENSSL_cleanse(buf, PREFETCH_TOKEN_MAX);
  free(buf);
  return rc;
}
