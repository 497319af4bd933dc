/* SPDX-License-Identifier: MIT */
/* test_emu_identity.c - the emulator's token endpoint logic, access-token
 * verification and certificate assertions, without any socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "b64url.h"
#include "identity.h"
#include "jwt.h"

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1800000000
#define TOKEN_URL "http://127.0.0.1:1/t1/oauth2/v2.0/token"
#define BASE "http://127.0.0.1:1"

static struct emu_identity *id;
static EVP_PKEY *client_key;
static char cert_path[] = "/tmp/mgcall-test-cert-XXXXXX";
static char thumb256[64];

static int setup(void **state)
{
  (void)state;
  struct emu_identity_config cfg = {600, "Calls.Initiate.All,Other", NULL,
                                    NULL};
  char err[256];
  id = emu_identity_new(&cfg, err, sizeof(err));
  assert_non_null(id);
  assert_int_equal(emu_identity_add_secret(id, "app1:s3cret", err, 256), 0);
  client_key = EVP_RSA_gen(2048);
  X509 *x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, client_key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             (const unsigned char *)"app2", -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_sign(x, client_key, EVP_sha256());
  int fd = mkstemp(cert_path);
  FILE *f = fdopen(fd, "w");
  PEM_write_X509(f, x);
  fclose(f);
  unsigned char *der = NULL;
  int n = i2d_X509(x, &der);
  unsigned char md[32];
  SHA256(der, (size_t)n, md);
  OPENSSL_free(der);
  char *t = mgc__b64url_encode(md, 32);
  snprintf(thumb256, sizeof(thumb256), "%s", t);
  free(t);
  X509_free(x);
  char spec[128];
  snprintf(spec, sizeof(spec), "app2:%s", cert_path);
  assert_int_equal(emu_identity_add_cert(id, spec, err, 256), 0);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  emu_identity_free(id);
  EVP_PKEY_free(client_key);
  unlink(cert_path);
  return 0;
}

/* Run the token endpoint on body (form text) and return the status. */
static int token(const char *body, struct emu_token_response *out)
{
  struct emu_form f;
  assert_int_equal(emu_form_parse(body, strlen(body), &f), EMU_FORM_OK);
  struct emu_token_request r = {"t1",      &f,   NULL,   NULL,
                                TOKEN_URL, BASE, "corr", NOW};
  emu_identity_token(id, &r, out);
  emu_form_release(&f);
  return out->status;
}

static long aad_code(const struct emu_token_response *out)
{
  return (long)json_integer_value(
      json_array_get(json_object_get(out->body, "error_codes"), 0));
}

#define FORM                                                                   \
  "grant_type=client_credentials&scope=https://graph.microsoft.com/.default"

static void test_secret(void **state)
{
  (void)state;
  struct emu_token_response out;
  assert_int_equal(token(FORM "&client_id=app1&client_secret=s3cret", &out),
                   200);
  const char *tok =
      json_string_value(json_object_get(out.body, "access_token"));
  assert_non_null(tok);
  assert_int_equal(json_integer_value(json_object_get(out.body, "expires_in")),
                   600);
  struct emu_principal who;
  char auth[8192];
  snprintf(auth, sizeof(auth), "Bearer %s", tok);
  assert_int_equal(emu_identity_verify(id, auth, BASE, NOW + 10, &who),
                   EMU_TOKEN_OK);
  assert_string_equal(who.tenant, "t1");
  assert_string_equal(who.app, "app1");
  assert_true(who.has_calls_role);
  assert_string_equal(who.roles, "Calls.Initiate.All,Other");
  /* the cached path gives the same answers */
  assert_int_equal(emu_identity_verify(id, auth, BASE, NOW + 10, &who),
                   EMU_TOKEN_OK);
  assert_int_equal(emu_identity_verify(id, auth, BASE, NOW + 600, &who),
                   EMU_TOKEN_EXPIRED);
  /* tamper: one byte of the claims, one of the signature */
  char *dot = strchr(auth, '.');
  dot[3] = dot[3] == 'A' ? 'B' : 'A';
  assert_int_not_equal(emu_identity_verify(id, auth, BASE, NOW, &who),
                       EMU_TOKEN_OK);
  dot[3] = tok[strchr(tok, '.') - tok + 3];
  size_t n = strlen(auth);
  auth[n - 2] = auth[n - 2] == 'A' ? 'B' : 'A';
  assert_int_equal(emu_identity_verify(id, auth, BASE, NOW, &who),
                   EMU_TOKEN_BAD_SIGNATURE);
  assert_int_equal(emu_identity_verify(id, NULL, BASE, NOW, &who),
                   EMU_TOKEN_MISSING);
  assert_int_equal(emu_identity_verify(id, "Bearer ", BASE, NOW, &who),
                   EMU_TOKEN_MISSING);
  assert_int_equal(emu_identity_verify(id, "Bearer a.b.c", BASE, NOW, &who),
                   EMU_TOKEN_MALFORMED);
  json_decref(out.body);

  assert_int_equal(token(FORM "&client_id=app1&client_secret=nope", &out), 401);
  assert_int_equal(aad_code(&out), 7000215);
  assert_string_equal(
      json_string_value(json_object_get(out.body, "correlation_id")), "corr");
  json_decref(out.body);
  assert_int_equal(token(FORM "&client_id=zz&client_secret=x", &out), 400);
  assert_int_equal(aad_code(&out), 700016);
  json_decref(out.body);
  assert_int_equal(token("grant_type=client_credentials&client_id=app1&"
                         "client_secret=s3cret&scope=https://x/.default",
                         &out),
                   400);
  assert_int_equal(aad_code(&out), 70011);
  json_decref(out.body);
  assert_int_equal(token("grant_type=refresh_token", &out), 400);
  assert_int_equal(aad_code(&out), 70003);
  json_decref(out.body);
}

