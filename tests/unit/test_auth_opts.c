/* SPDX-License-Identifier: MIT */
/* test_auth_opts.c - the shared auth/endpoint option parser (src/auth_opts.c,
 * compiled into this test): option values, precedence between the command
 * line and the environment, endpoint resolution, and calling finish() again
 * for a credential reload. */
/* The unit under test, with the stubs below; before cmocka.h, whose fail()
 * macro would clash with a static function of the file. */
#include "auth_opts.c"
/* The credential's fields, to check what finish() built. */
#include "auth/credential.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

static int usage_errors;

void mgc_cli_error(const char *fmt, ...)
{
  (void)fmt;
}

int mgc_cli_usage_error(const char *cmd, const char *fmt, ...)
{
  (void)cmd;
  (void)fmt;
  usage_errors++;
  return MGCALL_E_USAGE;
}

static char dir[64];

static void file_with(const char *name, const char *content, char *path,
                      size_t n)
{
  snprintf(path, n, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

static void clear_env(void)
{
  const char *names[] = {"MGCALL_ACCESS_TOKEN",
                         "AZURE_TENANT_ID",
                         "AZURE_CLIENT_ID",
                         "AZURE_CLIENT_SECRET",
                         "AZURE_CLIENT_CERTIFICATE_PATH",
                         "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                         "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
                         "MGCALL_GRAPH_URL",
                         "MGCALL_AUTHORITY_URL",
                         "AZURE_AUTHORITY_HOST",
                         "IDENTITY_ENDPOINT",
                         "IDENTITY_HEADER"};
  for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    unsetenv(names[i]);
}

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/mgcall-authopts.XXXXXX");
  clear_env();
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_handle(void **state)
{
  (void)state;
  struct mgc_auth_opts ao;
  mgc_auth_opts_init(&ao);
  assert_int_equal(mgc_auth_opts_handle(&ao, 'v', NULL), 0);
  assert_int_equal(mgc_auth_opts_handle(&ao, 0x0fff, "x"), 0);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_TENANT_ID, "t"), 1);
  assert_string_equal(ao.tenant_id, "t");
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_TENANT_ID, "t2"), 1);
  assert_string_equal(ao.tenant_id, "t2"); /* last one wins */
  usage_errors = 0;
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_ASSERTION_ALG, "HS256"),
                   -1);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_ASSERTION_ALG, "rs256"),
                   1);
  assert_int_equal(ao.assertion_alg, MGCALL_ALG_RS256);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_TIMEOUT, "2m"), 1);
  assert_int_equal(ao.timeout_s, 120);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_CONNECT_TIMEOUT, "1500ms"),
                   1);
  assert_int_equal(ao.connect_timeout_s, 2);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_TIMEOUT, "-1"), -1);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_TIMEOUT, "100000"), -1);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_ENVIRONMENT, "china"), 1);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_ENVIRONMENT, "Moon"), -1);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_GRAPH_URL, "file:///x"),
                   -1);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_GRAPH_URL, "https://"),
                   -1);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_TENANT_ID, ""), -1);
  assert_int_equal(mgc_auth_opts_handle(&ao, MGC_OPT_REFUSED_SECRET, "s"), -1);
  assert_int_equal(usage_errors, 8);
  /* the option table: every value in 0x1000..0x10ff */
  for(size_t i = 0; mgc_auth_long_options[i].name; i++) {
    assert_true(mgc_auth_long_options[i].val >= 0x1000);
    assert_true(mgc_auth_long_options[i].val <= 0x10ff);
  }
  struct option own[] = {{"verbose", no_argument, NULL, 'v'},
                         {NULL, 0, NULL, 0}};
  struct option *all = mgc_auth_opts_merge(own);
  assert_string_equal(all[0].name, "verbose");
  assert_string_equal(all[1].name, "access-token-file");
  size_t n = 0;
  while(all[n].name)
    n++;
  assert_true(n > 19);
  free(all);
  mgc_auth_opts_release(&ao);
}

