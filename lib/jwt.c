/* SPDX-License-Identifier: MIT */
/* jwt.c - compact JWS sign/verify (RS256/384/512, PS256) with OpenSSL and
 * jansson. */
#include "jwt.h"

#include "b64url.h"

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

const char *mgc__jwt_alg_name(enum mgc_jwt_alg alg)
{
  switch(alg) {
  case MGC_JWT_RS256:
    return "RS256";
  case MGC_JWT_PS256:
    return "PS256";
  case MGC_JWT_RS384:
    return "RS384";
  case MGC_JWT_RS512:
    return "RS512";
  }
  return NULL;
}

static int alg_from_name(const char *name)
{
  static const enum mgc_jwt_alg all[] = {MGC_JWT_RS256, MGC_JWT_PS256,
                                         MGC_JWT_RS384, MGC_JWT_RS512};
  for(size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++)
    if(!strcmp(name, mgc__jwt_alg_name(all[i])))
      return (int)all[i];
  return 0;
}

static const EVP_MD *digest_of(enum mgc_jwt_alg alg)
{
  return alg == MGC_JWT_RS384   ? EVP_sha384()
         : alg == MGC_JWT_RS512 ? EVP_sha512()
                                : EVP_sha256();
}

/* Set the padding of a digest-sign/verify context for alg. */
static int set_padding(EVP_PKEY_CTX *pctx, enum mgc_jwt_alg alg, int verify)
{
  if(alg != MGC_JWT_PS256)
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 ? 0 : -1;
  if(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0)
    return -1;
  /* RFC 7518 3.5: the salt is as long as the hash.  When verifying, accept
   * any salt length so tokens from other signers still verify. */
  int salt = verify ? RSA_PSS_SALTLEN_AUTO : RSA_PSS_SALTLEN_DIGEST;
  return EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) > 0 ? 0 : -1;
}

static char *encode_json(const json_t *obj)
{
  char *text = json_dumps(obj, JSON_COMPACT);
  if(!text)
    return NULL;
  char *enc = mgc__b64url_encode((const unsigned char *)text, strlen(text));
  free(text);
  return enc;
}

char *mgc__jwt_sign(const json_t *header, const json_t *claims, EVP_PKEY *key,
                    enum mgc_jwt_alg alg, struct mgc_err *err)
{
  char *result = NULL, *h64 = NULL, *c64 = NULL, *s64 = NULL, *input = NULL;
  unsigned char *sig = NULL;
  EVP_MD_CTX *md = NULL;
  json_t *hdr = header ? json_deep_copy(header) : json_object();

  if(!hdr || !json_is_object(hdr) || !json_is_object(claims) || !key ||
     !mgc__jwt_alg_name(alg)) {
    mgc__err_set(err, MGCALL_E_INTERNAL, "jwt: bad arguments to sign");
    goto out;
  }
  json_object_set_new(hdr, "alg", json_string(mgc__jwt_alg_name(alg)));
  h64 = encode_json(hdr);
  c64 = encode_json(claims);
  if(!h64 || !c64)
    goto nomem;
  size_t inlen = strlen(h64) + 1 + strlen(c64);
  input = malloc(inlen + 1);
  if(!input)
    goto nomem;
  snprintf(input, inlen + 1, "%s.%s", h64, c64);

  md = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  size_t siglen = 0;
  if(!md || EVP_DigestSignInit(md, &pctx, digest_of(alg), NULL, key) != 1 ||
     set_padding(pctx, alg, 0) ||
     EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, inlen) !=
         1) {
    mgc__err_set(err, MGCALL_E_INTERNAL,
                 "jwt: cannot sign with this key (RSA key required)");
    goto out;
  }
  sig = malloc(siglen);
  if(!sig)
    goto nomem;
  if(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, inlen) !=
     1) {
    mgc__err_set(err, MGCALL_E_INTERNAL, "jwt: signing failed");
    goto out;
  }
  s64 = mgc__b64url_encode(sig, siglen);
  if(!s64)
    goto nomem;
  size_t total = inlen + 1 + strlen(s64) + 1;
  result = malloc(total);
  if(!result)
    goto nomem;
  snprintf(result, total, "%s.%s", input, s64);
  goto out;
nomem:
  mgc__err_set(err, MGCALL_E_INTERNAL, "jwt: out of memory");
out:
  ERR_clear_error();
  json_decref(hdr);
  EVP_MD_CTX_free(md);
  free(h64);
  free(c64);
  free(s64);
  free(sig);
  free(input);
  return result;
}

