/* SPDX-License-Identifier: MIT */
/* test_abi.c - the structs of the public API can grow: a caller built
 * against an older, shorter mgcall_config / mgcall_result (its sizeof passed
 * by the macros) works with this library, which never writes past the
 * caller's struct and takes defaults for the fields the caller has not; a
 * caller with a longer struct gets struct_size saying what was filled.
 * The same for mgcall_credential_opts, which the library only reads.
 * Every function returns codes of one sign.  The functions of version node
 * MGCALL_0.2 (0.2.0: what the mgcall tool took from library internals
 * before) behave as documented. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mgcall/mgcall.h"

#include <stdlib.h>
#include <string.h>

/* What an older header had: the first fields only. */
struct old_config {
  size_t struct_size;
  const char *environment;
  const char *graph_url;
  const char *authority_url;
};
struct old_result {
  size_t struct_size;
  int code;
  long status;
  int attempts;
};

/* An older mgcall_credential_opts: a token, a tenant and a client id. */
struct old_credential_opts {
  size_t struct_size;
  const char *access_token;
  const char *tenant_id;
  const char *client_id;
};

#define CANARY 0x5a

static void test_old_config(void **state)
{
  (void)state;
  struct {
    struct old_config c;
    unsigned char canary[64];
  } o;
  memset(o.canary, CANARY, sizeof(o.canary));
  mgcall_config_init_sized((mgcall_config *)&o.c, sizeof(o.c));
  for(size_t i = 0; i < sizeof(o.canary); i++)
    assert_int_equal(o.canary[i], CANARY); /* nothing written past it */
  assert_int_equal(o.c.struct_size, sizeof(o.c));
  assert_string_equal(o.c.environment, "Global");
  o.c.graph_url = "http://127.0.0.1:1";
  /* the fields it lacks take their defaults (no credential, 3 retries) */
  mgcall_client *c = NULL;
  char err[256];
  assert_int_equal(
      mgcall_client_new((const mgcall_config *)&o.c, &c, err, sizeof(err)),
      MGCALL_OK);
  char *url = mgcall_keep_alive_url(c, "x");
  assert_string_equal(
      url, "http://127.0.0.1:1/v1.0/communications/calls/x/keepAlive");
  free(url);
  mgcall_client_free(c);
  /* a struct not made by mgcall_config_init(): refused */
  mgcall_config raw;
  memset(&raw, 0, sizeof(raw));
  assert_int_equal(mgcall_client_new(&raw, &c, err, sizeof(err)),
                   MGCALL_E_USAGE);
  assert_null(c);
}

static mgcall_client *unreachable_client(mgcall_credential **cred)
{
  assert_int_equal(mgcall_credential_access_token("opaque", cred), MGCALL_OK);
  mgcall_config cfg;
  mgcall_config_init(&cfg); /* the macro: this header's sizeof */
  assert_int_equal(cfg.struct_size, sizeof(cfg));
  cfg.graph_url = "http://127.0.0.1:1";
  cfg.retries = 0;
  cfg.credential = *cred;
  mgcall_client *c = NULL;
  assert_int_equal(mgcall_client_new(&cfg, &c, NULL, 0), MGCALL_OK);
  return c;
}

static void test_old_result(void **state)
{
  (void)state;
  mgcall_credential *cred;
  mgcall_client *c = unreachable_client(&cred);
  struct {
    struct old_result r;
    unsigned char canary[sizeof(mgcall_result)];
  } o;
  memset(o.canary, CANARY, sizeof(o.canary));
  int rc =
      mgcall_keep_alive_sized(c, "x", NULL, (mgcall_result *)&o.r, sizeof(o.r));
  assert_int_equal(rc, MGCALL_E_NETWORK);
  assert_int_equal(o.r.code, MGCALL_E_NETWORK);
  assert_int_equal(o.r.attempts, 1);
  assert_int_equal(o.r.struct_size, sizeof(o.r));
  for(size_t i = 0; i < sizeof(o.canary); i++)
    assert_int_equal(o.canary[i], CANARY);
  /* too small to hold even the code */
  assert_int_equal(mgcall_keep_alive_sized(c, "x", NULL, (mgcall_result *)&o.r,
                                           sizeof(size_t)),
                   MGCALL_E_USAGE);
  /* a newer caller's longer struct: struct_size says what was filled */
  struct {
    mgcall_result r;
    char newer_fields[64];
  } big;
  memset(&big, CANARY, sizeof(big));
  assert_int_equal(mgcall_keep_alive_sized(c, "x", NULL, &big.r, sizeof(big)),
                   MGCALL_E_NETWORK);
  assert_int_equal(big.r.struct_size, sizeof(mgcall_result));
  assert_true(MGCALL_RESULT_HAS(&big.r, retry_after_ms));
  for(size_t i = 0; i < sizeof(big.newer_fields); i++)
    assert_int_equal((unsigned char)big.newer_fields[i], CANARY);
  /* the macro, as callers write it */
  mgcall_result res;
  assert_int_equal(mgcall_keep_alive(c, "x", NULL, &res), MGCALL_E_NETWORK);
  assert_int_equal(res.struct_size, sizeof(res));
  mgcall_client_free(c);
  mgcall_credential_free(cred);
}

