/* SPDX-License-Identifier: MIT */
/* assertion.c - build and sign the client assertion with lib/jwt.h. */
#include "assertion.h"

#include "cert.h"
#include "credential.h"
#include "jwt.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

int mgc__auth_uuid4(char *buf, size_t n)
{
  unsigned char r[16];
  if(n < 37 || RAND_bytes(r, sizeof(r)) != 1)
    return -1;
  r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
  r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
  snprintf(buf, n,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
           r[11], r[12], r[13], r[14], r[15]);
  return 0;
}

static json_t *x5c_array(const mgcall_credential *cred)
{
  json_t *a = json_array();
  if(!a)
    return NULL;
  char *leaf = mgc__cert_der_b64(cred->cert);
  if(!leaf || json_array_append_new(a, json_string(leaf))) {
    free(leaf);
    json_decref(a);
    return NULL;
  }
  free(leaf);
  int n = cred->chain ? sk_X509_num(cred->chain) : 0;
  for(int i = 0; i < n; i++) {
    char *c = mgc__cert_der_b64(sk_X509_value(cred->chain, i));
    if(!c || json_array_append_new(a, json_string(c))) {
      free(c);
      json_decref(a);
      return NULL;
    }
    free(c);
  }
  return a;
}

char *mgc__client_assertion(const mgcall_credential *cred,
                            const char *token_url, time_t now,
                            struct mgc_err *err)
{
  if(!cred || cred->kind != MGCALL_CRED_CERTIFICATE || !token_url) {
    mgc__err_set(err, MGCALL_E_INTERNAL, "assertion: not a certificate");
    return NULL;
  }
  char jti[40];
  if(mgc__auth_uuid4(jti, sizeof(jti))) {
    mgc__err_set(err, MGCALL_E_INTERNAL, "assertion: no randomness");
    return NULL;
  }
  json_t *header =
      json_pack("{s:s, s:s}", "typ", "JWT", "x5t#S256", cred->x5t_s256);
  json_t *claims =
      json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", token_url, "iss",
                cred->client_id, "sub", cred->client_id, "jti", jti, "nbf",
                (json_int_t)now, "iat", (json_int_t)now, "exp",
                (json_int_t)(now + MGC_ASSERTION_LIFETIME));
  char *jwt = NULL;
  if(header && claims && cred->send_chain) {
    json_t *x5c = x5c_array(cred);
    if(!x5c || json_object_set_new(header, "x5c", x5c)) {
      json_decref(header);
      header = NULL;
    }
  }
  if(!header || !claims)
    mgc__err_set(err, MGCALL_E_INTERNAL, "assertion: out of memory");
  else
    jwt = mgc__jwt_sign(
        header, claims, cred->key,
        cred->alg == MGCALL_ALG_RS256 ? MGC_JWT_RS256 : MGC_JWT_PS256, err);
  json_decref(header);
  json_decref(claims);
  if(!jwt && err && err->code == MGCALL_E_INTERNAL)
    err->code = MGCALL_E_AUTH;
  return jwt;
}
