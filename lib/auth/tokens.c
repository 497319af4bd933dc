/* SPDX-License-Identifier: MIT */
/* tokens.c - a bearer token per tenant: memory, then the cache file, then
 * the token endpoint (client secret, certificate assertion) or the managed
 * identity endpoint (IMDS, App Service). */
#include "tokens.h"

#include "assertion.h"
#include "cloud.h"
#include "credential.h"
#include "http.h"
#include "ids.h"
#include "jwt.h"
#include "token_cache.h"
#include "token_response.h"
#include "retry.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tenants remembered in memory; past this the one expiring first goes. */
#define MAX_TENANTS 1024
/* Token requests answered 429, 500, 502, 503, 504 or failing to connect are
 * retried this many times, after Retry-After (when at most RETRY_WAIT_MAX_MS)
 * or 1 s, 2 s.  A longer Retry-After ends the retries. */
#define TOKEN_RETRIES 2
#define RETRY_WAIT_MAX_MS 10000

struct entry {
  char *tenant; /* "" for managed identity */
  char *token;
  time_t expires_at;
};

struct mgc_tokens {
  const mgcall_credential *cred;
  char *authority;   /* no trailing slash */
  char *resource;    /* Graph resource, no trailing slash */
  char *scope;       /* e.g. https://graph.microsoft.com/.default */
  char *mi_resource; /* managed identity: scope without "/.default" */
  char *cacert;
  char *proxy;
  char *cache_path; /* NULL = no cache file */
  struct mgc_http_opts http;
  mgcall_log_cb warn_cb;
  void *log_userdata;
  struct entry *entries;
  size_t nentries;
  unsigned long requests;
  /* Set by send_request() for the retry decision of mgc__tokens_get(). */
  int last_retryable;
  int64_t last_retry_after_ms; /* -1 = none */
};

static void wipe_free(char *s)
{
  if(s) {
    OPENSSL_cleanse(s, strlen(s));
    free(s);
  }
}

static char *dup_strip(const char *s)
{
  if(!s)
    return NULL;
  char *d = strdup(s);
  if(d) {
    size_t n = strlen(d);
    while(n > 0 && d[n - 1] == '/')
      d[--n] = '\0';
  }
  return d;
}

int mgc__token_settings_from_config(const mgcall_config *cfg,
                                    struct mgc_token_settings *s,
                                    struct mgc_err *err)
{
  memset(s, 0, sizeof(*s));
  const struct mgc_cloud *cloud = mgc__cloud_find(cfg->environment);
  if(!cloud)
    return mgc__err_set(err, MGCALL_E_USAGE,
                        "unknown environment '%s' (Global, USGov, USGovDoD "
                        "or China)",
                        cfg->environment);
  s->authority_url = cfg->authority_url ? cfg->authority_url : cloud->authority;
  s->graph_resource = cloud->graph;
  s->scope = cfg->scope;
  s->cacert = cfg->cacert;
  s->proxy = cfg->proxy;
  s->connect_timeout_s = cfg->connect_timeout_s;
  s->timeout_s = cfg->timeout_s;
  s->use_cache = cfg->token_cache;
  s->cache_path = cfg->token_cache_path;
  s->debug_cb = cfg->debug_cb;
  s->log_userdata = cfg->log_userdata;
  return MGCALL_OK;
}

void mgc__tokens_free(struct mgc_tokens *t)
{
  if(!t)
    return;
  for(size_t i = 0; i < t->nentries; i++) {
    free(t->entries[i].tenant);
    wipe_free(t->entries[i].token);
  }
  free(t->entries);
  free(t->authority);
  free(t->resource);
  free(t->mi_resource);
  free(t->scope);
  free(t->cacert);
  free(t->proxy);
  free(t->cache_path);
  free(t);
}

int mgc__tokens_new(const mgcall_credential *cred,
                    const struct mgc_token_settings *s, struct mgc_tokens **out,
                    struct mgc_err *err)
{
  *out = NULL;
  if(!cred || !s || !s->graph_resource || !s->authority_url)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "tokens: bad arguments");
  struct mgc_tokens *t = calloc(1, sizeof(*t));
  if(!t)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  t->cred = cred;
  t->authority = dup_strip(s->authority_url);
  t->resource = dup_strip(s->graph_resource);
  if(s->scope && *s->scope)
    t->scope = strdup(s->scope);
  else if(t->resource && asprintf(&t->scope, "%s/.default", t->resource) < 0)
    t->scope = NULL;
  /* Managed identity endpoints take a resource, not a scope. */
  if(t->scope) {
    size_t n = strlen(t->scope);
    if(n > 9 && !strcmp(t->scope + n - 9, "/.default"))
      n -= 9;
    t->mi_resource = strndup(t->scope, n);
  }
  t->cacert = s->cacert ? strdup(s->cacert) : NULL;
  t->proxy = s->proxy ? strdup(s->proxy) : NULL;
  if(s->use_cache && cred->kind != MGC_CRED_ACCESS_TOKEN)
    t->cache_path =
        s->cache_path ? strdup(s->cache_path) : mgc__token_cache_default_path();
  int bad = !t->authority || !t->resource || !t->scope || !t->mi_resource ||
            (s->cacert && !t->cacert) || (s->proxy && !t->proxy);
  if(bad) {
    mgc__tokens_free(t);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  t->http.cacert = t->cacert;
  t->http.proxy = t->proxy;
  t->http.connect_timeout_s = s->connect_timeout_s;
  t->http.timeout_s = s->timeout_s;
  t->http.debug_cb = s->debug_cb;
  t->http.log_userdata = s->log_userdata;
  t->warn_cb = s->warn_cb;
  t->log_userdata = s->log_userdata;
  *out = t;
  return MGCALL_OK;
}