static void done(void *ud, const char *call_id, void *item,
                 const mgcall_result *res)
{
  (void)call_id;
  (void)item;
  int *n = ud;
  assert_int_equal(res->struct_size, sizeof(mgcall_result));
  assert_true(res->code > 0); /* unreachable: a positive code */
  (*n)++;
}

static void test_old_credential_opts(void **state)
{
  (void)state;
  struct {
    struct old_credential_opts o;
    unsigned char canary[64];
  } w;
  memset(w.canary, CANARY, sizeof(w.canary));
  mgcall_credential_opts_init_sized((mgcall_credential_opts *)&w.o,
                                    sizeof(w.o));
  for(size_t i = 0; i < sizeof(w.canary); i++)
    assert_int_equal(w.canary[i], CANARY); /* nothing written past it */
  assert_int_equal(w.o.struct_size, sizeof(w.o));
  assert_null(w.o.access_token);
  /* the canary bytes past it would name a secret, a certificate ... if the
   * library read them: it takes "not given" for the fields it lacks */
  w.o.access_token = "abc.def.ghi";
  mgcall_credential *cred = NULL;
  char err[256];
  assert_int_equal(mgcall_credential_new((mgcall_credential_opts *)&w.o, 0,
                                         &cred, err, sizeof(err)),
                   MGCALL_OK);
  assert_int_equal(mgcall_credential_kind(cred), MGCALL_CRED_ACCESS_TOKEN);
  assert_null(mgcall_credential_client_id(cred));
  mgcall_credential_free(cred);
  /* nothing given and no environment: no credential, a reason */
  w.o.access_token = NULL;
  w.o.tenant_id = "t1";
  assert_int_equal(mgcall_credential_new((mgcall_credential_opts *)&w.o, 0,
                                         &cred, err, sizeof(err)),
                   MGCALL_E_AUTH);
  assert_null(cred);
  assert_non_null(strstr(err, "no credentials"));
  /* a client secret with tenant and client id */
  mgcall_credential_opts o;
  mgcall_credential_opts_init(&o);
  o.tenant_id = "t1";
  o.client_id = "c1";
  o.client_secret = "s";
  assert_int_equal(mgcall_credential_new(&o, 0, &cred, err, sizeof(err)),
                   MGCALL_OK);
  assert_int_equal(mgcall_credential_kind(cred), MGCALL_CRED_CLIENT_SECRET);
  assert_string_equal(mgcall_credential_tenant_id(cred), "t1");
  assert_string_equal(mgcall_credential_client_id(cred), "c1");
  mgcall_credential_free(cred);
  assert_int_equal(mgcall_credential_kind(NULL), 0);
  assert_null(mgcall_credential_tenant_id(NULL));
  /* NULL arguments: usage, never a crash */
  assert_int_equal(mgcall_credential_new(NULL, 0, &cred, err, sizeof(err)),
                   MGCALL_E_USAGE);
  assert_int_equal(mgcall_credential_new(&o, 0, NULL, NULL, 0), MGCALL_E_USAGE);
}

static void test_one_sign(void **state)
{
  (void)state;
  mgcall_credential *cred;
  mgcall_client *c = unreachable_client(&cred);
  mgcall_batch *b = NULL;
  int n = 0;
  assert_int_equal(mgcall_batch_new(c, 2, done, &n, &b), MGCALL_OK);
  assert_int_equal(mgcall_batch_add(b, "x", NULL, NULL), MGCALL_OK);
  for(int i = 0; i < 20 && mgcall_batch_pending(b); i++)
    assert_int_equal(mgcall_batch_run(b, 1000), MGCALL_OK);
  assert_int_equal(n, 1);
  assert_int_equal(mgcall_batch_run(NULL, 0), MGCALL_E_USAGE); /* not < 0 */
  assert_int_equal(mgcall_batch_add(NULL, "x", NULL, NULL), MGCALL_E_USAGE);
  /* the blocking token: an access token is given as is, for any tenant */
  char tok[16];
  long long exp = -1;
  assert_int_equal(
      mgcall_client_get_token(c, "other", 0, tok, sizeof(tok), &exp),
      MGCALL_OK);
  assert_string_equal(tok, "opaque");
  assert_int_equal(exp, 0); /* unknown: not a JWT */
  assert_int_equal(mgcall_client_get_token(c, NULL, 0, tok, 3, &exp),
                   MGCALL_E_INTERNAL); /* too small */
  assert_int_equal(mgcall_client_get_token(NULL, NULL, 0, tok, 3, &exp),
                   MGCALL_E_USAGE);
  assert_int_equal(mgcall_client_get_token(c, NULL, 0, NULL, 0, &exp),
                   MGCALL_E_USAGE);
  int pending = 0;
  assert_int_equal(
      mgcall_batch_prefetch_token(b, NULL, -1, &pending, NULL, NULL),
      MGCALL_E_USAGE);
  mgcall_batch_free(b);
  mgcall_client_free(c);
  mgcall_credential_free(cred);
}

