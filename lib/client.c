/* SPDX-License-Identifier: MIT */
/* client.c - the client handle, mgcall_batch_new() (a batch on the
 * client's settings: batch.h) and the blocking calls (mgcall_keep_alive()
 * on a batch of one, mgcall_client_prefetch_token()). */
#include "client.h"

#include "batch.h"

#include "cloud.h"
#include "jwt.h"

#include <ctype.h>
#include <stddef.h>
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

static void config_defaults(mgcall_config *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->struct_size = sizeof(*cfg);
  cfg->environment = "Global";
  cfg->api_version = "v1.0";
  cfg->connect_timeout_s = 10;
  cfg->timeout_s = 100;
  cfg->retries = MGCALL_RETRIES_DEFAULT;
  cfg->token_cache = 1;
}

void mgcall_config_init_sized(mgcall_config *cfg, size_t size)
{
  if(!cfg || size < sizeof(cfg->struct_size))
    return;
  mgcall_config d;
  config_defaults(&d);
  memset(cfg, 0, size);
  memcpy(cfg, &d, size < sizeof(d) ? size : sizeof(d));
  cfg->struct_size = size;
}

/* The caller's configuration as this library's struct: the fields it has
 * (cfg->struct_size), defaults for the ones it was built without.  -1
 * when cfg was not made by mgcall_config_init(). */
