/* SPDX-License-Identifier: MIT */
/* test_client.c - the keepAlive request, retries, 401 refresh, results and
 * the batch engine, against a small libmicrohttpd server on 127.0.0.1 that
 * answers by call id and records what it received.  Tokens come from a stub
 * of lib/auth/tokens.h: "stale" until a forced refresh, then "fresh". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "b64url.h"
#include "client.h"
#include "mgcx.h"

#include <dlfcn.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- token endpoint (same server, /<tenant>/oauth2/v2.0/token) ----
 * Each client of these tests has a tenant of its own; its first token is
 * "stale", the next ones tok_after_refresh ("fresh").  Tenants whose name
 * starts with "fail" always get 503; tok_delay_ms holds the answer of tenants
 * whose name starts with "slow". */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#define MAXTENANTS 256
static struct {
  char name[32];
  int issued;
} tenants_seen[MAXTENANTS];
static int ntenants;
static int token_requests; /* all tenants */
static const char *tok_after_refresh = "fresh";
static int tok_expires_in = 3600;
static int tok_delay_ms;

static enum MHD_Result token_endpoint(struct MHD_Connection *c, const char *url)
{
  char tenant[32];
  snprintf(tenant, sizeof(tenant), "%.*s",
           (int)(strstr(url, "/oauth2/") - url - 1), url + 1);
  pthread_mutex_lock(&lock);
  int i = 0;
  while(i < ntenants && strcmp(tenants_seen[i].name, tenant))
    i++;
  if(i == ntenants && ntenants < MAXTENANTS)
    snprintf(tenants_seen[ntenants++].name, sizeof(tenants_seen[0].name), "%s",
             tenant);
  int first = i < MAXTENANTS && tenants_seen[i].issued++ == 0;
  token_requests++;
  unsigned status = !strncmp(tenant, "fail", 4) ? 503 : 200;
  int delay = !strncmp(tenant, "slow", 4) ? tok_delay_ms : 0;
  char body[256];
  if(status == 200)
    snprintf(body, sizeof(body),
             "{\"token_type\":\"Bearer\",\"expires_in\":%d,"
             "\"access_token\":\"%s\"}",
             tok_expires_in, first ? "stale" : tok_after_refresh);
  else
    snprintf(body, sizeof(body),
             "{\"error\":\"temporarily_unavailable\","
             "\"error_description\":\"test\"}");
  pthread_mutex_unlock(&lock);
  if(delay) {
    struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      strlen(body), body, MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(resp, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

/* ---- libcurl's curl_multi_poll(), failing on demand ----
 * This definition takes the place of libcurl's for the statically linked
 * library; the real one is found with dlsym(RTLD_NEXT). */
static int fail_polls; /* the next this many waiting polls fail */

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd extra_fds[],
                          unsigned int extra_nfds, int timeout_ms, int *ret)
{
  typedef CURLMcode (*poll_fn)(CURLM *, struct curl_waitfd *, unsigned int, int,
                               int *);
  if(fail_polls > 0 && timeout_ms > 0) {
    fail_polls--;
    return CURLM_OUT_OF_MEMORY;
  }
  static poll_fn real;
  if(!real)
    *(void **)&real = dlsym(RTLD_NEXT, "curl_multi_poll");
  return real(m, extra_fds, extra_nfds, timeout_ms, ret);
}

/* ---- server ---- */
#define MAXREC 4096
struct rec {
  char path[512];
  char method[16];
  char auth[64];
  char crid[64];
  char retry_attempt[16];
  char accept[64];
  char ua[64];
  char ctype[64];
  char clen[16];
  char xtest[32];
};
static struct rec recs[MAXREC];
static int nrecs;
static struct MHD_Daemon *daemon_;
static unsigned short port;
/* Credentials made by make_client(), freed by teardown(). */
static mgcall_credential *creds[512];
static int ncreds;

static void hv(struct MHD_Connection *c, const char *name, char *dst, size_t n)
{
  const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
  snprintf(dst, n, "%s", v ? v : "");
}

/* Attempts so far with this client-request-id (lock held). */
static int attempts_of(const char *crid)
{
  int n = 0;
  for(int i = 0; i < nrecs; i++)
    n += !strcmp(recs[i].crid, crid);
  return n;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **ctx)
{
  (void)cls;
  (void)version;
  (void)upload;
  if(!*ctx) {
    *ctx = (void *)1;
    return MHD_YES;
  }
  if(*upload_size) { /* a body (token requests): read, then answer */
    *upload_size = 0;
    return MHD_YES;
  }
  if(strstr(url, "/oauth2/v2.0/token"))
    return token_endpoint(c, url);
  struct rec r;
  memset(&r, 0, sizeof(r));
  snprintf(r.path, sizeof(r.path), "%s", url);
  snprintf(r.method, sizeof(r.method), "%s", method);
  hv(c, "Authorization", r.auth, sizeof(r.auth));
  hv(c, "client-request-id", r.crid, sizeof(r.crid));
  hv(c, "Retry-Attempt", r.retry_attempt, sizeof(r.retry_attempt));
  hv(c, "Accept", r.accept, sizeof(r.accept));
  hv(c, "User-Agent", r.ua, sizeof(r.ua));
  hv(c, "Content-Type", r.ctype, sizeof(r.ctype));
  hv(c, "Content-Length", r.clen, sizeof(r.clen));
  hv(c, "X-Test", r.xtest, sizeof(r.xtest));
  pthread_mutex_lock(&lock);
  int seen = attempts_of(r.crid);
  int n = nrecs;
  if(nrecs < MAXREC)
    recs[nrecs++] = r;
  pthread_mutex_unlock(&lock);

  const char *id = strstr(url, "/calls/");
  id = id ? id + 7 : "";
  unsigned status = 200;
  const char *body = "";
  const char *retry_after = NULL;
  if(!strncmp(id, "gone", 4)) {
    status = 404;
    body = "{\"error\":{\"code\":\"itemNotFound\",\"message\":\"Call not "
           "found.\",\"innerError\":{\"code\":\"8522\",\"request-id\":\"body-"
           "rid\",\"date\":\"2026-01-01T00:00:00\"}}}";
  }
  else if(!strncmp(id, "busy2/", 6)) {
    if(seen < 2) {
      status = 429;
      retry_after = "0";
    }
  }
  else if(!strncmp(id, "later/", 6)) {
    struct timespec ts = {0, 400 * 1000000L};
    nanosleep(&ts, NULL);
    status = 429;
    retry_after = "1";
  }
  else if(!strncmp(id, "slow/", 5)) {
    status = 429;
    retry_after = "7";
  }
  else if(!strncmp(id, "busy/", 5)) {
    status = 503;
    retry_after = "0";
  }
  else if(!strncmp(id, "auth/", 5)) {
    if(strcmp(r.auth, "Bearer fresh"))
      status = 401;
  }
  else if(!strncmp(id, "deny/", 5)) {
    status = 403;
    body = "{\"error\":{\"code\":\"Forbidden\",\"message\":\"no\"}}";
  }
  else if(!strncmp(id, "teapot/", 7)) {
    status = 418;
    body = "<html>teapot</html>";
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
  char rid[32];
  snprintf(rid, sizeof(rid), "rid-%d", n);
  if(status != 404)
    MHD_add_response_header(resp, "request-id", rid);
  if(r.crid[0])
    MHD_add_response_header(resp, "client-request-id", r.crid);
  MHD_add_response_header(resp, "X-Multi", "one");
  MHD_add_response_header(resp, "X-Multi", "two");
  if(retry_after)
    MHD_add_response_header(resp, "Retry-After", retry_after);
  enum MHD_Result ret = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static int connections; /* TCP connections the server accepted */

static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_ctx,
                          enum MHD_ConnectionNotificationCode toe)
{
  (void)cls;
  (void)c;
  (void)socket_ctx;
  if(toe == MHD_CONNECTION_NOTIFY_STARTED) {
    pthread_mutex_lock(&lock);
    connections++;
    pthread_mutex_unlock(&lock);
  }
}

/* Keep the path as sent: no percent-decoding. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
  (void)cls;
  (void)c;
  return strlen(s);
}

static int setup(void **state)
{
  (void)state;
  daemon_ = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
      NULL, answer, NULL, MHD_OPTION_SOCK_ADDR, NULL,
      MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
  if(!daemon_)
    return -1;
  port = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
  return mgcall_global_init();
}

static int teardown(void **state)
{
  (void)state;
  MHD_stop_daemon(daemon_);
  for(int i = 0; i < ncreds; i++)
    mgcall_credential_free(creds[i]);
  mgcall_global_cleanup();
  return 0;
}

/* A client secret credential of a tenant of its own ("<prefix><n>"). */
static mgcall_credential *make_cred(const char *prefix)
{
  char tenant[32];
  snprintf(tenant, sizeof(tenant), "%s%d", prefix, ncreds);
  mgcall_credential *cred = NULL;
  assert_int_equal(
      mgcall_credential_client_secret(tenant, "app", "secret", &cred), 0);
  assert_true(ncreds < 512);
  creds[ncreds++] = cred;
  return cred;
}

static void config(mgcall_config *cfg, char *url, size_t n)
{
  snprintf(url, n, "http://127.0.0.1:%u/", port);
  mgcall_config_init(cfg);
  cfg->graph_url = url;
  cfg->authority_url = url;
  cfg->token_cache = 0;
  cfg->credential = make_cred("t");
}

static mgcall_client *make_client(int retries, const char *const *headers)
{
  char url[64];
  mgcall_config cfg;
  config(&cfg, url, sizeof(url));
  cfg.retries = retries;
  cfg.headers = headers;
  mgcall_client *c = NULL;
  char err[256];
  assert_int_equal(mgcall_client_new(&cfg, &c, err, sizeof(err)), 0);
  return c;
}

static void reset(void)
{
  pthread_mutex_lock(&lock);
  nrecs = 0;
  pthread_mutex_unlock(&lock);
}

static void test_success_request(void **state)
{
  (void)state;
  reset();
  const char *hdrs[] = {"X-Test: yes", NULL};
  mgcall_client *c = make_client(3, hdrs);
  mgcall_result res;
  assert_int_equal(mgcall_keep_alive(c, "ok-1", NULL, &res), MGCALL_OK);
  assert_int_equal(res.code, 0);
  assert_int_equal(res.status, 200);
  assert_int_equal(res.attempts, 1);
  assert_string_equal(res.request_id, "rid-0");
  assert_int_equal(strlen(res.client_request_id), 36);
  assert_non_null(strstr(res.headers, "request-id: rid-0\n"));
  assert_int_equal(nrecs, 1);
  struct rec *r = &recs[0];
  assert_string_equal(r->method, "POST");
  assert_string_equal(r->path, "/v1.0/communications/calls/ok-1/keepAlive");
  assert_string_equal(r->auth, "Bearer stale");
  assert_string_equal(r->crid, res.client_request_id);
  assert_string_equal(r->accept, "application/json");
  assert_string_equal(r->ua, "mgcall/" MGCALL_VERSION_STRING);
  assert_string_equal(r->ctype, "");
  assert_string_equal(r->clen, "0");
  assert_string_equal(r->retry_attempt, "");
  assert_string_equal(r->xtest, "yes");
  char *json = mgcall_result_headers_json(&res);
  assert_non_null(json);
  assert_non_null(strstr(json, "\"request-id\":[\"rid-0\"]"));
  assert_non_null(strstr(json, "\"x-multi\":[\"one\",\"two\"]"));
  free(json);
  mgcall_client_free(c);
}

static void test_blocking_reuses_connection(void **state)
{
  (void)state;
  mgcall_client *c = make_client(0, NULL);
  mgcall_result res;
  assert_int_equal(mgcall_keep_alive(c, "ok-a", NULL, &res), MGCALL_OK);
  pthread_mutex_lock(&lock);
  int before = connections;
  pthread_mutex_unlock(&lock);
  for(int i = 0; i < 5; i++)
    assert_int_equal(mgcall_keep_alive(c, "ok-b", NULL, &res), MGCALL_OK);
  pthread_mutex_lock(&lock);
  int after = connections;
  pthread_mutex_unlock(&lock);
  assert_int_equal(after, before); /* the first call's connection, reused */
  mgcall_client_free(c);
}

static void test_not_found(void **state)
{
  (void)state;
  reset();
  mgcall_client *c = make_client(3, NULL);
  mgcall_result res;
  assert_int_equal(mgcall_keep_alive(c, "gone", NULL, &res),
                   MGCALL_E_NOT_FOUND);
  assert_int_equal(res.status, 404);
  assert_int_equal(res.attempts, 1);
  assert_string_equal(res.error_code, "itemNotFound");
  assert_string_equal(res.error_message, "Call not found.");
  assert_string_equal(res.request_id, "body-rid"); /* from innerError */
  assert_int_equal(res.retry_after_ms, -1);        /* no Retry-After */
  assert_string_equal(res.date, strstr(res.headers, "date: ") ? res.date : "");
  mgcall_client_free(c);
}

/* After the batch failed under a blocking call, the next blocking call gets
 * its own result, never the one of the earlier call id (issue 8 item 2). */
static void test_blocking_after_failed_run(void **state)
{
  (void)state;
  reset();
  mgcall_client *c = make_client(1, NULL);
  mgcall_result res;
  /* later is answered after 400 ms, 429 with Retry-After 1; the batch's
   * first wait fails while it is in flight.  Today's code kept the item:
   * it answers during the next call (gone, queued behind it) and retries
   * about 1.4 s after the start, during the call after (ok-2), whose result
   * it then overwrote. */
  fail_polls = 1;
  int rc = mgcall_keep_alive(c, "later", NULL, &res);
  fail_polls = 0;
  assert_int_equal(rc, MGCALL_E_INTERNAL);
  assert_int_equal(res.code, MGCALL_E_INTERNAL);
  /* later's second 429 must not come back as gone's answer */
  assert_int_equal(mgcall_keep_alive(c, "gone", NULL, &res),
                   MGCALL_E_NOT_FOUND);
  assert_int_equal(res.status, 404);
  assert_int_equal(mgcall_keep_alive(c, "ok-2", NULL, &res), MGCALL_OK);
  assert_int_equal(res.status, 200);
  assert_int_equal(mgcall_keep_alive(c, "ok-3", NULL, &res), MGCALL_OK);
  assert_int_equal(res.status, 200);
  mgcall_client_free(c);
}

static void test_retry_then_success(void **state)
{
  (void)state;
  reset();
  mgcall_client *c = make_client(3, NULL);
  mgcall_result res;
  assert_int_equal(mgcall_keep_alive(c, "busy2", NULL, &res), MGCALL_OK);
  assert_int_equal(res.attempts, 3);
  assert_int_equal(nrecs, 3);
  for(int i = 0; i < 3; i++)
    assert_string_equal(recs[i].crid, res.client_request_id);
  assert_string_equal(recs[0].retry_attempt, "");
  assert_string_equal(recs[1].retry_attempt, "1");
  assert_string_equal(recs[2].retry_attempt, "2");
  mgcall_client_free(c);
}

static void test_retries_exhausted(void **state)
{
  (void)state;
  reset();
  mgcall_client *c = make_client(2, NULL);
  mgcall_result res;
  assert_int_equal(mgcall_keep_alive(c, "busy", NULL, &res),
                   MGCALL_E_THROTTLED);
  assert_int_equal(res.status, 503);
  assert_int_equal(res.attempts, 3);
  mgcall_client_free(c);
  /* --retries 0: one attempt */
  reset();
  c = make_client(0, NULL);
  assert_int_equal(mgcall_keep_alive(c, "busy", NULL, &res),
                   MGCALL_E_THROTTLED);
  assert_int_equal(res.attempts, 1);
  assert_int_equal(res.retry_after_ms, 0); /* "Retry-After: 0" */
  /* the server's Retry-After reaches the caller (the keeper) */
  assert_int_equal(mgcall_keep_alive(c, "slow", NULL, &res),
                   MGCALL_E_THROTTLED);
  assert_int_equal(res.status, 429);
  assert_int_equal(res.retry_after_ms, 7000);
  assert_int_equal(res.attempts, 1);
  mgcall_client_free(c);
}

static void test_refresh_on_401(void **state)
{
  (void)state;
  reset();
  mgcall_client *c = make_client(0, NULL); /* retries 0: still refreshes */
  mgcall_result res;
  assert_int_equal(mgcall_keep_alive(c, "auth", NULL, &res), MGCALL_OK);
  assert_int_equal(res.attempts, 2);
  assert_int_equal(mgcall_client_token_requests(c), 2); /* first + refresh */
  assert_string_equal(recs[0].auth, "Bearer stale");
  assert_string_equal(recs[1].auth, "Bearer fresh");
  assert_string_equal(recs[1].crid, recs[0].crid);
  mgcall_client_free(c);
  /* A refresh that gives a token the server still refuses: 5, once. */
  reset();
  tok_after_refresh = "still-bad";
  c = make_client(3, NULL);
  assert_int_equal(mgcall_keep_alive(c, "auth", NULL, &res),
                   MGCALL_E_ACCESS_DENIED);
  assert_int_equal(res.status, 401);
  assert_int_equal(res.attempts, 2);
  tok_after_refresh = "fresh";
  mgcall_client_free(c);
}

static void test_other_statuses(void **state)
{
  (void)state;
  reset();
  mgcall_client *c = make_client(3, NULL);
  mgcall_result res;
  assert_int_equal(mgcall_keep_alive(c, "deny", NULL, &res),
                   MGCALL_E_ACCESS_DENIED);
  assert_int_equal(res.status, 403);
  assert_string_equal(res.error_code, "Forbidden");
  assert_string_equal(res.roles, ""); /* "stale" is not a JWT */
  assert_int_equal(mgcall_keep_alive(c, "teapot", NULL, &res), MGCALL_E_HTTP);
  assert_int_equal(res.status, 418);
  assert_int_equal(res.attempts, 1);
  assert_string_equal(res.error_message, "<html>teapot</html>");
  mgcall_client_free(c);
}

static void test_network_failure(void **state)
{
  (void)state;
  mgcall_config cfg;
  char url[64];
  config(&cfg, url, sizeof(url));
  cfg.graph_url = "http://127.0.0.1:1";
  cfg.retries = 0;
  mgcall_client *c;
  assert_int_equal(mgcall_client_new(&cfg, &c, NULL, 0), 0);
  mgcall_result res;
  assert_int_equal(mgcall_keep_alive(c, "x", NULL, &res), MGCALL_E_NETWORK);
  assert_int_equal(res.status, 0);
  assert_int_equal(res.attempts, 1);
  assert_true(strlen(res.error_message) > 0);
  mgcall_client_free(c);
}

static void test_segments(void **state)
{
  (void)state;
  reset();
  mgcall_client *c = make_client(0, NULL);
  mgcall_result res;
  assert_int_equal(mgcall_keep_alive(c, "a/b?c#d e%", NULL, &res), 0);
  assert_int_equal(mgcall_keep_alive(c, "..", NULL, &res), 0);
  assert_int_equal(mgcall_keep_alive(c, "caf\xc3\xa9", NULL, &res), 0);
  assert_string_equal(recs[0].path,
                      "/v1.0/communications/calls/a%2Fb%3Fc%23d%20e%25/"
                      "keepAlive");
  assert_string_equal(recs[1].path,
                      "/v1.0/communications/calls/%2E%2E/keepAlive");
  assert_string_equal(recs[2].path,
                      "/v1.0/communications/calls/caf%C3%A9/keepAlive");
  assert_int_equal(mgcall_keep_alive(c, "", NULL, &res), MGCALL_E_USAGE);
  mgcall_client_free(c);
}

static void test_config(void **state)
{
  (void)state;
  mgcall_config cfg;
  mgcall_config_init(&cfg);
  assert_int_equal(cfg.retries, 3);
  assert_int_equal(cfg.timeout_s, 100);
  mgcall_client *c;
  char err[256];
  assert_int_equal(mgcall_client_new(&cfg, &c, err, sizeof(err)), 0);
  char *u = mgcall_keep_alive_url(c, "id1");
  assert_string_equal(
      u, "https://graph.microsoft.com/v1.0/communications/calls/id1/keepAlive");
  free(u);
  assert_null(mgcall_keep_alive_url(c, ""));
  /* no credential: E_AUTH, and no request */
  mgcall_result res;
  assert_int_equal(mgcall_keep_alive(c, "id1", NULL, &res), MGCALL_E_AUTH);
  assert_int_equal(res.attempts, 0);
  mgcall_client_free(c);
  cfg.environment = "USGovDoD";
  cfg.api_version = "beta";
  assert_int_equal(mgcall_client_new(&cfg, &c, err, sizeof(err)), 0);
  u = mgcall_keep_alive_url(c, "x");
  assert_string_equal(
      u,
      "https://dod-graph.microsoft.us/beta/communications/calls/x/keepAlive");
  free(u);
  mgcall_client_free(c);
  cfg.api_version = "v2";
  assert_int_equal(mgcall_client_new(&cfg, &c, err, sizeof(err)),
                   MGCALL_E_USAGE);
  assert_non_null(strstr(err, "v2"));
  cfg.api_version = NULL;
  cfg.environment = "Mars";
  assert_int_equal(mgcall_client_new(&cfg, &c, err, sizeof(err)),
                   MGCALL_E_USAGE);
  cfg.environment = NULL;
  cfg.retries = 11;
  assert_int_equal(mgcall_client_new(&cfg, &c, err, sizeof(err)),
                   MGCALL_E_USAGE);
  cfg.retries = 3;
  const char *bad[] = {"X-A: b\r\nHost: evil", NULL};
  cfg.headers = bad;
  assert_int_equal(mgcall_client_new(&cfg, &c, err, sizeof(err)),
                   MGCALL_E_USAGE);
  cfg.headers = NULL;
  cfg.graph_url = "ftp://x";
  assert_int_equal(mgcall_client_new(&cfg, &c, err, sizeof(err)),
                   MGCALL_E_USAGE);
  mgcall_client_free(NULL);
}

static void test_header_check(void **state)
{
  (void)state;
  char err[128];
  assert_int_equal(mgcall_header_check("X-Ms-Foo: bar baz", err, 128),
                   MGCALL_OK);
  assert_int_equal(mgcall_header_check("X-Empty:", err, 128), MGCALL_OK);
  const char *bad[] = {
      "",        "NoColon",           ": v",      "Bad Name: v",
      "X: a\rb", "X: a\nb",           "X: a\x01", "authorization: Bearer x",
      "HOST: a", "Content-Length: 5", NULL};
  for(size_t i = 0; bad[i]; i++)
    assert_int_equal(mgcall_header_check(bad[i], err, 128), MGCALL_E_USAGE);
  assert_int_equal(mgcall_header_check("Authorization: x", err, 128),
                   MGCALL_E_USAGE);
  assert_string_equal(err, "header 'Authorization' may not be set");
}

static void test_roles(void **state)
{
  (void)state;
  const char *claims = "{\"roles\":[\"Calls.JoinGroupCall.All\",\"User.Read."
                       "All\"],\"tid\":\"t\"}";
  char *h = mgc__b64url_encode((const unsigned char *)"{\"alg\":\"none\"}", 14);
  char *p = mgc__b64url_encode((const unsigned char *)claims, strlen(claims));
  char tok[512];
  snprintf(tok, sizeof(tok), "%s.%s.c2ln", h, p);
  free(h);
  free(p);
  mgcall_result res;
  mgc__token_roles(tok, &res);
  assert_string_equal(res.roles, "Calls.JoinGroupCall.All,User.Read.All");
  mgc__token_roles("opaque", &res);
  assert_string_equal(res.roles, "");
}

/* ---- batch ---- */
struct tally {
  int done[300];
  int codes[16];
  int calls;
  mgcall_batch *batch;
  int added_in_cb;
};

static void on_done(void *ud, const char *call_id, void *item,
                    const mgcall_result *res)
{
  struct tally *t = ud;
  size_t i = (size_t)item;
  t->done[i]++;
  t->calls++;
  t->codes[res->code]++;
  assert_true((res->code == 0) == !strncmp(call_id, "ok", 2));
  /* adding from a callback works */
  if(i == 0 && !t->added_in_cb) {
    t->added_in_cb = 1;
    assert_int_equal(mgcall_batch_add(t->batch, "ok-late", NULL, (void *)299),
                     0);
  }
}

static void test_batch(void **state)
{
  (void)state;
  reset();
  mgcall_client *c = make_client(3, NULL);
  struct tally t;
  memset(&t, 0, sizeof(t));
  mgcall_batch *b;
  assert_int_equal(mgcall_batch_new(c, 8, on_done, &t, &b), 0);
  t.batch = b;
  for(size_t i = 0; i < 200; i++) {
    char id[32];
    snprintf(id, sizeof(id), i % 10 == 3 ? "gone-%zu" : "ok-%zu", i);
    assert_int_equal(mgcall_batch_add(b, id, NULL, (void *)i), 0);
  }
  assert_int_equal(mgcall_batch_pending(b), 200);
  for(int rounds = 0; mgcall_batch_pending(b) && rounds < 100; rounds++)
    assert_int_equal(mgcall_batch_run(b, 1000), MGCALL_OK);
  assert_int_equal(mgcall_batch_pending(b), 0);
  assert_int_equal(t.calls, 201);
  for(size_t i = 0; i < 200; i++)
    assert_int_equal(t.done[i], 1);
  assert_int_equal(t.done[299], 1);
  assert_int_equal(t.codes[MGCALL_E_NOT_FOUND], 20);
  assert_int_equal(t.codes[MGCALL_OK], 181);
  /* each request got its own client-request-id */
  for(int i = 1; i < nrecs; i++)
    assert_string_not_equal(recs[i].crid, recs[i - 1].crid);
  /* free with work still queued: no callback, no leak */
  assert_int_equal(mgcall_batch_add(b, "ok-x", NULL, (void *)0), 0);
  mgcall_batch_free(b);
  assert_int_equal(t.calls, 201);
  mgcall_client_free(c);
}

static void *wake_later(void *b)
{
  mgcall_batch_wakeup(b);
  return NULL;
}

static void test_wakeup(void **state)
{
  (void)state;
  mgcall_client *c = make_client(3, NULL);
  struct tally t;
  memset(&t, 0, sizeof(t));
  mgcall_batch *b;
  assert_int_equal(mgcall_batch_new(c, 4, on_done, &t, &b), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, wake_later, b), 0);
  pthread_join(th, NULL);
  /* Woken before: returns without waiting its 60 s. */
  uint64_t t0 = mgcx_now_ms();
  assert_int_equal(mgcall_batch_run(b, 60000), 0);
  assert_true(mgcx_now_ms() - t0 < 60000);
  mgcall_batch_free(b);
  mgcall_client_free(c);
}

static void test_prefetch_token(void **state)
{
  (void)state;
  mgcall_client *c = make_client(0, NULL);
  long left = 0, life = 0;
  tok_expires_in = 100;
  /* none held: one request, a token of 100 s */
  assert_int_equal(mgcall_client_prefetch_token(c, NULL, 50, &left, &life),
                   MGCALL_OK);
  assert_int_equal(mgcall_client_token_requests(c), 1);
  assert_true(left >= 98 && left <= 100);
  assert_int_equal(life, -1); /* not a JWT */
  /* enough left: kept */
  assert_int_equal(mgcall_client_prefetch_token(c, NULL, 50, &left, &life),
                   MGCALL_OK);
  assert_int_equal(mgcall_client_token_requests(c), 1);
  /* less than asked for: a new request */
  assert_int_equal(mgcall_client_prefetch_token(c, NULL, 200, &left, NULL),
                   MGCALL_OK);
  assert_int_equal(mgcall_client_token_requests(c), 2);
  tok_expires_in = 3600;
  /* bad arguments */
  assert_int_equal(mgcall_client_prefetch_token(NULL, NULL, 1, &left, &life),
                   MGCALL_E_USAGE);
  assert_int_equal(left, -1);
  assert_int_equal(mgcall_client_prefetch_token(c, NULL, -1, NULL, NULL),
                   MGCALL_E_USAGE);
  assert_int_equal(mgcall_client_token_requests(NULL), 0);
  mgcall_client_free(c);
  /* an access token: never refreshed, expiry unknown */
  mgcall_credential *at = NULL;
  assert_int_equal(mgcall_credential_access_token("opaque", &at), 0);
  char url[64];
  mgcall_config cfg;
  config(&cfg, url, sizeof(url));
  cfg.credential = at;
  assert_int_equal(mgcall_client_new(&cfg, &c, NULL, 0), 0);
  assert_int_equal(mgcall_client_prefetch_token(c, NULL, 200, &left, &life),
                   MGCALL_OK);
  assert_int_equal(left, -1);
  assert_int_equal(mgcall_client_token_requests(c), 0);
  mgcall_client_free(c);
  mgcall_credential_free(at);
}

/* ---- token requests inside the batch ---- */
struct seen {
  int n;
  char ids[64][32];
  int codes[64];
  uint64_t at[64];
};

static void on_seen(void *ud, const char *call_id, void *item,
                    const mgcall_result *res)
{
  (void)item;
  struct seen *s = ud;
  if(s->n < 64) {
    snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", call_id);
    s->codes[s->n] = res->code;
    s->at[s->n] = mgcx_now_ms();
    s->n++;
  }
}

/* Items of a tenant whose token endpoint takes 1.5 s wait on ONE request;
 * the items of another tenant (another client on the same thread would
 * not do: one batch, one client, two tenants) go out meanwhile. */
static void test_batch_token_does_not_block(void **state)
{
  (void)state;
  reset();
  char url[64];
  mgcall_config cfg;
  config(&cfg, url, sizeof(url));
  cfg.credential = make_cred("any"); /* items name their tenants */
  mgcall_client *c = NULL;
  assert_int_equal(mgcall_client_new(&cfg, &c, NULL, 0), 0);
  struct seen s;
  memset(&s, 0, sizeof(s));
  mgcall_batch *b;
  assert_int_equal(mgcall_batch_new(c, 8, on_seen, &s, &b), 0);
  tok_delay_ms = 1500;
  pthread_mutex_lock(&lock);
  int before = token_requests;
  pthread_mutex_unlock(&lock);
  uint64_t t0 = mgcx_now_ms();
  for(int i = 0; i < 3; i++)
    assert_int_equal(mgcall_batch_add(b, "ok-slow", "slowtenant", NULL), 0);
  for(int i = 0; i < 3; i++)
    assert_int_equal(mgcall_batch_add(b, "ok-fast", "fasttenant", NULL), 0);
  for(int rounds = 0; mgcall_batch_pending(b) && rounds < 20; rounds++)
    assert_int_equal(mgcall_batch_run(b, 1000), MGCALL_OK);
  tok_delay_ms = 0;
  assert_int_equal(mgcall_batch_pending(b), 0);
  assert_int_equal(s.n, 6);
  /* the fast tenant's items came first, although added last: nothing
   * waited for the slow tenant's token (a blocking token request for the
   * first item would have held them all for 1.5 s, slow ones first) */
  for(int i = 0; i < 3; i++)
    assert_string_equal(s.ids[i], "ok-fast");
  for(int i = 3; i < 6; i++) {
    assert_string_equal(s.ids[i], "ok-slow");
    assert_int_equal(s.codes[i], MGCALL_OK);
    assert_true(s.at[i] - t0 >= 1500);
  }
  /* one token request per tenant, shared by its items */
  pthread_mutex_lock(&lock);
  int asked = token_requests - before;
  pthread_mutex_unlock(&lock);
  assert_int_equal(asked, 2);
  assert_int_equal(mgcall_client_token_requests(c), 2);
  mgcall_batch_free(b);
  mgcall_client_free(c);
}

/* A failing token endpoint: retried as timers (1 s, 2 s), then every
 * waiting item fails with its code; meanwhile another tenant's items go
 * through; a new item right after fails at once (the failure is reused). */
static void test_batch_token_failure(void **state)
{
  (void)state;
  reset();
  char url[64];
  mgcall_config cfg;
  config(&cfg, url, sizeof(url));
  mgcall_client *c = NULL;
  assert_int_equal(mgcall_client_new(&cfg, &c, NULL, 0), 0);
  struct seen s;
  memset(&s, 0, sizeof(s));
  mgcall_batch *b;
  assert_int_equal(mgcall_batch_new(c, 4, on_seen, &s, &b), 0);
  /* prefetch: starts the request, then reports */
  int pending = 0;
  assert_int_equal(
      mgcall_batch_prefetch_token(b, "failtenant", 0, &pending, NULL, NULL),
      MGCALL_OK);
  assert_int_equal(pending, 1);
  assert_int_equal(mgcall_batch_add(b, "ok-a", "failtenant", NULL), 0);
  assert_int_equal(mgcall_batch_add(b, "ok-b", "failtenant", NULL), 0);
  assert_int_equal(mgcall_batch_add(b, "ok-g", "goodtenant", NULL), 0);
  uint64_t t0 = mgcx_now_ms();
  int rounds = 0;
  while(s.n < 3 && rounds++ < 20)
    assert_int_equal(mgcall_batch_run(b, 1000), MGCALL_OK);
  assert_int_equal(s.n, 3);
  assert_string_equal(s.ids[0], "ok-g"); /* added last, done first */
  assert_int_equal(s.codes[0], MGCALL_OK);
  assert_int_equal(s.codes[1], MGCALL_E_THROTTLED);
  assert_int_equal(s.codes[2], MGCALL_E_THROTTLED);
  assert_true(s.at[1] - t0 >= 2500); /* 1 s + 2 s of timers */
  /* reported once to the prefetcher */
  assert_int_equal(
      mgcall_batch_prefetch_token(b, "failtenant", 0, &pending, NULL, NULL),
      MGCALL_E_THROTTLED);
  assert_int_equal(pending, 0);
  /* a new item of that tenant fails at once, without a request */
  unsigned long asked = mgcall_client_token_requests(c);
  assert_int_equal(mgcall_batch_add(b, "ok-c", "failtenant", NULL), 0);
  assert_int_equal(mgcall_batch_run(b, 100), MGCALL_OK);
  assert_int_equal(mgcall_batch_pending(b), 0);
  assert_int_equal(s.n, 4);
  assert_int_equal(s.codes[3], MGCALL_E_THROTTLED);
  assert_int_equal(mgcall_client_token_requests(c), asked);
  mgcall_batch_free(b);
  mgcall_client_free(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_success_request),
      cmocka_unit_test(test_blocking_reuses_connection),
      cmocka_unit_test(test_not_found),
      cmocka_unit_test(test_blocking_after_failed_run),
      cmocka_unit_test(test_retry_then_success),
      cmocka_unit_test(test_retries_exhausted),
      cmocka_unit_test(test_refresh_on_401),
      cmocka_unit_test(test_other_statuses),
      cmocka_unit_test(test_network_failure),
      cmocka_unit_test(test_segments),
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_header_check),
      cmocka_unit_test(test_roles),
      cmocka_unit_test(test_batch),
      cmocka_unit_test(test_wakeup),
      cmocka_unit_test(test_prefetch_token),
      cmocka_unit_test(test_batch_token_does_not_block),
      cmocka_unit_test(test_batch_token_failure),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