const char *mgc__tokens_tenant(const struct mgc_tokens *t)
{
  return t ? mgc__credential_tenant(t->cred) : NULL;
}

const char *mgc__tokens_client_id(const struct mgc_tokens *t)
{
  return t ? mgc__credential_client_id(t->cred) : NULL;
}

unsigned long mgc__tokens_requests(const struct mgc_tokens *t)
{
  return t ? t->requests : 0;
}

static void warn(const struct mgc_tokens *t, const char *msg)
{
  if(!msg[0])
    return;
  if(t->warn_cb)
    t->warn_cb(t->log_userdata, msg);
  else
    fprintf(stderr, "mgcall: warning: %s\n", msg);
}

static int give(const char *token, time_t exp, char *out, size_t outlen,
                time_t *expires_at, struct mgc_err *err)
{
  size_t n = strlen(token);
  if(n + 1 > outlen)
    return mgc__err_set(err, MGCALL_E_INTERNAL,
                        "token of %zu bytes does not fit the buffer", n);
  memcpy(out, token, n + 1);
  if(expires_at)
    *expires_at = exp;
  return MGCALL_OK;
}

static struct entry *find_entry(struct mgc_tokens *t, const char *tenant)
{
  for(size_t i = 0; i < t->nentries; i++)
    if(!strcmp(t->entries[i].tenant, tenant))
      return &t->entries[i];
  return NULL;
}

static int remember(struct mgc_tokens *t, const char *tenant, const char *token,
                    time_t exp)
{
  struct entry *e = find_entry(t, tenant);
  char *copy = strdup(token);
  if(!copy)
    return -1;
  if(!e && t->nentries == MAX_TENANTS) {
    size_t min = 0;
    for(size_t i = 1; i < t->nentries; i++)
      if(t->entries[i].expires_at < t->entries[min].expires_at)
        min = i;
    e = &t->entries[min];
    char *name = strdup(tenant);
    if(!name) {
      free(copy);
      return -1;
    }
    free(e->tenant);
    e->tenant = name;
  }
  if(!e) {
    struct entry *grown =
        realloc(t->entries, (t->nentries + 1) * sizeof(*t->entries));
    if(!grown) {
      free(copy);
      return -1;
    }
    t->entries = grown;
    e = &t->entries[t->nentries];
    e->tenant = strdup(tenant);
    e->token = NULL;
    if(!e->tenant) {
      free(copy);
      return -1;
    }
    t->nentries++;
  }
  wipe_free(e->token);
  e->token = copy;
  e->expires_at = exp;
  return 0;
}

/* ---- HTTP ---- */

struct request {
  const char *url;
  const char *form; /* POST body, or NULL for GET */
  struct curl_slist *headers;
  const char *what; /* "token endpoint" ... */
};

static int retry_status(long status)
{
  return mgc__retry_status(status) || status == 500 || status == 502;
}