static void test_endpoints(void **state)
{
  (void)state;
  struct mgc_auth_opts ao;
  mgcall_config cfg;
  char msg[512];
  mgc_auth_opts_init(&ao);
  memset(&cfg, 0, sizeof(cfg));
  cfg.token_cache = 1;
  setenv("MGCALL_GRAPH_URL", "http://127.0.0.1:1/", 1);
  setenv("AZURE_AUTHORITY_HOST", "login.microsoftonline.us/", 1);
  mgc_auth_opts_handle(&ao, MGC_OPT_ENVIRONMENT, "usgovdod");
  mgc_auth_opts_handle(&ao, MGC_OPT_NO_TOKEN_CACHE, NULL);
  mgc_auth_opts_handle(&ao, MGC_OPT_SCOPE, "api://x/.default");
  assert_int_equal(mgc_auth_opts_finish(&ao, &cfg, NULL, msg, sizeof(msg)),
                   MGCALL_OK);
  assert_string_equal(cfg.environment, "USGovDoD");
  assert_string_equal(cfg.graph_url, "http://127.0.0.1:1");
  assert_string_equal(cfg.authority_url, "https://login.microsoftonline.us");
  assert_string_equal(cfg.scope, "api://x/.default");
  assert_int_equal(cfg.token_cache, 0);
  /* the options win over the environment */
  mgc_auth_opts_release(&ao);
  mgc_auth_opts_init(&ao);
  mgc_auth_opts_handle(&ao, MGC_OPT_GRAPH_URL, "https://graph.example/");
  mgc_auth_opts_handle(&ao, MGC_OPT_AUTHORITY_URL, "https://login.example");
  setenv("MGCALL_AUTHORITY_URL", "https://other.example", 1);
  memset(&cfg, 0, sizeof(cfg));
  assert_int_equal(mgc_auth_opts_finish(&ao, &cfg, NULL, msg, sizeof(msg)),
                   MGCALL_OK);
  assert_string_equal(cfg.graph_url, "https://graph.example");
  assert_string_equal(cfg.authority_url, "https://login.example");
  mgc_auth_opts_release(&ao);
  /* MGCALL_AUTHORITY_URL before AZURE_AUTHORITY_HOST */
  mgc_auth_opts_init(&ao);
  memset(&cfg, 0, sizeof(cfg));
  assert_int_equal(mgc_auth_opts_finish(&ao, &cfg, NULL, msg, sizeof(msg)),
                   MGCALL_OK);
  assert_string_equal(cfg.authority_url, "https://other.example");
  mgc_auth_opts_release(&ao);
  setenv("MGCALL_GRAPH_URL", "not a url", 1);
  mgc_auth_opts_init(&ao);
  assert_int_equal(mgc_auth_opts_finish(&ao, &cfg, NULL, msg, sizeof(msg)),
                   MGCALL_E_USAGE);
  assert_non_null(strstr(msg, "MGCALL_GRAPH_URL"));
  mgc_auth_opts_release(&ao);
  clear_env();
}

