/* SPDX-License-Identifier: MIT */
/* test_assertion.c - certificate loading (PEM, PKCS#12, wrong password,
 * expired, garbage) and the client assertion: header, claims, signature
 * checked with the certificate's public key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/assertion.h"
#include "auth/cert.h"
#include "auth/credential.h"
#include "b64url.h"
#include "jwt.h"

#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static EVP_PKEY *key;
static X509 *cert, *ca_cert;

static X509 *make_cert(EVP_PKEY *k, const char *cn, long from, long to)
{
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), from);
  X509_gmtime_adj(X509_getm_notAfter(x), to);
  X509_set_pubkey(x, k);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, k, EVP_sha256());
  return x;
}

static void path_of(char *buf, size_t n, const char *name)
{
  snprintf(buf, n, "%s/%s", dir, name);
}

static void write_pem(const char *name, EVP_PKEY *k, X509 *x, X509 *extra)
{
  char p[128];
  path_of(p, sizeof(p), name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  if(extra)
    PEM_write_X509(f, extra);
  PEM_write_X509(f, x);
  if(k)
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
  fclose(f);
}

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/mgcall-cert-test.XXXXXX");
  if(!mkdtemp(dir))
    return -1;
  key = EVP_RSA_gen(2048);
  EVP_PKEY *cakey = EVP_RSA_gen(2048);
  if(!key || !cakey)
    return -1;
  cert = make_cert(key, "mgcall test", -60, 3600);
  ca_cert = make_cert(cakey, "mgcall test CA", -60, 3600);
  write_pem("good.pem", key, cert, NULL);
  write_pem("chain.pem", key, cert, ca_cert);
  write_pem("nokey.pem", NULL, cert, NULL);
  X509 *old = make_cert(key, "old", -7200, -3600);
  write_pem("expired.pem", key, old, NULL);
  X509_free(old);
  X509 *future = make_cert(key, "future", 3600, 7200);
  write_pem("future.pem", key, future, NULL);
  X509_free(future);
  write_pem("mismatch.pem", cakey, cert, NULL);
  {
    char ep[128];
    path_of(ep, sizeof(ep), "encrypted.pem");
    FILE *ef = fopen(ep, "w");
    PEM_write_X509(ef, cert);
    PEM_write_PrivateKey(ef, key, EVP_aes_256_cbc(), NULL, 0, NULL,
                         (void *)"pem-pass");
    fclose(ef);
  }
  STACK_OF(X509) *ca = sk_X509_new_null();
  sk_X509_push(ca, ca_cert);
  PKCS12 *p12 =
      PKCS12_create("pa55word", "mgcall", key, cert, ca, 0, 0, 0, 0, 0);
  sk_X509_free(ca);
  char p[128];
  path_of(p, sizeof(p), "good.p12");
  FILE *f = fopen(p, "wb");
  i2d_PKCS12_fp(f, p12);
  fclose(f);
  PKCS12_free(p12);
  path_of(p, sizeof(p), "garbage.bin");
  f = fopen(p, "wb");
  fputs("this is not a certificate\x01\x02", f);
  fclose(f);
  EVP_PKEY_free(cakey);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  EVP_PKEY_free(key);
  X509_free(cert);
  X509_free(ca_cert);
  return system(cmd) == 0 ? 0 : -1;
}

static int load(const char *name, const char *password, int send_chain,
                enum mgcall_assertion_alg alg, mgcall_credential **out,
                char *msg, size_t n)
{
  char p[128];
  path_of(p, sizeof(p), name);
  return mgcall_credential_certificate("tenant1", "client1", p, password,
                                       send_chain, alg, out, msg, n);
}

static void test_load_errors(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  char msg[512];
  struct {
    const char *file, *password, *want;
  } cases[] = {
      {"missing.pem", NULL, "No such file"},
      {"garbage.bin", NULL, "neither a PEM nor a PKCS#12"},
      {"nokey.pem", NULL, "no private key"},
      {"expired.pem", NULL, "expired on"},
      {"future.pem", NULL, "not valid before"},
      {"mismatch.pem", NULL, "no certificate in the PEM file matches"},
      {"good.p12", "wrong", "wrong PKCS#12 password"},
      {"good.p12", NULL, "needs a password"},
      {"encrypted.pem", NULL, "no private key"},
      {"encrypted.pem", "bad", "wrong password"},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    msg[0] = '\0';
    assert_int_equal(load(cases[i].file, cases[i].password, 0, MGCALL_ALG_PS256,
                          &c, msg, sizeof(msg)),
                     MGCALL_E_AUTH);
    assert_null(c);
    if(!strstr(msg, cases[i].want))
      fail_msg("%s: '%s' lacks '%s'", cases[i].file, msg, cases[i].want);
    /* the message names the file */
    assert_non_null(strstr(msg, cases[i].file));
  }
}

