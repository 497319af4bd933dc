/* SPDX-License-Identifier: MIT */
/* tokens.c - a bearer token per tenant: memory, then the cache file, then a
 * request to the token endpoint (client secret, certificate assertion) or
 * the managed identity endpoint (IMDS, App Service).  This file builds the
 * request and reads its answer; it never waits: the transfer is driven by
 * the caller (a batch's multi handle, or tokens_get.c for the blocking
 * mgc__tokens_get()).  The cache file is read once per token source and
 * written by cache_writer.c's thread. */
#include "tokens.h"

#include "assertion.h"
#include "cache_writer.h"
#include "cloud.h"
#include "credential.h"
#include "http.h"
#include "ids.h"
#include "jwt.h"
#include "token_cache.h"
#include "token_response.h"
#include "retry.h"

#include <curl/curl.h>
#include <limits.h>
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
  /* The cache file, read once on first need (cache_text may stay NULL). */
  int cache_loaded;
  int cache_refused; /* refused on reading: neither used nor written */
  char *cache_text;
  size_t cache_len;
  struct mgc_cache_writer *writer; /* NULL without a cache file */
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

static void warn_cb_adapter(void *ud, const char *msg);

void mgc__tokens_free(struct mgc_tokens *t)
{
  if(!t)
    return;
  mgc__cache_writer_free(t->writer, warn_cb_adapter, t);
  if(t->cache_text) {
    OPENSSL_cleanse(t->cache_text, t->cache_len);
    free(t->cache_text);
  }
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
  if(s->use_cache && cred->kind != MGCALL_CRED_ACCESS_TOKEN)
    t->cache_path =
        s->cache_path ? strdup(s->cache_path) : mgc__token_cache_default_path();
  if(t->cache_path)
    t->writer = mgc__cache_writer_new(t->cache_path);
  int bad = !t->authority || !t->resource || !t->scope || !t->mi_resource ||
            (s->cacert && !t->cacert) || (s->proxy && !t->proxy) ||
            (t->cache_path && !t->writer);
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
  return t ? mgcall_credential_tenant_id(t->cred) : NULL;
}

