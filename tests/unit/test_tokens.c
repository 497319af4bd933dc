/* SPDX-License-Identifier: MIT */
/* test_tokens.c - mgc__tokens_get() against a tiny token endpoint on
 * 127.0.0.1 (libmicrohttpd): the form of the client-secret and certificate
 * requests, IMDS and App Service requests, per-tenant memory, the cache
 * file, force_refresh, AAD errors and garbage answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/credential.h"
#include "auth/tokens.h"
#include "jwt.h"

#include <curl/curl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What the server saw last and what it answers next. */
static struct {
  char method[16];
  char url[512];
  char query[1024];
  char body[8192];
  size_t body_len;
  char metadata[64];
  char identity_header[64];
  int requests;
  unsigned status;
  char answer[4096];
  char retry_after[16]; /* Retry-After header of the answers, or "" */
  int fail_first;       /* answer 503 to this many requests first */
} srv;

static struct MHD_Daemon *daemon_;
static char base[64];
static char dir[64];
static char cache_path[128];

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *value)
{
  (void)cls;
  (void)kind;
  size_t n = strlen(srv.query);
  snprintf(srv.query + n, sizeof(srv.query) - n, "%s%s=%s", n ? "&" : "", key,
           value ? value : "");
  return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
  (void)cls;
  (void)version;
  if(!*con_cls) {
    *con_cls = (void *)1;
    srv.body_len = 0;
    srv.body[0] = '\0';
    return MHD_YES;
  }
  if(*upload_size) {
    size_t room = sizeof(srv.body) - 1 - srv.body_len;
    size_t n = *upload_size < room ? *upload_size : room;
    memcpy(srv.body + srv.body_len, upload, n);
    srv.body_len += n;
    srv.body[srv.body_len] = '\0';
    *upload_size = 0;
    return MHD_YES;
  }
  srv.requests++;
  snprintf(srv.method, sizeof(srv.method), "%s", method);
  snprintf(srv.url, sizeof(srv.url), "%s", url);
  srv.query[0] = '\0';
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_query, NULL);
  const char *m =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Metadata");
  snprintf(srv.metadata, sizeof(srv.metadata), "%s", m ? m : "");
  const char *ih =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-IDENTITY-HEADER");
  snprintf(srv.identity_header, sizeof(srv.identity_header), "%s",
           ih ? ih : "");
  unsigned status = srv.status;
  const char *text = srv.answer;
  if(srv.fail_first > 0) {
    srv.fail_first--;
    status = 503;
    text = "{\"error\":\"temporarily_unavailable\"}";
  }
  struct MHD_Response *r = MHD_create_response_from_buffer(
      strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
  if(srv.retry_after[0])
    MHD_add_response_header(r, "Retry-After", srv.retry_after);
  enum MHD_Result ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

static void answer(unsigned status, const char *body)
{
  srv.status = status;
  snprintf(srv.answer, sizeof(srv.answer), "%s", body);
}

static void answer_token(const char *token, int expires_in)
{
  char b[1024];
  snprintf(b, sizeof(b),
           "{\"token_type\":\"Bearer\",\"expires_in\":%d,\"access_token\":"
           "\"%s\"}",
           expires_in, token);
  answer(200, b);
}

static int setup(void **state)
{
  (void)state;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  daemon_ =
      MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler,
                       NULL, MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
  if(!daemon_)
    return -1;
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  snprintf(base, sizeof(base), "http://127.0.0.1:%u", info->port);
  snprintf(dir, sizeof(dir), "/tmp/mgcall-tokens-test.XXXXXX");
  if(!mkdtemp(dir))
    return -1;
  snprintf(cache_path, sizeof(cache_path), "%s/mgcall/tokens.json", dir);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  MHD_stop_daemon(daemon_);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  curl_global_cleanup();
  return system(cmd) == 0 ? 0 : -1;
}

static struct mgc_tokens *make(const mgcall_credential *c, int use_cache)
{
  struct mgc_token_settings s;
  memset(&s, 0, sizeof(s));
  s.authority_url = base;
  s.graph_resource = "https://graph.microsoft.com";
  s.use_cache = use_cache;
  s.cache_path = cache_path;
  s.connect_timeout_s = 5;
  s.timeout_s = 10;
  struct mgc_tokens *t = NULL;
  struct mgc_err err;
  assert_int_equal(mgc__tokens_new(c, &s, &t, &err), MGCALL_OK);
  return t;
}

static void test_client_secret(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  assert_int_equal(
      mgcall_credential_client_secret("tenant-a", "app-1", "p&ss=w rd+%", &c),
      MGCALL_OK);
  struct mgc_tokens *t = make(c, 0);
  char tok[256];
  time_t exp = 0;
  struct mgc_err err;
  answer_token("tok-a", 3600);
  srv.requests = 0;
  time_t before = time(NULL);
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), &exp, &err),
                   MGCALL_OK);
  assert_string_equal(tok, "tok-a");
  assert_true(exp >= before + 3600 && exp <= time(NULL) + 3600);
  assert_string_equal(srv.method, "POST");
  assert_string_equal(srv.url, "/tenant-a/oauth2/v2.0/token");
  assert_string_equal(srv.body,
                      "grant_type=client_credentials&client_id=app-1&scope="
                      "https%3A%2F%2Fgraph.microsoft.com%2F.default&client_"
                      "secret=p%26ss%3Dw%20rd%2B%25");
  /* memory: no second request */
  answer_token("tok-other", 3600);
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), &exp, &err),
                   MGCALL_OK);
  assert_string_equal(tok, "tok-a");
  assert_int_equal(srv.requests, 1);
  /* another tenant: its own token */
  assert_int_equal(
      mgc__tokens_get(t, "tenant-b", 0, tok, sizeof(tok), &exp, &err),
      MGCALL_OK);
  assert_string_equal(tok, "tok-other");
  assert_string_equal(srv.url, "/tenant-b/oauth2/v2.0/token");
  assert_int_equal(srv.requests, 2);
  /* force_refresh asks again */
  answer_token("tok-a2", 3600);
  assert_int_equal(mgc__tokens_get(t, NULL, 1, tok, sizeof(tok), &exp, &err),
                   MGCALL_OK);
  assert_string_equal(tok, "tok-a2");
  assert_int_equal(srv.requests, 3);
  assert_int_equal(mgc__tokens_requests(t), 3);
  /* a short-lived token (under 5 minutes) is not reused */
  answer_token("short", 200);
  assert_int_equal(
      mgc__tokens_get(t, "tenant-c", 0, tok, sizeof(tok), &exp, &err),
      MGCALL_OK);
  assert_int_equal(
      mgc__tokens_get(t, "tenant-c", 0, tok, sizeof(tok), &exp, &err),
      MGCALL_OK);
  assert_int_equal(srv.requests, 5);
  /* bad tenant ids never reach a URL */
  assert_int_equal(mgc__tokens_get(t, "../x", 0, tok, sizeof(tok), &exp, &err),
                   MGCALL_E_USAGE);
  assert_int_equal(mgc__tokens_get(t, "a/b", 0, tok, sizeof(tok), &exp, &err),
                   MGCALL_E_USAGE);
  /* a buffer too small */
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, 3, &exp, &err),
                   MGCALL_E_INTERNAL);
  mgc__tokens_free(t);
  mgcall_credential_free(c);
}