static void test_since_0_2(void **state)
{
  (void)state;
  /* national clouds: canonical names, case-insensitive, NULL = Global */
  assert_string_equal(mgcall_cloud_name("usgov"), "USGov");
  assert_string_equal(mgcall_cloud_name("USGOVDOD"), "USGovDoD");
  assert_string_equal(mgcall_cloud_name(NULL), "Global");
  assert_null(mgcall_cloud_name("Mars"));
  assert_null(mgcall_cloud_name(""));
  /* extra headers: the check mgcall_client_new() makes */
  char why[128] = "";
  assert_int_equal(mgcall_header_check("X-Ms-Foo: bar", why, sizeof(why)),
                   MGCALL_OK);
  assert_int_equal(mgcall_header_check("Host: evil", why, sizeof(why)),
                   MGCALL_E_USAGE);
  assert_string_equal(why, "header 'Host' may not be set");
  assert_int_equal(mgcall_header_check("X: a\r\nY: b", NULL, 0),
                   MGCALL_E_USAGE);
  assert_int_equal(mgcall_header_check(NULL, why, sizeof(why)), MGCALL_E_USAGE);
  char *long_line = malloc(MGCALL_HEADER_MAX + 2);
  assert_non_null(long_line);
  memset(long_line, 'v', MGCALL_HEADER_MAX + 1);
  memcpy(long_line, "X: ", 3);
  long_line[MGCALL_HEADER_MAX + 1] = '\0';
  assert_int_equal(mgcall_header_check(long_line, why, sizeof(why)),
                   MGCALL_E_USAGE);
  long_line[MGCALL_HEADER_MAX] = '\0'; /* exactly the longest */
  assert_int_equal(mgcall_header_check(long_line, why, sizeof(why)), MGCALL_OK);
  free(long_line);
  const char *const headers[] = {"Host: evil", NULL};
  mgcall_config cfg;
  mgcall_config_init(&cfg);
  cfg.graph_url = "http://127.0.0.1:1";
  cfg.headers = headers;
  mgcall_client *c = NULL;
  char err[256];
  assert_int_equal(mgcall_client_new(&cfg, &c, err, sizeof(err)),
                   MGCALL_E_USAGE);
  assert_non_null(strstr(err, "header 'Host' may not be set"));
  /* the claims of a JWT ({"alg":"none"}, {"tid":"t1","roles":[...],
   * "exp":2000000000}), unverified; an opaque token has none */
  const char *jwt =
      "eyJhbGciOiJub25lIn0."
      "eyJ0aWQiOiJ0MSIsInJvbGVzIjpbIkNhbGxzLkluaXRpYXRlLkFsbCJdLCJleHAiOjIw"
      "MDAwMDAwMDB9.sig";
  char *claims = NULL;
  assert_int_equal(mgcall_token_claims(jwt, &claims), MGCALL_OK);
  assert_non_null(claims);
  assert_non_null(strstr(claims, "\"tid\":\"t1\""));
  assert_non_null(strstr(claims, "\"exp\":2000000000"));
  assert_non_null(strstr(claims, "Calls.Initiate.All"));
  free(claims);
  claims = (char *)"untouched";
  assert_int_equal(mgcall_token_claims("opaque-token", &claims),
                   MGCALL_E_USAGE);
  assert_null(claims);
  assert_int_equal(mgcall_token_claims("a.b.c", &claims), MGCALL_E_USAGE);
  assert_null(claims);
  assert_int_equal(mgcall_token_claims(NULL, &claims), MGCALL_E_USAGE);
  assert_int_equal(mgcall_token_claims(jwt, NULL), MGCALL_E_USAGE);
}

static int setup(void **state)
{
  (void)state;
  return mgcall_global_init();
}

static int teardown(void **state)
{
  (void)state;
  mgcall_global_cleanup();
  return 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_old_config),
      cmocka_unit_test(test_old_result),
      cmocka_unit_test(test_old_credential_opts),
      cmocka_unit_test(test_one_sign),
      cmocka_unit_test(test_since_0_2),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