static void sleep_ms(int64_t ms)
{
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while(nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

static int send_request(struct mgc_tokens *t, const struct request *rq,
                        struct mgc_token_response *resp, struct mgc_err *err)
{
  CURL *h = curl_easy_init();
  if(!h)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "libcurl: out of memory");
  struct mgc_buf body;
  mgc__buf_init(&body, MGC_HTTP_MAX_BODY);
  int rc = mgc__http_setup(h, &t->http, err);
  if(rc)
    goto out;
  curl_easy_setopt(h, CURLOPT_URL, rq->url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mgc__buf_curl_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  if(rq->form) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->form);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->form));
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq->headers);
  t->requests++;
  CURLcode cc = curl_easy_perform(h);
  t->last_retryable = cc != CURLE_OK && mgc__http_curl_retryable(cc);
  t->last_retry_after_ms = -1;
  if(cc == CURLE_WRITE_ERROR) {
    rc = mgc__err_set(err, MGCALL_E_AUTH,
                      "%s answered more than %d bytes: not a token response",
                      rq->what, MGC_HTTP_MAX_BODY);
    goto out;
  }
  if(cc != CURLE_OK) {
    rc = mgc__http_curl_code(cc);
    if(rc == MGCALL_E_INTERNAL)
      rc = MGCALL_E_NETWORK;
    mgc__err_set(err, rc, "cannot reach the %s at %s: %s", rq->what, rq->url,
                 curl_easy_strerror(cc));
    goto out;
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  t->last_retryable = retry_status(status);
  struct curl_header *ra = NULL;
  uint64_t ra_ms = 0;
  if(t->last_retryable &&
     curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &ra) ==
         CURLHE_OK &&
     !mgc__retry_after_parse(ra->value, time(NULL), &ra_ms))
    t->last_retry_after_ms = (int64_t)ra_ms;
  rc = mgc__token_response_parse(body.data, body.len, status, time(NULL),
                                 rq->what, resp, err);
out:
  if(body.data)
    OPENSSL_cleanse(body.data, body.len);
  mgc__buf_release(&body);
  curl_easy_cleanup(h);
  return rc;
}

/* Append "&name=escaped(value)" (or without '&' when first) to a capped
 * form buffer. */
static int form_add(struct mgc_buf *form, const char *name, const char *value)
{
  char *esc = curl_easy_escape(NULL, value, 0);
  if(!esc)
    return -1;
  int bad = (form->len && mgc__buf_add(form, "&", 1)) ||
            mgc__buf_add(form, name, strlen(name)) ||
            mgc__buf_add(form, "=", 1) || mgc__buf_add(form, esc, strlen(esc));
  OPENSSL_cleanse(esc, strlen(esc));
  curl_free(esc);
  return bad ? -1 : 0;
}

static int fetch_client_credentials(struct mgc_tokens *t, const char *tenant,
                                    struct mgc_token_response *resp,
                                    struct mgc_err *err)
{
  const mgcall_credential *c = t->cred;
  char *url = NULL, *assertion = NULL;
  struct mgc_buf form;
  mgc__buf_init(&form, 256 * 1024);
  int rc;
  if(asprintf(&url, "%s/%s/oauth2/v2.0/token", t->authority, tenant) < 0)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  int bad = form_add(&form, "grant_type", "client_credentials") ||
            form_add(&form, "client_id", c->client_id) ||
            form_add(&form, "scope", t->scope);
  if(c->kind == MGC_CRED_CLIENT_SECRET) {
    bad = bad || form_add(&form, "client_secret", c->client_secret);
  }
  else {
    assertion = mgc__client_assertion(c, url, time(NULL), err);
    if(!assertion) {
      rc = err ? err->code : MGCALL_E_AUTH;
      goto out;
    }
    bad = bad ||
          form_add(&form, "client_assertion_type",
                   "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") ||
          form_add(&form, "client_assertion", assertion);
  }
  if(bad) {
    rc = mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
    goto out;
  }
  struct curl_slist *hdrs = curl_slist_append(
      NULL, "Content-Type: application/x-www-form-urlencoded");
  hdrs = hdrs ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
  if(!hdrs) {
    rc = mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
    goto out;
  }
  struct request rq = {url, form.data, hdrs, "token endpoint"};
  rc = send_request(t, &rq, resp, err);
  curl_slist_free_all(hdrs);
out:
  wipe_free(assertion);
  if(form.data)
    OPENSSL_cleanse(form.data, form.len);
  mgc__buf_release(&form);
  free(url);
  return rc;
}

static int fetch_managed_identity(struct mgc_tokens *t,
                                  struct mgc_token_response *resp,
                                  struct mgc_err *err)
{
  const mgcall_credential *c = t->cred;
  char *res = curl_easy_escape(NULL, t->mi_resource, 0);
  char *cid = c->client_id ? curl_easy_escape(NULL, c->client_id, 0) : NULL;
  char *url = NULL, *hdr = NULL;
  struct curl_slist *hdrs = NULL;
  int rc = MGCALL_E_INTERNAL;
  if(!res || (c->client_id && !cid))
    goto nomem;
  int n;
  if(c->identity_endpoint) {
    n = asprintf(&url, "%s%capi-version=2019-08-01&resource=%s%s%s",
                 c->identity_endpoint,
                 strchr(c->identity_endpoint, '?') ? '&' : '?', res,
                 cid ? "&client_id=" : "", cid ? cid : "");
    if(n < 0 || asprintf(&hdr, "X-IDENTITY-HEADER: %s", c->identity_header) < 0)
      goto nomem;
  }
  else {
    n = asprintf(&url,
                 "%s/metadata/identity/oauth2/token?api-version=2018-02-01"
                 "&resource=%s%s%s",
                 c->imds_url, res, cid ? "&client_id=" : "", cid ? cid : "");
    if(n < 0 || !(hdr = strdup("Metadata: true")))
      goto nomem;
  }
  hdrs = curl_slist_append(NULL, hdr);
  if(!hdrs)
    goto nomem;
  struct request rq = {url, NULL, hdrs, "managed identity endpoint"};
  rc = send_request(t, &rq, resp, err);
  goto out;
nomem:
  rc = mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
out:
  curl_slist_free_all(hdrs);
  wipe_free(hdr);
  free(url);
  curl_free(res);
  curl_free(cid);
  return rc;
}

