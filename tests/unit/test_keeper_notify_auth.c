/* SPDX-License-Identifier: MIT */
/* test_keeper_notify_auth.c - the notification bearer JWT check (kna_check)
 * and the key set / OpenID configuration parsers (keeper/jwks.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "b64url.h"
#include "jwt.h"
#include "keeper/jwks.h"
#include "keeper/notify_auth.h"

#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1800000000LL

static EVP_PKEY *key_a, *key_b;
static const char *const apps[] = {"app-1", "app-2"};

/* The key cache of these tests: kid "ka" is key_a, nothing else. */
static EVP_PKEY *lookup(void *ud, const char *kid)
{
  (void)ud;
  if(strcmp(kid, "ka"))
    return NULL;
  EVP_PKEY_up_ref(key_a);
  return key_a;
}

static int setup(void **state)
{
  (void)state;
  key_a = EVP_RSA_gen(2048);
  key_b = EVP_RSA_gen(2048);
  return key_a && key_b ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  EVP_PKEY_free(key_a);
  EVP_PKEY_free(key_b);
  return 0;
}

/* Valid claims, changed by the caller. */
static json_t *claims_ok(void)
{
  return json_pack("{s:s,s:s,s:I,s:I,s:I,s:s}", "aud", "app-2", "iss",
                   "https://api.botframework.com", "iat", (json_int_t)NOW,
                   "nbf", (json_int_t)NOW, "exp", (json_int_t)(NOW + 3600),
                   "tid", "tenant-x");
}

/* "Bearer " + a token signed by key with kid. */
static char *bearer(json_t *claims, EVP_PKEY *key, const char *kid,
                    enum mgc_jwt_alg alg)
{
  json_t *hdr =
      json_pack("{s:s,s:s,s:s}", "typ", "JWT", "kid", kid, "x5t", kid);
  struct mgc_err err;
  char *tok = mgc__jwt_sign(hdr, claims, key, alg, &err);
  json_decref(hdr);
  json_decref(claims);
  assert_non_null(tok);
  char *out = malloc(strlen(tok) + 8);
  sprintf(out, "Bearer %s", tok);
  free(tok);
  return out;
}

static enum kna_result check(const char *auth, char *why, size_t whylen)
{
  char tid[KS_ID_MAX + 1] = "sentinel";
  enum kna_result r =
      kna_check(auth, lookup, NULL, apps, 2, NOW, tid, why, whylen);
  if(r != KNA_OK)
    assert_string_equal(tid, "");
  return r;
}

static void expect_deny(char *auth, const char *reason)
{
  char why[128] = "";
  assert_int_equal(check(auth, why, sizeof(why)), KNA_DENY);
  assert_non_null(strstr(why, reason));
  /* the reason never carries the token */
  assert_null(strstr(why, auth + 7));
  free(auth);
}

static void test_valid(void **state)
{
  (void)state;
  const enum mgc_jwt_alg algs[] = {MGC_JWT_RS256, MGC_JWT_RS384, MGC_JWT_RS512};
  for(size_t i = 0; i < 3; i++) {
    char *auth = bearer(claims_ok(), key_a, "ka", algs[i]);
    char tid[KS_ID_MAX + 1], why[128];
    assert_int_equal(
        kna_check(auth, lookup, NULL, apps, 2, NOW, tid, why, sizeof(why)),
        KNA_OK);
    assert_string_equal(tid, "tenant-x");
    free(auth);
  }
  /* Graph's own issuer, aud as an array, 4 minutes past exp (skew) */
  json_t *c = claims_ok();
  json_object_set_new(c, "iss", json_string("https://graph.microsoft.com"));
  json_object_set_new(c, "aud", json_pack("[s,s]", "other", "app-1"));
  json_object_set_new(c, "exp", json_integer(NOW - 240));
  char *auth = bearer(c, key_a, "ka", MGC_JWT_RS256);
  char why[128];
  assert_int_equal(check(auth, why, sizeof(why)), KNA_OK);
  free(auth);
}