static void test_scope_override(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  assert_int_equal(mgcall_credential_client_secret("t", "a", "s", &c),
                   MGCALL_OK);
  struct mgc_token_settings s;
  memset(&s, 0, sizeof(s));
  s.authority_url = base;
  s.graph_resource = "https://graph.microsoft.us";
  s.scope = "api://custom/.default";
  struct mgc_tokens *t = NULL;
  struct mgc_err err;
  assert_int_equal(mgc__tokens_new(c, &s, &t, &err), MGCALL_OK);
  char tok[64];
  answer_token("x", 3600);
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_OK);
  assert_non_null(strstr(srv.body, "scope=api%3A%2F%2Fcustom%2F.default"));
  mgc__tokens_free(t);
  mgcall_credential_free(c);
}

static void test_errors(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  assert_int_equal(mgcall_credential_client_secret("t", "a", "wrong", &c),
                   MGCALL_OK);
  struct mgc_tokens *t = make(c, 0);
  char tok[64];
  struct mgc_err err;
  answer(401, "{\"error\":\"invalid_client\",\"error_description\":"
              "\"AADSTS7000215: Invalid client secret provided.\","
              "\"error_codes\":[7000215]}");
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_E_AUTH);
  assert_non_null(strstr(err.msg, "invalid_client: AADSTS7000215: Invalid "
                                  "client secret provided."));
  answer(200, "<html>captive portal</html>");
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_E_AUTH);
  assert_non_null(strstr(err.msg, "HTML"));
  answer(502, "Bad gateway");
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_E_NETWORK);
  mgc__tokens_free(t);
  /* nothing listens: network error */
  struct mgc_token_settings s;
  memset(&s, 0, sizeof(s));
  s.authority_url = "http://127.0.0.1:1";
  s.graph_resource = "https://graph.microsoft.com";
  assert_int_equal(mgc__tokens_new(c, &s, &t, &err), MGCALL_OK);
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_E_NETWORK);
  assert_non_null(strstr(err.msg, "cannot reach the token endpoint"));
  mgc__tokens_free(t);
  mgcall_credential_free(c);
}

