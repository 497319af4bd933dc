/* SPDX-License-Identifier: MIT */
/* notify_sign.c - the notification key, its certificate, the callback
 * bearer tokens and the key documents. */
#include "notify_sign.h"

#include "b64url.h"
#include "identity.h"
#include "jwt.h"
#include "rsa_key.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 32

struct cached {
  char *app, *tenant, *authorization;
  int64_t signed_at;
};

struct emu_nsign {
  EVP_PKEY *key;
  char kid[40]; /* = x5t */
  char *x5c;    /* the certificate, DER in standard base64 */
  char *n, *e;  /* the public key, base64url */
  pthread_mutex_t lock;
  struct cached cache[CACHE_SLOTS];
};

static void set_err(char *err, size_t errlen, const char *msg)
{
  if(err && errlen)
    snprintf(err, errlen, "%s", msg);
}

/* A self-signed certificate that depends on the key only: the same key
 * gives the same DER bytes (RSA PKCS#1 v1.5 signatures are deterministic),
 * hence the same x5t and kid after a restart. */
static unsigned char *make_cert(EVP_PKEY *key, int *derlen)
{
  unsigned char *pub = NULL, *der = NULL;
  int publen = i2d_PUBKEY(key, &pub);
  X509 *x = X509_new();
  if(publen <= 0 || !x)
    goto out;
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(pub, (size_t)publen, md);
  uint64_t serial = 0;
  for(int i = 0; i < 7; i++) /* 56 bits: a positive INTEGER */
    serial = serial << 8 | md[i];
  X509_NAME *name = X509_get_subject_name(x);
  if(!X509_set_version(x, 2) ||
     !ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial ? serial : 1) ||
     !ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "20260101000000Z") ||
     !ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "20491231235959Z") ||
     !X509_NAME_add_entry_by_txt(
         name, "CN", MBSTRING_ASC,
         (const unsigned char *)"mgcall emulator notifications", -1, -1, 0) ||
     !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, key) ||
     !X509_sign(x, key, EVP_sha256()))
    goto out;
  *derlen = i2d_X509(x, &der);
  if(*derlen <= 0)
    der = NULL;
out:
  X509_free(x);
  OPENSSL_free(pub);
  ERR_clear_error();
  return der;
}

static int describe(struct emu_nsign *ns)
{
  int derlen = 0;
  unsigned char *der = make_cert(ns->key, &derlen);
  if(!der)
    return -1;
  unsigned char sha1[SHA_DIGEST_LENGTH];
  SHA1(der, (size_t)derlen, sha1);
  char *x5t = mgc__b64url_encode(sha1, sizeof(sha1));
  ns->x5c = malloc(((size_t)derlen + 2) / 3 * 4 + 1);
  if(ns->x5c)
    EVP_EncodeBlock((unsigned char *)ns->x5c, der, derlen);
  OPENSSL_free(der);
  if(x5t)
    snprintf(ns->kid, sizeof(ns->kid), "%s", x5t);
  free(x5t);
  ns->n = emu_identity_bn_b64url(ns->key, OSSL_PKEY_PARAM_RSA_N);
  ns->e = emu_identity_bn_b64url(ns->key, OSSL_PKEY_PARAM_RSA_E);
  return x5t && ns->x5c && ns->n && ns->e ? 0 : -1;
}