static void test_claims_refused(void **state)
{
  (void)state;
  json_t *c = claims_ok();
  json_object_set_new(c, "aud", json_string("app-3"));
  expect_deny(bearer(c, key_a, "ka", MGC_JWT_RS256), "aud");
  c = claims_ok();
  json_object_set_new(c, "aud", json_pack("[s]", "app-3"));
  expect_deny(bearer(c, key_a, "ka", MGC_JWT_RS256), "aud");
  c = claims_ok();
  json_object_set_new(c, "iss", json_string("https://evil.example"));
  expect_deny(bearer(c, key_a, "ka", MGC_JWT_RS256), "iss");
  c = claims_ok();
  json_object_del(c, "iss");
  expect_deny(bearer(c, key_a, "ka", MGC_JWT_RS256), "iss");
  c = claims_ok();
  json_object_set_new(c, "exp", json_integer(NOW - 301));
  expect_deny(bearer(c, key_a, "ka", MGC_JWT_RS256), "expired");
  c = claims_ok();
  json_object_del(c, "exp");
  expect_deny(bearer(c, key_a, "ka", MGC_JWT_RS256), "exp");
  c = claims_ok();
  json_object_set_new(c, "nbf", json_integer(NOW + 301));
  expect_deny(bearer(c, key_a, "ka", MGC_JWT_RS256), "nbf");
  c = claims_ok();
  json_object_del(c, "tid");
  expect_deny(bearer(c, key_a, "ka", MGC_JWT_RS256), "tid");
  c = claims_ok();
  json_object_set_new(c, "tid", json_string(""));
  expect_deny(bearer(c, key_a, "ka", MGC_JWT_RS256), "tid");
  c = claims_ok();
  json_object_set_new(c, "tid", json_integer(7));
  expect_deny(bearer(c, key_a, "ka", MGC_JWT_RS256), "tid");
  /* nbf 4 minutes ahead is within the skew */
  c = claims_ok();
  json_object_set_new(c, "nbf", json_integer(NOW + 240));
  char *auth = bearer(c, key_a, "ka", MGC_JWT_RS256);
  char why[128];
  assert_int_equal(check(auth, why, sizeof(why)), KNA_OK);
  free(auth);
}

static void test_signature_refused(void **state)
{
  (void)state;
  /* signed by another key under kid "ka" */
  expect_deny(bearer(claims_ok(), key_b, "ka", MGC_JWT_RS256), "signature");
  /* a claim changed after signing */
  char *auth = bearer(claims_ok(), key_a, "ka", MGC_JWT_RS256);
  char *dot = strchr(auth, '.');
  json_t *c = claims_ok();
  json_object_set_new(c, "aud", json_string("app-1"));
  json_object_set_new(c, "tid", json_string("tenant-evil"));
  char *text = json_dumps(c, JSON_COMPACT);
  char *enc = mgc__b64url_encode((unsigned char *)text, strlen(text));
  char *sig = strrchr(auth, '.');
  char *forged = malloc(strlen(auth) + strlen(enc) + 8);
  sprintf(forged, "%.*s.%s%s", (int)(dot - auth), auth, enc, sig);
  expect_deny(forged, "signature");
  free(text);
  free(enc);
  json_decref(c);
  /* one signature bit flipped */
  size_t n = strlen(auth);
  auth[n - 5] = auth[n - 5] == 'A' ? 'B' : 'A';
  expect_deny(auth, "signature");
  /* PS256 is not one of Graph's algorithms */
  expect_deny(bearer(claims_ok(), key_a, "ka", MGC_JWT_PS256), "alg");
}

static char *b64json(const char *json)
{
  return mgc__b64url_encode((const unsigned char *)json, strlen(json));
}