static int config_full(const mgcall_config *cfg, mgcall_config *out)
{
  config_defaults(out);
  if(cfg->struct_size < sizeof(cfg->struct_size) ||
     cfg->struct_size > 64 * sizeof(*cfg))
    return -1;
  size_t n = cfg->struct_size < sizeof(*out) ? cfg->struct_size : sizeof(*out);
  memcpy(out, cfg, n);
  out->struct_size = sizeof(*out);
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

/* The token source of c (no I/O), when it has a credential. */
static int make_tokens(mgcall_client *c)
{
  if(!c->credential)
    return MGCALL_OK;
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
  return mgc__tokens_new(c->credential, &s, &c->tokens, &c->err);
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
  mgcall_config full;
  if(config_full(cfg, &full)) {
    mgc__err_set(&err, MGCALL_E_USAGE,
                 "configuration not made by mgcall_config_init()");
    goto fail;
  }
  cfg = &full;
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
  if(cfg->retries < 0 || cfg->retries > MGCALL_RETRIES_MAX) {
    mgc__err_set(&err, MGCALL_E_USAGE, "retries must be 0..%d",
                 MGCALL_RETRIES_MAX);
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
    if(mgcall_header_check(cfg->headers[nheaders], why, sizeof(why))) {
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
  c->req.user_crid = user_crid;
  c->req.headers = (const char *const *)c->headers;
  c->req.http = &c->http;
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
  if(make_tokens(c)) {
    err = c->err;
    mgcall_client_free(c);
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

static int no_credentials(mgcall_client *c)
{
  return mgc__err_set(&c->err, MGCALL_E_AUTH,
                      "no credentials: give --access-token-file, a client "
                      "secret, a certificate or --managed-identity");
}

int mgcall_client_get_token(mgcall_client *client, const char *tenant_id,
                            int force_refresh, char *out, size_t outlen,
                            long long *expires_at)
{
  if(expires_at)
    *expires_at = 0;
  if(!client)
    return MGCALL_E_USAGE;
  mgc__err_clear(&client->err);
  if(!out || !outlen)
    return mgc__err_set(&client->err, MGCALL_E_USAGE, "no token buffer");
  if(!client->tokens)
    return no_credentials(client);
  time_t exp = 0;
  int rc = mgc__tokens_get(client->tokens, tenant_id, force_refresh, out,
                           outlen, &exp, &client->err);
  if(!rc && expires_at)
    *expires_at = (long long)exp;
  return rc;
}

char *mgcall_keep_alive_url(const mgcall_client *client, const char *call_id)
{
  if(!client)
    return NULL;
  return mgc__attempt_url(client->graph, client->api_version, call_id);
}

int mgcall_batch_new(mgcall_client *client, unsigned max_parallel,
                     mgcall_done_cb cb, void *userdata, mgcall_batch **out)
{
  if(!client) {
    if(out)
      *out = NULL;
    return MGCALL_E_USAGE;
  }
  struct mgc_batch_config bc = {
      .graph = client->graph,
      .api_version = client->api_version,
      .req = &client->req,
      .retry = &client->retry,
      .tokens = client->tokens,
      .verbose_cb = client->verbose_cb,
      .log_userdata = client->log_userdata,
      .err = &client->err,
  };
  return mgc__batch_new(&bc, max_parallel, cb, userdata, out);
}

static void one_done(void *ud, const char *call_id, void *item,
                     const mgcall_result *res);

/* The batch of one behind the blocking calls, made on first use. */
static int blocking_batch(mgcall_client *c)
{
  if(c->blocking)
    return MGCALL_OK;
  return mgcall_batch_new(c, 1, one_done, c, &c->blocking);
}

/* Drop the batch of one after mgcall_batch_run() failed, with whatever is
 * still on it, so that a later call never gets an earlier call's result. */
static void drop_blocking(mgcall_client *c)
{
  mgcall_batch_free(c->blocking);
  c->blocking = NULL;
}

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
  if(!client->tokens)
    return no_credentials(client);
  int rc = blocking_batch(client);
  int pending = 0;
  if(!rc)
    rc = mgcall_batch_prefetch_token(client->blocking, tenant_id,
                                     min_remaining_s, &pending, remaining_s,
                                     lifetime_s);
  /* The request runs on the batch; when it has ended, take what it got
   * (min 0: a new token that lives less than asked for is still the one
   * held), or its failure. */
  for(int rounds = 0; !rc && pending && rounds < 1000; rounds++) {
    rc = mgcall_batch_run(client->blocking, 1000);
    if(rc) {
      drop_blocking(client);
      break;
    }
    if(!mgc__batch_token_pending(client->blocking, tenant_id))
      rc = mgcall_batch_prefetch_token(client->blocking, tenant_id, 0, &pending,
                                       remaining_s, lifetime_s);
  }
  return rc;
}

/* ---- the blocking call: a batch of one, kept by the client ---- */

static void one_done(void *ud, const char *call_id, void *item,
                     const mgcall_result *res)
{
  (void)call_id;
  mgcall_client *c = ud;
  if(!c->one.res || item != c->one.res)
    return; /* not the item of the call in progress */
  *c->one.res = *res;
  c->one.done = 1;
}

/* Copy the result into the caller's struct of size bytes. */
static int give_result(const mgcall_result *r, mgcall_result *res, size_t size)
{
  size_t n = size < sizeof(*r) ? size : sizeof(*r);
  memcpy(res, r, n);
  res->struct_size = n;
  return r->code;
}

int mgcall_keep_alive_sized(mgcall_client *client, const char *call_id,
                            const char *tenant_id, mgcall_result *out,
                            size_t size)
{
  if(!out || size < offsetof(mgcall_result, code) + sizeof(out->code))
    return MGCALL_E_USAGE;
  mgcall_result full, *res = &full;
  memset(res, 0, sizeof(*res));
  res->struct_size = sizeof(*res);
  if(!client || !call_id || !*call_id) {
    res->code = MGCALL_E_USAGE;
    snprintf(res->error_message, sizeof(res->error_message), "empty call id");
    return give_result(res, out, size);
  }
  int rc = blocking_batch(client);
  client->one.res = res;
  client->one.done = 0;
  if(!rc)
    rc = mgcall_batch_add(client->blocking, call_id, tenant_id, res);
  while(!rc && !client->one.done)
    rc = mgcall_batch_run(client->blocking, 1000);
  client->one.res = NULL;
  if(rc && client->blocking && mgcall_batch_pending(client->blocking))
    drop_blocking(client);
  if(rc && !client->one.done) {
    res->code = rc;
    snprintf(res->error_message, sizeof(res->error_message), "%s",
             client->err.msg);
  }
  return give_result(res, out, size);
}