struct emu_nsign *emu_nsign_new(const char *key_pem_file, char *err,
                                size_t errlen)
{
  struct emu_nsign *ns = calloc(1, sizeof(*ns));
  if(!ns) {
    set_err(err, errlen, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&ns->lock, NULL);
  ns->key = key_pem_file ? emu_rsa_key_load("--notification-key", key_pem_file,
                                            err, errlen)
                         : EVP_RSA_gen(2048);
  ERR_clear_error();
  if(!ns->key) {
    if(!key_pem_file)
      set_err(err, errlen, "cannot make the notification key");
    emu_nsign_free(ns);
    return NULL;
  }
  if(describe(ns)) {
    set_err(err, errlen, "cannot make the notification key's certificate");
    emu_nsign_free(ns);
    return NULL;
  }
  return ns;
}

static void cached_clear(struct cached *c)
{
  free(c->app);
  free(c->tenant);
  free(c->authorization);
  memset(c, 0, sizeof(*c));
}

void emu_nsign_free(struct emu_nsign *ns)
{
  if(!ns)
    return;
  for(size_t i = 0; i < CACHE_SLOTS; i++)
    cached_clear(&ns->cache[i]);
  EVP_PKEY_free(ns->key);
  free(ns->x5c);
  free(ns->n);
  free(ns->e);
  pthread_mutex_destroy(&ns->lock);
  free(ns);
}

const char *emu_nsign_kid(const struct emu_nsign *ns)
{
  return ns->kid;
}

static char *sign(struct emu_nsign *ns, const char *app, const char *tenant,
                  int64_t now)
{
  json_t *header =
      json_pack("{s:s,s:s,s:s}", "typ", "JWT", "kid", ns->kid, "x5t", ns->kid);
  json_t *claims = json_pack(
      "{s:s,s:s,s:I,s:I,s:I,s:s}", "aud", app, "iss", EMU_NSIGN_ISSUER, "iat",
      (json_int_t)now, "nbf", (json_int_t)now, "exp",
      (json_int_t)(now + EMU_NSIGN_LIFETIME_S), "tid", tenant);
  char *jwt = header && claims
                  ? mgc__jwt_sign(header, claims, ns->key, MGC_JWT_RS256, NULL)
                  : NULL;
  json_decref(header);
  json_decref(claims);
  char *out = NULL;
  if(jwt && (out = malloc(strlen(jwt) + 8)))
    sprintf(out, "Bearer %s", jwt);
  free(jwt);
  return out;
}

char *emu_nsign_authorization(struct emu_nsign *ns, const char *app,
                              const char *tenant, int64_t now)
{
  if(!app)
    app = "";
  if(!tenant)
    tenant = "";
  pthread_mutex_lock(&ns->lock);
  struct cached *slot = &ns->cache[0];
  for(size_t i = 0; i < CACHE_SLOTS; i++) {
    struct cached *c = &ns->cache[i];
    if(c->app && !strcmp(c->app, app) && !strcmp(c->tenant, tenant)) {
      slot = c;
      break;
    }
    if(!c->app || c->signed_at < slot->signed_at)
      slot = c; /* an empty or the oldest slot */
  }
  if(slot->app && !strcmp(slot->app, app) && !strcmp(slot->tenant, tenant) &&
     now >= slot->signed_at && now - slot->signed_at < EMU_NSIGN_REUSE_S) {
    char *copy = strdup(slot->authorization);
    pthread_mutex_unlock(&ns->lock);
    return copy;
  }
  cached_clear(slot);
  char *auth = sign(ns, app, tenant, now);
  if(auth) {
    slot->app = strdup(app);
    slot->tenant = strdup(tenant);
    slot->authorization = strdup(auth);
    slot->signed_at = now;
    if(!slot->app || !slot->tenant || !slot->authorization)
      cached_clear(slot);
  }
  pthread_mutex_unlock(&ns->lock);
  return auth;
}

json_t *emu_nsign_jwks(const struct emu_nsign *ns)
{
  return json_pack("{s:[{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:s}]}", "keys",
                   "kty", "RSA", "use", "sig", "alg", "RS256", "kid", ns->kid,
                   "x5t", ns->kid, "n", ns->n, "e", ns->e, "x5c", ns->x5c,
                   "issuer", EMU_NSIGN_ISSUER);
}

json_t *emu_nsign_openid_config(const char *base_url)
{
  char jwks[600], authz[600];
  snprintf(jwks, sizeof(jwks), "%s/v1/keys", base_url);
  snprintf(authz, sizeof(authz), "%s/v1/authorize", base_url);
  return json_pack("{s:s,s:s,s:s,s:[s],s:[s]}", "issuer", EMU_NSIGN_ISSUER,
                   "authorization_endpoint", authz, "jwks_uri", jwks,
                   "id_token_signing_alg_values_supported", "RS256",
                   "token_endpoint_auth_methods_supported", "private_key_jwt");
}