static void test_alg_attacks(void **state)
{
  (void)state;
  json_t *c = claims_ok();
  char *ctext = json_dumps(c, JSON_COMPACT);
  json_decref(c);
  char *c64 = b64json(ctext);
  free(ctext);
  /* alg none, empty signature */
  char *h64 = b64json("{\"alg\":\"none\",\"kid\":\"ka\",\"typ\":\"JWT\"}");
  char *auth = malloc(strlen(h64) + strlen(c64) + 16);
  sprintf(auth, "Bearer %s.%s.", h64, c64);
  expect_deny(auth, "alg");
  free(h64);
  /* no alg at all */
  h64 = b64json("{\"kid\":\"ka\"}");
  auth = malloc(strlen(h64) + strlen(c64) + 16);
  sprintf(auth, "Bearer %s.%s.", h64, c64);
  expect_deny(auth, "alg");
  free(h64);
  /* HS256 keyed with the public key (PEM and DER), the classic confusion */
  h64 = b64json("{\"alg\":\"HS256\",\"kid\":\"ka\",\"typ\":\"JWT\"}");
  BIO *bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key_a);
  char *pem;
  long pemlen = BIO_get_mem_data(bio, &pem);
  char input[4096];
  snprintf(input, sizeof(input), "%s.%s", h64, c64);
  unsigned char mac[32];
  unsigned maclen = 0;
  HMAC(EVP_sha256(), pem, (int)pemlen, (unsigned char *)input, strlen(input),
       mac, &maclen);
  BIO_free(bio);
  char *s64 = mgc__b64url_encode(mac, maclen);
  auth = malloc(strlen(input) + strlen(s64) + 16);
  sprintf(auth, "Bearer %s.%s", input, s64);
  expect_deny(auth, "alg");
  free(s64);
  free(h64);
  free(c64);
}

static void test_form_refused(void **state)
{
  (void)state;
  char why[128];
  assert_int_equal(check(NULL, why, sizeof(why)), KNA_DENY);
  assert_non_null(strstr(why, "no Authorization"));
  assert_int_equal(check("Basic YTpi", why, sizeof(why)), KNA_DENY);
  assert_int_equal(check("Bearer ", why, sizeof(why)), KNA_DENY);
  assert_int_equal(check("Bearer a.b.c", why, sizeof(why)), KNA_DENY);
  assert_int_equal(check("Bearer e30.e30.e30.e30", why, sizeof(why)), KNA_DENY);
  /* no kid */
  json_t *hdr = json_pack("{s:s}", "typ", "JWT");
  json_t *claims = claims_ok();
  char *tok = mgc__jwt_sign(hdr, claims, key_a, MGC_JWT_RS256, NULL);
  json_decref(hdr);
  json_decref(claims);
  char *auth = malloc(strlen(tok) + 8);
  sprintf(auth, "Bearer %s", tok);
  free(tok);
  expect_deny(auth, "kid");
}

static void test_unknown_kid(void **state)
{
  (void)state;
  char *auth = bearer(claims_ok(), key_a, "rotated", MGC_JWT_RS256);
  char why[128];
  assert_int_equal(check(auth, why, sizeof(why)), KNA_UNKNOWN_KID);
  free(auth);
}

/* ---- keeper/jwks.c parsers ---- */

static char *jwk_of(EVP_PKEY *key, const char *kid, const char *use)
{
  BIGNUM *n = NULL, *e = NULL;
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n);
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e);
  unsigned char nb[512], eb[8];
  int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
  char *n64 = mgc__b64url_encode(nb, (size_t)nl);
  char *e64 = mgc__b64url_encode(eb, (size_t)el);
  char *out = malloc(2048);
  snprintf(out, 2048,
           "{\"kty\":\"RSA\",\"use\":\"%s\",\"kid\":\"%s\",\"n\":\"%s\","
           "\"e\":\"%s\"}",
           use, kid, n64, e64);
  BN_free(n);
  BN_free(e);
  free(n64);
  free(e64);
  return out;
}

static char *x5c_of(EVP_PKEY *key)
{
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             (const unsigned char *)"t", -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_set_pubkey(x, key);
  X509_sign(x, key, EVP_sha256());
  unsigned char *der = NULL;
  int n = i2d_X509(x, &der);
  char *b64 = malloc((size_t)n * 2 + 4);
  EVP_EncodeBlock((unsigned char *)b64, der, n);
  OPENSSL_free(der);
  X509_free(x);
  return b64;
}