const char *mgc__tokens_client_id(const struct mgc_tokens *t)
{
  return t ? mgcall_credential_client_id(t->cred) : NULL;
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

static void warn_cb_adapter(void *ud, const char *msg)
{
  warn(ud, msg);
}

/* Hand out a warning of the cache writer's thread (owner's thread). */
static void writer_warnings(struct mgc_tokens *t)
{
  char w[600];
  if(t->writer && mgc__cache_writer_warning(t->writer, w, sizeof(w)))
    warn(t, w);
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

/* ---- which tenant, which cache key ---- */

/* The tenant a token is kept under: "" for a managed identity (it has one
 * tenant; the endpoint knows it), else tenant or the credential's own; NULL
 * when that is not a valid tenant id. */
static const char *key_tenant_of(const struct mgc_tokens *t, const char *tenant)
{
  const mgcall_credential *c = t->cred;
  if(c->kind == MGCALL_CRED_MANAGED_IDENTITY || c->kind == MGCALL_CRED_ACCESS_TOKEN)
    return "";
  const char *k = tenant && *tenant ? tenant : c->tenant_id;
  return mgc__tenant_id_ok(k) ? k : NULL;
}

int mgc__tokens_fixed(const struct mgc_tokens *t)
{
  return t && t->cred->kind == MGCALL_CRED_ACCESS_TOKEN;
}

const char *mgc__tokens_key(const struct mgc_tokens *t, const char *tenant)
{
  return t ? key_tenant_of(t, tenant) : NULL;
}

static struct mgc_cache_key cache_key(const struct mgc_tokens *t,
                                      const char *key_tenant)
{
  const mgcall_credential *c = t->cred;
  int mi = c->kind == MGCALL_CRED_MANAGED_IDENTITY;
  struct mgc_cache_key k = {
      mi ? (c->identity_endpoint ? c->identity_endpoint : c->imds_url)
         : t->authority,
      key_tenant, c->client_id ? c->client_id : "",
      mi ? t->mi_resource : t->scope};
  return k;
}

static int bad_tenant(const char *tenant, const mgcall_credential *c,
                      struct mgc_err *err)
{
  const char *k = tenant && *tenant ? tenant : c->tenant_id;
  return mgc__err_set(err, MGCALL_E_USAGE, "bad tenant id '%.300s'",
                      k ? k : "");
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

/* Read the cache file the first time it is needed (once per token source:
 * a small local file; later tokens come from memory and are written by the
 * writer's thread). */
static void load_cache(struct mgc_tokens *t)
{
  if(!t->cache_path || t->cache_loaded)
    return;
  t->cache_loaded = 1;
  char warning[600] = "";
  if(!mgc__token_cache_read(t->cache_path, &t->cache_text, &t->cache_len,
                            warning, sizeof(warning)) &&
     warning[0]) {
    t->cache_refused = 1;
    warn(t, warning);
  }
}

static int give_copy(const char *token, time_t exp, char **out,
                     time_t *expires_at, struct mgc_err *err)
{
  *out = strdup(token);
  if(!*out)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  if(expires_at)
    *expires_at = exp;
  return MGCALL_OK;
}

int mgc__tokens_held(struct mgc_tokens *t, const char *tenant, long min_left_s,
                     char **token, time_t *expires_at, struct mgc_err *err)
{
  *token = NULL;
  if(expires_at)
    *expires_at = 0;
  if(!t)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "tokens: bad arguments");
  const mgcall_credential *c = t->cred;
  if(c->kind == MGCALL_CRED_ACCESS_TOKEN)
    return give_copy(c->access_token, token_exp(c->access_token), token,
                     expires_at, err);
  const char *kt = key_tenant_of(t, tenant);
  if(!kt)
    return bad_tenant(tenant, c, err);
  writer_warnings(t);
  time_t now = time(NULL);
  struct entry *e = find_entry(t, kt);
  if(e && (long long)e->expires_at - (long long)now > min_left_s)
    return give_copy(e->token, e->expires_at, token, expires_at, err);
  load_cache(t);
  if(!t->cache_text || t->cache_refused)
    return MGCALL_OK;
  struct mgc_cache_key key = cache_key(t, kt);
  char *tok = NULL;
  time_t exp = 0;
  int rc = MGCALL_OK;
  if(mgc__token_cache_find(t->cache_text, t->cache_len, &key, now, &tok,
                           &exp) &&
     (long long)exp - (long long)now > min_left_s) {
    rc = remember(t, kt, tok, exp)
             ? mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory")
             : give_copy(tok, exp, token, expires_at, err);
  }
  wipe_free(tok);
  return rc;
}

/* ---- one token request ---- */

struct mgc_token_req {
  CURL *easy;
  struct curl_slist *hdrs;
  char *url;
  struct mgcx_buf form; /* POST body (secrets: wiped) */
  struct mgcx_buf body; /* the answer */
  char *key_tenant;
  const char *what; /* "token endpoint" ... */
};

static int retry_status(long status)
{
  return mgc__retry_status(status) || status == 500 || status == 502;
}

/* Append "&name=escaped(value)" (or without '&' when first) to a capped
 * form buffer. */
static int form_add(struct mgcx_buf *form, const char *name, const char *value)
{
  char *esc = curl_easy_escape(NULL, value, 0);
  if(!esc)
    return -1;
  int bad = (form->len && mgcx_buf_add(form, "&", 1)) ||
            mgcx_buf_add(form, name, strlen(name)) ||
            mgcx_buf_add(form, "=", 1) || mgcx_buf_add(form, esc, strlen(esc));
  OPENSSL_cleanse(esc, strlen(esc));
  curl_free(esc);
  return bad ? -1 : 0;
}

static int add_hdr(struct curl_slist **l, const char *line)
{
  struct curl_slist *n = curl_slist_append(*l, line);
  if(!n)
    return -1;
  *l = n;
  return 0;
}

/* URL, form and headers of a client credentials request (secret or
 * certificate assertion: signing is CPU work, no I/O). */
static int build_client_credentials(struct mgc_tokens *t,
                                    struct mgc_token_req *r,
                                    struct mgc_err *err)
{
  const mgcall_credential *c = t->cred;
  if(asprintf(&r->url, "%s/%s/oauth2/v2.0/token", t->authority, r->key_tenant) <
     0) {
    r->url = NULL;
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  r->what = "token endpoint";
  int bad = form_add(&r->form, "grant_type", "client_credentials") ||
            form_add(&r->form, "client_id", c->client_id) ||
            form_add(&r->form, "scope", t->scope);
  if(c->kind == MGCALL_CRED_CLIENT_SECRET) {
    bad = bad || form_add(&r->form, "client_secret", c->client_secret);
  }
  else {
    char *assertion = mgc__client_assertion(c, r->url, time(NULL), err);
    if(!assertion)
      return err ? err->code : MGCALL_E_AUTH;
    bad = bad ||
          form_add(&r->form, "client_assertion_type",
                   "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") ||
          form_add(&r->form, "client_assertion", assertion);
    wipe_free(assertion);
  }
  bad = bad ||
        add_hdr(&r->hdrs, "Content-Type: application/x-www-form-urlencoded") ||
        add_hdr(&r->hdrs, "Accept: application/json");
  return bad ? mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory")
             : MGCALL_OK;
}

/* URL and headers of a managed identity request (IMDS or App Service). */
static int build_managed_identity(struct mgc_tokens *t, struct mgc_token_req *r,
                                  struct mgc_err *err)
{
  const mgcall_credential *c = t->cred;
  char *res = curl_easy_escape(NULL, t->mi_resource, 0);
  char *cid = c->client_id ? curl_easy_escape(NULL, c->client_id, 0) : NULL;
  char *hdr = NULL;
  int bad = !res || (c->client_id && !cid);
  r->what = "managed identity endpoint";
  if(!bad && c->identity_endpoint) {
    bad = asprintf(&r->url, "%s%capi-version=2019-08-01&resource=%s%s%s",
                   c->identity_endpoint,
                   strchr(c->identity_endpoint, '?') ? '&' : '?', res,
                   cid ? "&client_id=" : "", cid ? cid : "") < 0;
    if(bad)
      r->url = NULL;
    if(!bad && asprintf(&hdr, "X-IDENTITY-HEADER: %s", c->identity_header) < 0)
      hdr = NULL;
  }
  else if(!bad) {
    bad = asprintf(&r->url,
                   "%s/metadata/identity/oauth2/token?api-version=2018-02-01"
                   "&resource=%s%s%s",
                   c->imds_url, res, cid ? "&client_id=" : "",
                   cid ? cid : "") < 0;
    if(bad)
      r->url = NULL;
    hdr = bad ? NULL : strdup("Metadata: true");
  }
  bad = bad || !hdr || add_hdr(&r->hdrs, hdr);
  wipe_free(hdr);
  curl_free(res);
  curl_free(cid);
  return bad ? mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory")
             : MGCALL_OK;
}

void mgc__tokens_req_free(struct mgc_token_req *r)
{
  if(!r)
    return;
  if(r->easy)
    curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->hdrs); /* the App Service header is a secret */
  if(r->form.data)
    OPENSSL_cleanse(r->form.data, r->form.len);
  mgcx_buf_release(&r->form);
  if(r->body.data)
    OPENSSL_cleanse(r->body.data, r->body.len);
  mgcx_buf_release(&r->body);
  free(r->url);
  free(r->key_tenant);
  free(r);
}

int mgc__tokens_req_new(struct mgc_tokens *t, const char *tenant,
                        struct mgc_token_req **out, struct mgc_err *err)
{
  *out = NULL;
  if(!t || t->cred->kind == MGCALL_CRED_ACCESS_TOKEN)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "tokens: nothing to request");
  const char *kt = key_tenant_of(t, tenant);
  if(!kt)
    return bad_tenant(tenant, t->cred, err);
  struct mgc_token_req *r = calloc(1, sizeof(*r));
  if(!r)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  mgcx_buf_init(&r->form, 256 * 1024);
  mgcx_buf_init(&r->body, MGC_HTTP_MAX_BODY);
  r->key_tenant = strdup(kt);
  r->easy = curl_easy_init();
  int rc = !r->key_tenant || !r->easy
               ? mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory")
               : MGCALL_OK;
  if(!rc)
    rc = t->cred->kind == MGCALL_CRED_MANAGED_IDENTITY
             ? build_managed_identity(t, r, err)
             : build_client_credentials(t, r, err);
  if(!rc)
    rc = mgc__http_setup(r->easy, &t->http, err);
  CURLcode cc = CURLE_OK;
#define SET(opt, val)                                                          \
  do {                                                                         \
    if(cc == CURLE_OK)                                                         \
      cc = curl_easy_setopt(r->easy, opt, val);                                \
  } while(0)
  if(!rc) {
    SET(CURLOPT_URL, r->url);
    SET(CURLOPT_WRITEFUNCTION, mgc__buf_curl_write);
    SET(CURLOPT_WRITEDATA, &r->body);
    SET(CURLOPT_HTTPHEADER, r->hdrs);
    if(r->form.len) {
      SET(CURLOPT_POSTFIELDS, r->form.data);
      SET(CURLOPT_POSTFIELDSIZE, (long)r->form.len);
    }
    if(cc != CURLE_OK)
      rc = mgc__err_set(err, MGCALL_E_INTERNAL, "libcurl set-up failed: %s",
                        curl_easy_strerror(cc));
  }
#undef SET
  if(rc) {
    mgc__tokens_req_free(r);
    return rc;
  }
  t->requests++;
  *out = r;
  return MGCALL_OK;
}

CURL *mgc__tokens_req_easy(const struct mgc_token_req *r)
{
  return r ? r->easy : NULL;
}

int mgc__tokens_req_done(struct mgc_tokens *t, struct mgc_token_req *r,
                         CURLcode cc, char **token, time_t *expires_at,
                         int *retryable, int64_t *retry_after_ms,
                         struct mgc_err *err)
{
  *token = NULL;
  *retryable = 0;
  *retry_after_ms = -1;
  if(cc == CURLE_WRITE_ERROR)
    return mgc__err_set(err, MGCALL_E_AUTH,
                        "%s answered more than %d bytes: not a token response",
                        r->what, MGC_HTTP_MAX_BODY);
  if(cc != CURLE_OK) {
    *retryable = mgc__http_curl_retryable(cc);
    int rc = mgc__http_curl_code(cc);
    if(rc == MGCALL_E_INTERNAL)
      rc = MGCALL_E_NETWORK;
    return mgc__err_set(err, rc, "cannot reach the %s at %s: %s", r->what,
                        r->url, curl_easy_strerror(cc));
  }
  long status = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  *retryable = retry_status(status);
  struct curl_header *ra = NULL;
  uint64_t ra_ms = 0;
  if(*retryable &&
     curl_easy_header(r->easy, "Retry-After", 0, CURLH_HEADER, -1, &ra) ==
         CURLHE_OK &&
     !mgc__retry_after_parse(ra->value, time(NULL), &ra_ms))
    *retry_after_ms = ra_ms > INT64_MAX ? INT64_MAX : (int64_t)ra_ms;
  struct mgc_token_response resp;
  int rc = mgc__token_response_parse(r->body.data, r->body.len, status,
                                     time(NULL), r->what, &resp, err);
  if(rc)
    return rc;
  if(remember(t, r->key_tenant, resp.access_token, resp.expires_at))
    rc = mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  else
    rc = give_copy(resp.access_token, resp.expires_at, token, expires_at, err);
  if(!rc && t->writer && !t->cache_refused) {
    struct mgc_cache_key key = cache_key(t, r->key_tenant);
    mgc__cache_writer_put(t->writer, &key, resp.access_token, resp.expires_at);
  }
  mgc__token_response_release(&resp);
  return rc;
}

int64_t mgc__tokens_retry_wait(int failed_attempt, int retryable,
                               int64_t retry_after_ms)
{
  if(!retryable || failed_attempt >= TOKEN_RETRIES)
    return -1;
  int64_t wait =
      retry_after_ms >= 0 ? retry_after_ms : 1000LL << failed_attempt;
  return wait > RETRY_WAIT_MAX_MS ? -1 : wait;
}