/* Expiry of an access token given as is: its exp claim, or 0. */
static time_t token_exp(const char *token)
{
  json_t *claims = NULL;
  struct mgc_err e;
  time_t exp = 0;
  if(mgc__jwt_decode(token, NULL, &claims, &e) == 0) {
    json_t *v = json_object_get(claims, "exp");
    if(json_is_integer(v) && json_integer_value(v) > 0)
      exp = (time_t)json_integer_value(v);
  }
  json_decref(claims);
  return exp;
}

int mgc__tokens_get(struct mgc_tokens *t, const char *tenant, int force_refresh,
                    char *out, size_t outlen, time_t *expires_at,
                    struct mgc_err *err)
{
  if(!t || !out)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "tokens: bad arguments");
  const mgcall_credential *c = t->cred;
  if(c->kind == MGC_CRED_ACCESS_TOKEN)
    return give(c->access_token, token_exp(c->access_token), out, outlen,
                expires_at, err);

  const char *key_tenant;
  const char *authority;
  if(c->kind == MGC_CRED_MANAGED_IDENTITY) {
    key_tenant = ""; /* the identity has one tenant; the endpoint knows it */
    authority = c->identity_endpoint ? c->identity_endpoint : c->imds_url;
  }
  else {
    key_tenant = tenant && *tenant ? tenant : c->tenant_id;
    authority = t->authority;
    if(!mgc__tenant_id_ok(key_tenant))
      return mgc__err_set(err, MGCALL_E_USAGE, "bad tenant id '%.300s'",
                          key_tenant ? key_tenant : "");
  }
  time_t now = time(NULL);
  if(!force_refresh) {
    struct entry *e = find_entry(t, key_tenant);
    if(e && e->expires_at - now > MGC_TOKEN_MARGIN)
      return give(e->token, e->expires_at, out, outlen, expires_at, err);
  }
  struct mgc_cache_key key = {
      authority, key_tenant, c->client_id ? c->client_id : "",
      c->kind == MGC_CRED_MANAGED_IDENTITY ? t->mi_resource : t->scope};
  char *text = NULL;
  size_t len = 0;
  char warning[600] = "";
  int refused = 0;
  if(t->cache_path) {
    if(mgc__token_cache_read(t->cache_path, &text, &len, warning,
                             sizeof(warning))) {
      char *tok = NULL;
      time_t exp = 0;
      if(!force_refresh &&
         mgc__token_cache_find(text, len, &key, now, &tok, &exp)) {
        int rc = remember(t, key_tenant, tok, exp)
                     ? mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory")
                     : give(tok, exp, out, outlen, expires_at, err);
        wipe_free(tok);
        wipe_free(text);
        return rc;
      }
    }
    else if(warning[0]) {
      refused = 1;
      warn(t, warning);
    }
  }
  struct mgc_token_response resp;
  int rc;
  for(int attempt = 0;; attempt++) {
    t->last_retryable = 0;
    rc = c->kind == MGC_CRED_MANAGED_IDENTITY
             ? fetch_managed_identity(t, &resp, err)
             : fetch_client_credentials(t, key_tenant, &resp, err);
    if(rc == MGCALL_OK || !t->last_retryable || attempt == TOKEN_RETRIES)
      break;
    int64_t wait = t->last_retry_after_ms >= 0 ? t->last_retry_after_ms
                                               : 1000LL << attempt;
    if(wait > RETRY_WAIT_MAX_MS)
      break;
    sleep_ms(wait);
  }
  if(rc) {
    wipe_free(text);
    return rc;
  }
  if(remember(t, key_tenant, resp.access_token, resp.expires_at)) {
    rc = mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  else {
    rc = give(resp.access_token, resp.expires_at, out, outlen, expires_at, err);
  }
  if(rc == MGCALL_OK && t->cache_path && !refused) {
    char *next = mgc__token_cache_update(text, len, &key, resp.access_token,
                                         resp.expires_at, now);
    if(next) {
      if(mgc__token_cache_write(t->cache_path, next, warning, sizeof(warning)))
        warn(t, warning);
      wipe_free(next);
    }
  }
  mgc__token_response_release(&resp);
  wipe_free(text);
  return rc;
}