static void test_parse_keys(void **state)
{
  (void)state;
  char *a = jwk_of(key_a, "ka", "sig");
  char *b = jwk_of(key_b, "kb", "enc"); /* skipped: not for signatures */
  char *x = x5c_of(key_b);
  size_t cap = strlen(a) + strlen(b) + strlen(x) + 256;
  char *doc = malloc(cap);
  snprintf(doc, cap,
           "{\"keys\":[%s,%s,{\"kty\":\"RSA\",\"kid\":\"kx\",\"x5c\":[\"%s\"]},"
           "{\"kty\":\"EC\",\"kid\":\"ke\"},{\"kty\":\"RSA\",\"n\":\"AQAB\","
           "\"e\":\"AQAB\",\"kid\":\"small\"},{\"kty\":\"RSA\"},7]}",
           a, b, x);
  struct kjwks_key *keys;
  size_t n = 0;
  char why[128];
  assert_int_equal(
      kjwks_parse_keys(doc, strlen(doc), &keys, &n, why, sizeof(why)), 0);
  assert_int_equal(n, 2);
  assert_string_equal(keys[0].kid, "ka");
  assert_int_equal(EVP_PKEY_eq(keys[0].pkey, key_a), 1);
  assert_string_equal(keys[1].kid, "kx");
  assert_int_equal(EVP_PKEY_eq(keys[1].pkey, key_b), 1);
  kjwks_keys_free(keys, n);
  free(a);
  free(b);
  free(x);
  free(doc);
  const char *bad[] = {"", "[]", "{}", "{\"keys\":{}}", "nope"};
  for(size_t i = 0; i < 5; i++) {
    keys = (void *)1;
    assert_int_equal(
        kjwks_parse_keys(bad[i], strlen(bad[i]), &keys, &n, why, sizeof(why)),
        -1);
    assert_null(keys);
    assert_int_equal(n, 0);
  }
}

static void test_parse_openid(void **state)
{
  (void)state;
  char uri[256], why[128];
  const char *ok = "{\"issuer\":\"https://api.botframework.com\",\"jwks_uri\":"
                   "\"https://keys.example/v1/keys\"}";
  assert_int_equal(
      kjwks_parse_openid(ok, strlen(ok), uri, sizeof(uri), why, sizeof(why)),
      0);
  assert_string_equal(uri, "https://keys.example/v1/keys");
  const char *bad[] = {"{}", "{\"jwks_uri\":\"file:///etc/passwd\"}",
                       "{\"jwks_uri\":7}", "[1]",
                       "{\"jwks_uri\":\"http://a b\"}"};
  for(size_t i = 0; i < 5; i++)
    assert_int_equal(kjwks_parse_openid(bad[i], strlen(bad[i]), uri,
                                        sizeof(uri), why, sizeof(why)),
                     -1);
}

static void test_app_ids(void **state)
{
  (void)state;
  struct mgc_err err = {0};
  const char *bad[] = {"", ",", "a,,b", "a b", "a,"};
  for(size_t i = 0; i < 5; i++) {
    struct kna_config cfg = {bad[i], NULL, NULL, 0};
    assert_null(kna_new(&cfg, &err));
    assert_int_equal(err.code, MGCALL_E_USAGE);
  }
  struct kna_config bad_url = {"a", "ftp://x/", NULL, 0};
  assert_null(kna_new(&bad_url, &err));
  struct kna_config good = {"a,b", "http://127.0.0.1:9/x", NULL, 0};
  struct kna *na = kna_new(&good, &err);
  assert_non_null(na);
  kna_free(na); /* never started: no thread to join */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_claims_refused),
      cmocka_unit_test(test_signature_refused),
      cmocka_unit_test(test_alg_attacks),
      cmocka_unit_test(test_form_refused),
      cmocka_unit_test(test_unknown_kid),
      cmocka_unit_test(test_parse_keys),
      cmocka_unit_test(test_parse_openid),
      cmocka_unit_test(test_app_ids),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