static void test_precedence(void **state)
{
  (void)state;
  char tok[128], sec[128];
  file_with("token", "file.token.value\n", tok, sizeof(tok));
  file_with("secret", "file-secret\r\n", sec, sizeof(sec));
  struct mgc_auth_opts ao;
  mgcall_config cfg;
  mgcall_credential *cred = NULL;
  char msg[512];

  /* nothing: exit 3 */
  mgc_auth_opts_init(&ao);
  memset(&cfg, 0, sizeof(cfg));
  assert_int_equal(mgc_auth_opts_finish(&ao, &cfg, &cred, msg, sizeof(msg)),
                   MGCALL_E_AUTH);
  assert_null(cred);
  assert_non_null(strstr(msg, "no credentials"));
  mgc_auth_opts_release(&ao);

  /* environment only: token before secret */
  setenv("MGCALL_ACCESS_TOKEN", "env.token.value", 1);
  setenv("AZURE_TENANT_ID", "env-tenant", 1);
  setenv("AZURE_CLIENT_ID", "env-client", 1);
  setenv("AZURE_CLIENT_SECRET", "env-secret", 1);
  mgc_auth_opts_init(&ao);
  assert_int_equal(mgc_auth_opts_finish(&ao, &cfg, &cred, msg, sizeof(msg)),
                   MGCALL_OK);
  assert_int_equal(cred->kind, MGCALL_CRED_ACCESS_TOKEN);
  assert_string_equal(cred->access_token, "env.token.value");
  mgcall_credential_free(cred);
  mgc_auth_opts_release(&ao);

  /* a secret file on the command line beats the environment's token; the
   * tenant comes from the option, the client id from the environment */
  mgc_auth_opts_init(&ao);
  mgc_auth_opts_handle(&ao, MGC_OPT_CLIENT_SECRET_FILE, sec);
  mgc_auth_opts_handle(&ao, MGC_OPT_TENANT_ID, "opt-tenant");
  assert_int_equal(mgc_auth_opts_finish(&ao, &cfg, &cred, msg, sizeof(msg)),
                   MGCALL_OK);
  assert_int_equal(cred->kind, MGCALL_CRED_CLIENT_SECRET);
  assert_string_equal(cred->client_secret, "file-secret");
  assert_string_equal(cred->tenant_id, "opt-tenant");
  assert_string_equal(cred->client_id, "env-client");
  mgcall_credential_free(cred);
  /* finish() again (reload): a new credential, endpoint strings unchanged */
  mgc_auth_opts_handle(&ao, MGC_OPT_GRAPH_URL, "https://g.example");
  assert_int_equal(mgc_auth_opts_finish(&ao, &cfg, &cred, msg, sizeof(msg)),
                   MGCALL_OK);
  const char *graph = cfg.graph_url;
  file_with("secret", "rotated\n", sec, sizeof(sec));
  mgcall_credential *cred2 = NULL;
  mgcall_config scratch;
  memset(&scratch, 0, sizeof(scratch));
  assert_int_equal(
      mgc_auth_opts_finish(&ao, &scratch, &cred2, msg, sizeof(msg)), MGCALL_OK);
  assert_string_equal(cred2->client_secret, "rotated");
  assert_ptr_equal(scratch.graph_url, graph);
  assert_string_equal(cfg.graph_url, "https://g.example");
  mgcall_credential_free(cred);
  mgcall_credential_free(cred2);
  mgc_auth_opts_release(&ao);

  /* token file beats secret file on the command line */
  mgc_auth_opts_init(&ao);
  mgc_auth_opts_handle(&ao, MGC_OPT_CLIENT_SECRET_FILE, sec);
  mgc_auth_opts_handle(&ao, MGC_OPT_ACCESS_TOKEN_FILE, tok);
  assert_int_equal(mgc_auth_opts_finish(&ao, &cfg, &cred, msg, sizeof(msg)),
                   MGCALL_OK);
  assert_string_equal(cred->access_token, "file.token.value");
  mgcall_credential_free(cred);
  mgc_auth_opts_release(&ao);

  /* managed identity on the command line beats the environment's secret */
  unsetenv("MGCALL_ACCESS_TOKEN");
  mgc_auth_opts_init(&ao);
  mgc_auth_opts_handle(&ao, MGC_OPT_MANAGED_IDENTITY, NULL);
  mgc_auth_opts_handle(&ao, MGC_OPT_IMDS_URL, "http://127.0.0.1:9/");
  assert_int_equal(mgc_auth_opts_finish(&ao, &cfg, &cred, msg, sizeof(msg)),
                   MGCALL_OK);
  assert_int_equal(cred->kind, MGCALL_CRED_MANAGED_IDENTITY);
  assert_string_equal(cred->imds_url, "http://127.0.0.1:9");
  assert_string_equal(cred->client_id, "env-client");
  mgcall_credential_free(cred);
  mgc_auth_opts_release(&ao);

  /* environment secret without a tenant: exit 3 naming what is missing */
  unsetenv("AZURE_TENANT_ID");
  mgc_auth_opts_init(&ao);
  assert_int_equal(mgc_auth_opts_finish(&ao, &cfg, &cred, msg, sizeof(msg)),
                   MGCALL_E_AUTH);
  assert_non_null(strstr(msg, "no tenant id"));
  mgc_auth_opts_release(&ao);
  clear_env();
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handle),
      cmocka_unit_test(test_endpoints),
      cmocka_unit_test(test_precedence),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