static void test_retries(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  assert_int_equal(mgcall_credential_client_secret("t", "a", "s", &c),
                   MGCALL_OK);
  struct mgc_tokens *t = make(c, 0);
  char tok[64];
  struct mgc_err err;
  snprintf(srv.retry_after, sizeof(srv.retry_after), "0");
  /* two 503s, then a token: retried twice */
  answer_token("after-retries", 3600);
  srv.fail_first = 2;
  srv.requests = 0;
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_OK);
  assert_string_equal(tok, "after-retries");
  assert_int_equal(srv.requests, 3);
  /* always 503: 3 attempts, then throttled (exit 6) */
  srv.fail_first = 100;
  srv.requests = 0;
  assert_int_equal(mgc__tokens_get(t, "t2", 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_E_THROTTLED);
  assert_int_equal(srv.requests, 3);
  assert_non_null(strstr(err.msg, "HTTP 503"));
  /* a Retry-After beyond 10 s is not waited for */
  snprintf(srv.retry_after, sizeof(srv.retry_after), "3600");
  srv.requests = 0;
  assert_int_equal(mgc__tokens_get(t, "t3", 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_E_THROTTLED);
  assert_int_equal(srv.requests, 1);
  /* a 400 is never retried */
  srv.fail_first = 0;
  srv.retry_after[0] = '\0';
  answer(400, "{\"error\":\"invalid_request\"}");
  srv.requests = 0;
  assert_int_equal(mgc__tokens_get(t, "t4", 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_E_AUTH);
  assert_int_equal(srv.requests, 1);
  mgc__tokens_free(t);
  mgcall_credential_free(c);
}

static void test_cache_file(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  assert_int_equal(mgcall_credential_client_secret("t", "a", "s", &c),
                   MGCALL_OK);
  unlink(cache_path);
  char tok[64];
  struct mgc_err err;
  answer_token("cached-1", 3600);
  srv.requests = 0;
  struct mgc_tokens *t = make(c, 1);
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_OK);
  mgc__tokens_free(t);
  struct stat st;
  assert_int_equal(stat(cache_path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  /* a new token source (a new process) reuses the file */
  answer_token("fresh", 3600);
  t = make(c, 1);
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_OK);
  assert_string_equal(tok, "cached-1");
  assert_int_equal(srv.requests, 1);
  mgc__tokens_free(t);
  /* a different client is a different key */
  mgcall_credential *c2 = NULL;
  assert_int_equal(mgcall_credential_client_secret("t", "b", "s", &c2),
                   MGCALL_OK);
  t = make(c2, 1);
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_OK);
  assert_string_equal(tok, "fresh");
  assert_int_equal(srv.requests, 2);
  mgc__tokens_free(t);
  /* without the cache: asks */
  t = make(c, 0);
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_OK);
  assert_string_equal(tok, "fresh");
  assert_int_equal(srv.requests, 3);
  mgc__tokens_free(t);
  /* a group-writable file is not used (and the warning goes to stderr) */
  assert_int_equal(chmod(cache_path, 0660), 0);
  t = make(c, 1);
  answer_token("fresh2", 3600);
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_OK);
  assert_string_equal(tok, "fresh2");
  assert_int_equal(srv.requests, 4);
  mgc__tokens_free(t);
  assert_int_equal(stat(cache_path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0660); /* left alone */
  mgcall_credential_free(c);
  mgcall_credential_free(c2);
}

static void test_managed_identity(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  unsetenv("IDENTITY_ENDPOINT");
  unsetenv("IDENTITY_HEADER");
  assert_int_equal(mgcall_credential_managed_identity("uai-1", base, &c),
                   MGCALL_OK);
  struct mgc_tokens *t = make(c, 0);
  char tok[64];
  struct mgc_err err;
  answer(200, "{\"access_token\":\"mi-tok\",\"expires_in\":\"86399\","
              "\"expires_on\":\"9999999999\",\"token_type\":\"Bearer\"}");
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_OK);
  assert_string_equal(tok, "mi-tok");
  assert_string_equal(srv.method, "GET");
  assert_string_equal(srv.url, "/metadata/identity/oauth2/token");
  assert_string_equal(srv.query, "api-version=2018-02-01&resource=https://"
                                 "graph.microsoft.com&client_id=uai-1");
  assert_string_equal(srv.metadata, "true");
  mgc__tokens_free(t);
  mgcall_credential_free(c);

  /* App Service */
  char ep[128];
  snprintf(ep, sizeof(ep), "%s/msi/token", base);
  setenv("IDENTITY_ENDPOINT", ep, 1);
  setenv("IDENTITY_HEADER", "hdr-secret", 1);
  assert_int_equal(mgcall_credential_managed_identity(NULL, NULL, &c),
                   MGCALL_OK);
  t = make(c, 0);
  answer(200, "{\"access_token\":\"as-tok\",\"expires_on\":\"9999999999\","
              "\"token_type\":\"Bearer\"}");
  /* expires_on far away is not believed (over a day) */
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_E_AUTH);
  char b[256];
  snprintf(b, sizeof(b),
           "{\"access_token\":\"as-tok\",\"expires_on\":\"%lld\","
           "\"token_type\":\"Bearer\"}",
           (long long)time(NULL) + 3600);
  answer(200, b);
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_OK);
  assert_string_equal(tok, "as-tok");
  assert_string_equal(srv.url, "/msi/token");
  assert_string_equal(srv.query, "api-version=2019-08-01&resource=https://"
                                 "graph.microsoft.com");
  assert_string_equal(srv.identity_header, "hdr-secret");
  mgc__tokens_free(t);
  mgcall_credential_free(c);
  unsetenv("IDENTITY_ENDPOINT");
  unsetenv("IDENTITY_HEADER");
}

