/* SPDX-License-Identifier: MIT */
/* test_jwt.c - base64url and JWS sign/verify/decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "b64url.h"
#include "jwt.h"

#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *key_a, *key_b;

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

static void test_b64url_vectors(void **state)
{
  (void)state;
  /* RFC 4648 test vectors, base64url without padding. */
  const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *enc[] = {"",       "Zg",      "Zm8",     "Zm9v",
                       "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  for(size_t i = 0; i < 7; i++) {
    char *e =
        mgc__b64url_encode((const unsigned char *)plain[i], strlen(plain[i]));
    assert_non_null(e);
    assert_string_equal(e, enc[i]);
    free(e);
    unsigned char *d;
    size_t dlen;
    assert_int_equal(mgc__b64url_decode(enc[i], strlen(enc[i]), &d, &dlen), 0);
    assert_int_equal(dlen, strlen(plain[i]));
    assert_memory_equal(d, plain[i], dlen);
    free(d);
  }
  /* URL alphabet: 0xfb 0xff -> "-_8" */
  const unsigned char bytes[] = {0xfb, 0xff};
  char *e = mgc__b64url_encode(bytes, 2);
  assert_string_equal(e, "-_8");
  free(e);
  unsigned char *d;
  size_t dlen;
  assert_int_equal(mgc__b64url_decode("-_8", 3, &d, &dlen), 0);
  assert_int_equal(dlen, 2);
  assert_memory_equal(d, bytes, 2);
  free(d);
  /* Padding is tolerated. */
  assert_int_equal(mgc__b64url_decode("Zg==", 4, &d, &dlen), 0);
  assert_int_equal(dlen, 1);
  free(d);
}

static void test_b64url_rejects(void **state)
{
  (void)state;
  const char *bad[] = {"Z",      "Zm9v+", "Zm9v/", "Zm 9",
                       "Zm\n9v", "a=b=",  "Zm9v!"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    unsigned char *d = (unsigned char *)"sentinel";
    size_t dlen = 99;
    assert_int_equal(mgc__b64url_decode(bad[i], strlen(bad[i]), &d, &dlen), -1);
    assert_null(d);
  }
}

static char *sign_sample(enum mgc_jwt_alg alg, EVP_PKEY *key)
{
  json_t *claims =
      json_pack("{s:s, s:i, s:[s]}", "aud", "https://graph.microsoft.com",
                "exp", 2000000000, "roles", "Calls.Initiate.All");
  json_t *hdr = json_pack("{s:s}", "typ", "JWT");
  struct mgc_err err;
  char *tok = mgc__jwt_sign(hdr, claims, key, alg, &err);
  json_decref(claims);
  json_decref(hdr);
  assert_non_null(tok);
  return tok;
}

static void test_sign_verify(void **state)
{
  (void)state;
  const enum mgc_jwt_alg algs[] = {MGC_JWT_RS256, MGC_JWT_PS256};
  for(size_t i = 0; i < 2; i++) {
    char *tok = sign_sample(algs[i], key_a);
    json_t *h = NULL, *c = NULL;
    struct mgc_err err;
    assert_int_equal(mgc__jwt_verify(tok, key_a, MGC_JWT_RS256 | MGC_JWT_PS256,
                                     &h, &c, &err),
                     0);
    assert_string_equal(json_string_value(json_object_get(h, "alg")),
                        mgc__jwt_alg_name(algs[i]));
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(c, "aud")),
                        "https://graph.microsoft.com");
    json_decref(h);
    json_decref(c);

    /* Another key does not verify it. */
    assert_int_equal(mgc__jwt_verify(tok, key_b, MGC_JWT_RS256 | MGC_JWT_PS256,
                                     NULL, NULL, &err),
                     -1);
    /* An algorithm outside the mask is refused. */
    unsigned other = algs[i] == MGC_JWT_RS256 ? MGC_JWT_PS256 : MGC_JWT_RS256;
    assert_int_equal(mgc__jwt_verify(tok, key_a, other, NULL, NULL, &err), -1);

    /* Flip one character in each part: never verifies. */
    size_t len = strlen(tok);
    size_t d1 = (size_t)(strchr(tok, '.') - tok);
    size_t d2 = (size_t)(strrchr(tok, '.') - tok);
    size_t spots[] = {d1 / 2, d1 + 1 + (d2 - d1) / 2, d2 + 1 + (len - d2) / 2};
    for(size_t s = 0; s < 3; s++) {
      char *bad = strdup(tok);
      bad[spots[s]] = bad[spots[s]] == 'A' ? 'B' : 'A';
      assert_int_equal(mgc__jwt_verify(bad, key_a,
                                       MGC_JWT_RS256 | MGC_JWT_PS256, NULL,
                                       NULL, &err),
                       -1);
      free(bad);
    }
    free(tok);
  }
}

static void test_decode(void **state)
{
  (void)state;
  char *tok = sign_sample(MGC_JWT_RS256, key_a);
  json_t *c = NULL;
  struct mgc_err err;
  assert_int_equal(mgc__jwt_decode(tok, NULL, &c, &err), 0);
  assert_int_equal(json_integer_value(json_object_get(c, "exp")), 2000000000);
  json_decref(c);
  free(tok);

  const char *bad[] = {
      "",         "abc",      "a.b",       "a.b.c.d",
      "!!.e30.x", "e30.!!.x", "WzFd.e30.x" /* header is [1], not an object */};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    json_t *h = (json_t *)1;
    assert_int_equal(mgc__jwt_decode(bad[i], &h, NULL, &err), -1);
    assert_null(h);
    assert_true(strlen(err.msg) > 0);
  }
  assert_int_equal(mgc__jwt_decode("e30.e30.", NULL, NULL, &err), 0);
  assert_int_equal(mgc__jwt_decode(NULL, NULL, NULL, &err), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_b64url_vectors),
      cmocka_unit_test(test_b64url_rejects),
      cmocka_unit_test(test_sign_verify),
      cmocka_unit_test(test_decode),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