static void test_scopes(void **state)
{
  (void)state;
  char aud[256];
  assert_int_equal(emu_scope_audience("https://graph.microsoft.us/.default",
                                      BASE, 0, aud, sizeof(aud)),
                   0);
  assert_string_equal(aud, "https://graph.microsoft.us");
  assert_int_equal(emu_scope_audience("https://graph.microsoft.com//.default",
                                      BASE, 0, aud, sizeof(aud)),
                   0);
  assert_int_equal(emu_scope_audience(BASE "/.default", BASE, 0, aud, 256), 0);
  assert_string_equal(aud, BASE);
  assert_int_equal(emu_scope_audience("00000003-0000-0000-c000-000000000000/"
                                      ".default",
                                      BASE, 0, aud, 256),
                   0);
  assert_string_equal(aud, "https://graph.microsoft.com");
  assert_int_equal(
      emu_scope_audience("https://graph.microsoft.com/", BASE, 1, aud, 256), 0);
  assert_int_equal(
      emu_scope_audience("https://graph.microsoft.com", BASE, 0, aud, 256), -1);
  assert_int_equal(
      emu_scope_audience("https://evil.example/.default", BASE, 0, aud, 256),
      -1);
  assert_int_equal(emu_scope_audience("", BASE, 0, aud, 256), -1);
}

static char *make_assertion(const char *alg_name, enum mgc_jwt_alg alg,
                            const char *aud, long exp_off, const char *iss)
{
  json_t *h = json_pack("{s:s,s:s}", "typ", "JWT", "x5t#S256", thumb256);
  json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "aud", aud, "iss", iss,
                        "sub", iss, "jti", "x", "nbf", (json_int_t)NOW, "iat",
                        (json_int_t)NOW, "exp", (json_int_t)(NOW + exp_off));
  (void)alg_name;
  char *t = mgc__jwt_sign(h, c, client_key, alg, NULL);
  json_decref(h);
  json_decref(c);
  return t;
}

static int assertion_status(char *a, struct emu_token_response *out)
{
  char *body = malloc(strlen(a) + 512);
  sprintf(body,
          FORM "&client_id=app2&client_assertion_type=urn%%3Aietf%%3Aparams%%"
               "3Aoauth%%3Aclient-assertion-type%%3Ajwt-bearer&"
               "client_assertion=%s",
          a);
  int s = token(body, out);
  free(body);
  free(a);
  return s;
}

static void test_assertion(void **state)
{
  (void)state;
  struct emu_token_response out;
  assert_int_equal(
      assertion_status(
          make_assertion("PS256", MGC_JWT_PS256, TOKEN_URL, 600, "app2"), &out),
      200);
  assert_string_equal(out.app, "app2");
  json_decref(out.body);
  assert_int_equal(
      assertion_status(
          make_assertion("RS256", MGC_JWT_RS256, TOKEN_URL, 600, "app2"), &out),
      200);
  json_decref(out.body);
  assert_int_equal(
      assertion_status(make_assertion("PS256", MGC_JWT_PS256,
                                      "https://other/token", 600, "app2"),
                       &out),
      401);
  assert_int_equal(aad_code(&out), 700023);
  json_decref(out.body);
  assert_int_equal(assertion_status(make_assertion("PS256", MGC_JWT_PS256,
                                                   TOKEN_URL, -301, "app2"),
                                    &out),
                   401);
  assert_int_equal(aad_code(&out), 700024);
  json_decref(out.body);
  assert_int_equal(assertion_status(make_assertion("PS256", MGC_JWT_PS256,
                                                   TOKEN_URL, -299, "app2"),
                                    &out),
                   200);
  json_decref(out.body);
  assert_int_equal(
      assertion_status(
          make_assertion("PS256", MGC_JWT_PS256, TOKEN_URL, 600, "app1"), &out),
      401);
  assert_int_equal(aad_code(&out), 700021);
  json_decref(out.body);
}

static void test_imds(void **state)
{
  (void)state;
  char err[128];
  assert_int_equal(emu_identity_add_managed(id, "mi1", err, sizeof(err)), 0);
  assert_int_equal(emu_identity_add_managed(id, "bad id!", err, sizeof(err)),
                   -1);
  struct emu_form q;
  const char *qs =
      "api-version=2018-02-01&resource=https://graph.microsoft.com";
  emu_form_parse(qs, strlen(qs), &q);
  struct emu_token_response out;
  emu_identity_imds(id, &q, NULL, 0, BASE, NOW, &out);
  assert_int_equal(out.status, 400);
  json_decref(out.body);
  emu_identity_imds(id, &q, "true", 0, BASE, NOW, &out);
  assert_int_equal(out.status, 200);
  assert_string_equal(
      json_string_value(json_object_get(out.body, "expires_in")), "600");
  assert_string_equal(out.app, "mi1");
  assert_string_equal(out.tenant, EMU_DEFAULT_MI_TENANT);
  json_decref(out.body);
  emu_form_release(&q);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_secret), cmocka_unit_test(test_scopes),
      cmocka_unit_test(test_assertion), cmocka_unit_test(test_imds)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