static void test_mi_scope_and_from_env(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  unsetenv("IDENTITY_ENDPOINT");
  assert_int_equal(mgcall_credential_managed_identity(NULL, base, &c),
                   MGCALL_OK);
  struct mgc_token_settings s;
  memset(&s, 0, sizeof(s));
  s.authority_url = base;
  s.graph_resource = "https://graph.microsoft.com";
  s.scope = "https://graph.microsoft.us/.default";
  struct mgc_tokens *t = NULL;
  struct mgc_err err;
  assert_int_equal(mgc__tokens_new(c, &s, &t, &err), MGCALL_OK);
  char tok[64];
  answer_token("mi", 3600);
  assert_int_equal(mgc__tokens_get(t, NULL, 0, tok, sizeof(tok), NULL, &err),
                   MGCALL_OK);
  /* --scope decides the resource, without "/.default" */
  assert_string_equal(srv.query, "api-version=2018-02-01&resource=https://"
                                 "graph.microsoft.us");
  mgc__tokens_free(t);
  mgcall_credential_free(c);

  /* mgcall_credential_from_env(): the environment only, SPEC order */
  char msg[256];
  unsetenv("MGCALL_ACCESS_TOKEN");
  unsetenv("AZURE_CLIENT_SECRET");
  unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
  assert_int_equal(mgcall_credential_from_env(&c, msg, sizeof(msg)),
                   MGCALL_E_AUTH);
  assert_non_null(strstr(msg, "no credentials"));
  setenv("AZURE_TENANT_ID", "env-t", 1);
  setenv("AZURE_CLIENT_ID", "env-c", 1);
  setenv("AZURE_CLIENT_SECRET", "env-s", 1);
  assert_int_equal(mgcall_credential_from_env(&c, msg, sizeof(msg)), MGCALL_OK);
  assert_string_equal(mgc__credential_kind_name(c), "client secret");
  assert_string_equal(mgcall_credential_tenant_id(c), "env-t");
  mgcall_credential_free(c);
  setenv("MGCALL_ACCESS_TOKEN", "env.token", 1);
  assert_int_equal(mgcall_credential_from_env(&c, msg, sizeof(msg)), MGCALL_OK);
  assert_string_equal(mgc__credential_kind_name(c), "access token");
  mgcall_credential_free(c);
  unsetenv("MGCALL_ACCESS_TOKEN");
  unsetenv("AZURE_TENANT_ID");
  unsetenv("AZURE_CLIENT_ID");
  unsetenv("AZURE_CLIENT_SECRET");
}

static void test_access_token(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  assert_int_equal(mgcall_credential_access_token("bad token", &c),
                   MGCALL_E_AUTH);
  assert_int_equal(mgcall_credential_access_token("", &c), MGCALL_E_AUTH);
  assert_int_equal(mgcall_credential_access_token("opaque-token", &c),
                   MGCALL_OK);
  srv.requests = 0;
  struct mgc_tokens *t = make(c, 1);
  char tok[64];
  time_t exp = 1;
  struct mgc_err err;
  assert_int_equal(
      mgc__tokens_get(t, "any-tenant", 1, tok, sizeof(tok), &exp, &err),
      MGCALL_OK);
  assert_string_equal(tok, "opaque-token");
  assert_int_equal(exp, 0);
  assert_int_equal(srv.requests, 0);
  mgc__tokens_free(t);
  mgcall_credential_free(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_secret),
      cmocka_unit_test(test_scope_override),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_retries),
      cmocka_unit_test(test_cache_file),
      cmocka_unit_test(test_managed_identity),
      cmocka_unit_test(test_mi_scope_and_from_env),
      cmocka_unit_test(test_access_token),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