/* Decode the assertion, verify it with the certificate, check its parts. */
static void check_assertion(mgcall_credential *c, const char *alg, int want_x5c)
{
  struct mgc_err err;
  const char *url = "https://login.example/tenant1/oauth2/v2.0/token";
  time_t now = time(NULL);
  char *jwt = mgc__client_assertion(c, url, now, &err);
  assert_non_null(jwt);
  json_t *h = NULL, *cl = NULL;
  EVP_PKEY *pub = X509_get_pubkey(cert);
  unsigned mask = !strcmp(alg, "PS256") ? MGC_JWT_PS256 : MGC_JWT_RS256;
  assert_int_equal(mgc__jwt_verify(jwt, pub, mask, &h, &cl, &err), 0);
  /* the other algorithm must not verify */
  json_t *h2 = NULL, *c2 = NULL;
  assert_int_equal(mgc__jwt_verify(jwt, pub, mask ^ 3u, &h2, &c2, &err), -1);
  EVP_PKEY_free(pub);
  assert_string_equal(json_string_value(json_object_get(h, "alg")), alg);
  assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
  unsigned char md[32];
  unsigned int mdlen = 0;
  X509_digest(cert, EVP_sha256(), md, &mdlen);
  char *want = mgc__b64url_encode(md, mdlen);
  assert_string_equal(json_string_value(json_object_get(h, "x5t#S256")), want);
  free(want);
  json_t *x5c = json_object_get(h, "x5c");
  if(want_x5c) {
    assert_int_equal(json_array_size(x5c), 2);
    /* x5c[0] is the DER of our certificate, standard base64 */
    const char *b64 = json_string_value(json_array_get(x5c, 0));
    unsigned char der[4096];
    int n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)strlen(b64));
    assert_true(n > 0);
    const unsigned char *p = der;
    X509 *back = d2i_X509(NULL, &p, n);
    assert_non_null(back);
    assert_int_equal(X509_cmp(back, cert), 0);
    X509_free(back);
  }
  else {
    assert_null(x5c);
  }
  assert_string_equal(json_string_value(json_object_get(cl, "aud")), url);
  assert_string_equal(json_string_value(json_object_get(cl, "iss")), "client1");
  assert_string_equal(json_string_value(json_object_get(cl, "sub")), "client1");
  const char *jti = json_string_value(json_object_get(cl, "jti"));
  assert_non_null(jti);
  assert_int_equal(strlen(jti), 36);
  assert_int_equal(jti[14], '4');
  assert_non_null(strchr("89ab", jti[19]));
  assert_int_equal(json_integer_value(json_object_get(cl, "nbf")), now);
  assert_int_equal(json_integer_value(json_object_get(cl, "iat")), now);
  assert_int_equal(json_integer_value(json_object_get(cl, "exp")), now + 600);
  /* a fresh jti each time */
  char *again = mgc__client_assertion(c, url, now, &err);
  json_t *cl2 = NULL;
  assert_int_equal(mgc__jwt_decode(again, NULL, &cl2, &err), 0);
  assert_string_not_equal(json_string_value(json_object_get(cl2, "jti")), jti);
  json_decref(cl2);
  free(again);
  json_decref(h);
  json_decref(cl);
  free(jwt);
}

static void test_pem_ps256(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  char msg[256];
  assert_int_equal(
      load("good.pem", NULL, 0, MGCALL_ALG_PS256, &c, msg, sizeof(msg)),
      MGCALL_OK);
  assert_string_equal(mgcall_credential_tenant_id(c), "tenant1");
  assert_string_equal(mgcall_credential_client_id(c), "client1");
  check_assertion(c, "PS256", 0);
  mgcall_credential_free(c);
}

static void test_pem_chain_rs256(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  char msg[256];
  assert_int_equal(
      load("chain.pem", NULL, 1, MGCALL_ALG_RS256, &c, msg, sizeof(msg)),
      MGCALL_OK);
  check_assertion(c, "RS256", 1);
  mgcall_credential_free(c);
}

static void test_encrypted_pem(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  char msg[256];
  assert_int_equal(load("encrypted.pem", "pem-pass", 0, MGCALL_ALG_PS256, &c,
                        msg, sizeof(msg)),
                   MGCALL_OK);
  check_assertion(c, "PS256", 0);
  mgcall_credential_free(c);
}

static void test_pkcs12(void **state)
{
  (void)state;
  mgcall_credential *c = NULL;
  char msg[256];
  assert_int_equal(
      load("good.p12", "pa55word", 1, MGCALL_ALG_PS256, &c, msg, sizeof(msg)),
      MGCALL_OK);
  check_assertion(c, "PS256", 1);
  mgcall_credential_free(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_errors),     cmocka_unit_test(test_pem_ps256),
      cmocka_unit_test(test_pem_chain_rs256), cmocka_unit_test(test_pkcs12),
      cmocka_unit_test(test_encrypted_pem),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