/* Decode one base64url part holding a JSON object. */
static json_t *decode_part(const char *part, size_t len, const char *what,
                           struct mgc_err *err)
{
  unsigned char *raw = NULL;
  size_t rawlen = 0;
  if(mgc__b64url_decode(part, len, &raw, &rawlen)) {
    mgc__err_set(err, MGCALL_E_USAGE, "jwt: %s is not base64url", what);
    return NULL;
  }
  json_error_t jerr;
  json_t *obj =
      json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
  free(raw);
  if(!obj || !json_is_object(obj)) {
    json_decref(obj);
    mgc__err_set(err, MGCALL_E_USAGE, "jwt: %s is not a JSON object", what);
    return NULL;
  }
  return obj;
}

struct parts {
  const char *p[3];
  size_t len[3];
};

static int split(const char *token, struct parts *pt, struct mgc_err *err)
{
  size_t n = strnlen(token, MGC_JWT_MAX_LEN + 1);
  if(n > MGC_JWT_MAX_LEN)
    return mgc__err_set(err, MGCALL_E_USAGE, "jwt: token too long"), -1;
  const char *d1 = memchr(token, '.', n);
  const char *d2 =
      d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token)) : NULL;
  if(!d1 || !d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token)))
    return mgc__err_set(err, MGCALL_E_USAGE,
                        "jwt: not a compact JWS (three dot-separated parts)"),
           -1;
  pt->p[0] = token;
  pt->len[0] = (size_t)(d1 - token);
  pt->p[1] = d1 + 1;
  pt->len[1] = (size_t)(d2 - d1 - 1);
  pt->p[2] = d2 + 1;
  pt->len[2] = n - (size_t)(d2 + 1 - token);
  return 0;
}

int mgc__jwt_decode(const char *token, json_t **header, json_t **claims,
                    struct mgc_err *err)
{
  struct parts pt;
  if(header)
    *header = NULL;
  if(claims)
    *claims = NULL;
  if(!token || split(token, &pt, err))
    return token ? -1
                 : (mgc__err_set(err, MGCALL_E_USAGE, "jwt: no token"), -1);
  json_t *h = decode_part(pt.p[0], pt.len[0], "header", err);
  if(!h)
    return -1;
  json_t *c = decode_part(pt.p[1], pt.len[1], "claims", err);
  if(!c) {
    json_decref(h);
    return -1;
  }
  if(header)
    *header = h;
  else
    json_decref(h);
  if(claims)
    *claims = c;
  else
    json_decref(c);
  return 0;
}

int mgc__jwt_verify(const char *token, EVP_PKEY *key, unsigned alg_mask,
                    json_t **header, json_t **claims, struct mgc_err *err)
{
  json_t *h = NULL, *c = NULL;
  struct parts pt;
  unsigned char *sig = NULL;
  size_t siglen = 0;
  EVP_MD_CTX *md = NULL;
  int rc = -1;

  if(header)
    *header = NULL;
  if(claims)
    *claims = NULL;
  if(mgc__jwt_decode(token, &h, &c, err) || split(token, &pt, err))
    goto out;
  int alg = alg_from_name(json_string_value(json_object_get(h, "alg")));
  if(!alg || !((unsigned)alg & alg_mask)) {
    mgc__err_set(err, MGCALL_E_USAGE, "jwt: algorithm not accepted");
    goto out;
  }
  if(mgc__b64url_decode(pt.p[2], pt.len[2], &sig, &siglen) || !siglen) {
    mgc__err_set(err, MGCALL_E_USAGE, "jwt: signature is not base64url");
    goto out;
  }
  md = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  size_t inlen = pt.len[0] + 1 + pt.len[1];
  if(!md ||
     EVP_DigestVerifyInit(md, &pctx, digest_of((enum mgc_jwt_alg)alg), NULL,
                          key) != 1 ||
     set_padding(pctx, (enum mgc_jwt_alg)alg, 1)) {
    mgc__err_set(err, MGCALL_E_INTERNAL, "jwt: cannot verify with this key");
    goto out;
  }
  if(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)token, inlen) !=
     1) {
    mgc__err_set(err, MGCALL_E_USAGE, "jwt: signature does not verify");
    goto out;
  }
  rc = 0;
  if(header) {
    *header = h;
    h = NULL;
  }
  if(claims) {
    *claims = c;
    c = NULL;
  }
out:
  ERR_clear_error(); /* leave no OpenSSL errors for the next caller */
  json_decref(h);
  json_decref(c);
  free(sig);
  EVP_MD_CTX_free(md);
  return rc;
}
