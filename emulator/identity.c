/* SPDX-License-Identifier: MIT */
/* identity.c - the emulator's identity service: set-up, registered clients
 * (secret, certificate) and managed identities, the signing key and its JWKS
 * (no I/O besides reading registration files at set-up).  Tokens:
 * identity_token.c (issuing, the token endpoint, IMDS) and
 * identity_verify.c. */
#include "identity_int.h"

#include "b64url.h"
#include "rsa_key.h"

#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t errlen, const char *msg, const char *arg)
{
  if(err && errlen)
    snprintf(err, errlen, "%s%s%s", msg, arg ? ": " : "", arg ? arg : "");
}

/* ---- set-up ----------------------------------------------------------------
 */

static int kid_from_key(struct emu_identity *id)
{
  unsigned char *der = NULL;
  int n = i2d_PUBKEY(id->key, &der);
  if(n <= 0)
    return -1;
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(der, (size_t)n, md);
  OPENSSL_free(der);
  char *b = mgc__b64url_encode(md, 20);
  if(!b)
    return -1;
  snprintf(id->kid, sizeof(id->kid), "%s", b);
  free(b);
  return 0;
}

static json_t *parse_roles(const char *roles)
{
  json_t *arr = json_array();
  if(!roles)
    roles = "Calls.Initiate.All";
  const char *p = roles;
  while(arr && *p) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    while(n && isspace((unsigned char)*p)) {
      p++;
      n--;
    }
    while(n && isspace((unsigned char)p[n - 1]))
      n--;
    if(n)
      json_array_append_new(arr, json_stringn(p, n));
    p = comma ? comma + 1 : p + strlen(p);
  }
  return arr;
}

struct emu_identity *emu_identity_new(const struct emu_identity_config *cfg,
                                      char *err, size_t errlen)
{
  struct emu_identity *id = calloc(1, sizeof(*id));
  if(!id) {
    set_err(err, errlen, "out of memory", NULL);
    return NULL;
  }
  pthread_mutex_init(&id->cache_lock, NULL);
  id->lifetime = cfg->token_lifetime_s > 0 ? cfg->token_lifetime_s : 3600;
  id->roles = parse_roles(cfg->roles);
  if(cfg->key_file)
    id->key = emu_rsa_key_load("--token-key", cfg->key_file, err, errlen);
  else if(cfg->key_pem) {
    BIO *bio = BIO_new_mem_buf(cfg->key_pem, -1);
    id->key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
  }
  else
    id->key = EVP_RSA_gen(2048);
  ERR_clear_error();
  if(!id->key && cfg->key_file) {
    emu_identity_free(id);
    return NULL;
  }
  if(!id->key || !id->roles || kid_from_key(id)) {
    set_err(err, errlen, "cannot make the token signing key", NULL);
    emu_identity_free(id);
    return NULL;
  }
  return id;
}

void emu_identity_free(struct emu_identity *id)
{
  if(!id)
    return;
  for(size_t i = 0; i < id->nclients; i++) {
    free(id->clients[i].id);
    if(id->clients[i].secret) {
      OPENSSL_cleanse(id->clients[i].secret, strlen(id->clients[i].secret));
      free(id->clients[i].secret);
    }
    for(size_t j = 0; j < id->clients[i].ncerts; j++)
      EVP_PKEY_free(id->clients[i].certs[j].key);
  }
  for(size_t i = 0; i < id->nmanaged; i++) {
    free(id->managed[i].id);
    free(id->managed[i].tenant);
  }
  for(size_t i = 0; i < VERIFY_CACHE; i++)
    free(id->cache[i].token);
  pthread_mutex_destroy(&id->cache_lock);
  json_decref(id->roles);
  EVP_PKEY_free(id->key);
  free(id);
}

int emu_identity_valid_id(const char *s, size_t n)
{
  if(!n || n > MAX_ID_LEN)
    return 0;
  for(size_t i = 0; i < n; i++)
    if(!isalnum((unsigned char)s[i]) && !strchr("-._~", s[i]))
      return 0;
  return 1;
}

struct client *emu_identity_find_client(struct emu_identity *id,
                                        const char *cid)
{
  for(size_t i = 0; i < id->nclients; i++)
    if(!strcmp(id->clients[i].id, cid))
      return &id->clients[i];
  return NULL;
}

static struct client *client_for_spec(struct emu_identity *id, const char *spec,
                                      const char **rest, char *err,
                                      size_t errlen)
{
  const char *colon = strchr(spec, ':');
  if(!colon || !emu_identity_valid_id(spec, (size_t)(colon - spec))) {
    set_err(err, errlen,
            "expected ID:VALUE with a client id of letters, "
            "digits, '-', '.', '_' or '~'",
            NULL);
    return NULL;
  }
  *rest = colon + 1;
  char cid[MAX_ID_LEN + 1];
  snprintf(cid, sizeof(cid), "%.*s", (int)(colon - spec), spec);
  struct client *c = emu_identity_find_client(id, cid);
  if(c)
    return c;
  if(id->nclients == MAX_CLIENTS) {
    set_err(err, errlen, "too many clients", NULL);
    return NULL;
  }
  c = &id->clients[id->nclients];
  memset(c, 0, sizeof(*c));
  c->id = strdup(cid);
  if(!c->id) {
    set_err(err, errlen, "out of memory", NULL);
    return NULL;
  }
  id->nclients++;
  return c;
}

int emu_identity_add_secret(struct emu_identity *id, const char *spec,
                            char *err, size_t errlen)
{
  const char *value;
  struct client *c = client_for_spec(id, spec, &value, err, errlen);
  if(!c)
    return -1;
  char buf[1024];
  if(value[0] == '@') {
    FILE *f = fopen(value + 1, "r");
    if(!f) {
      set_err(err, errlen, "cannot read the secret file", value + 1);
      return -1;
    }
    if(!fgets(buf, sizeof(buf), f))
      buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    value = buf;
  }
  if(!*value) {
    set_err(err, errlen, "empty client secret", NULL);
    return -1;
  }
  free(c->secret);
  c->secret = strdup(value);
  OPENSSL_cleanse(buf, sizeof(buf));
  if(!c->secret) {
    set_err(err, errlen, "out of memory", NULL);
    return -1;
  }
  return 0;
}

int emu_identity_add_cert(struct emu_identity *id, const char *spec, char *err,
                          size_t errlen)
{
  const char *path;
  struct client *c = client_for_spec(id, spec, &path, err, errlen);
  if(!c)
    return -1;
  if(c->ncerts == sizeof(c->certs) / sizeof(c->certs[0])) {
    set_err(err, errlen, "too many certificates for one client", NULL);
    return -1;
  }
  FILE *f = fopen(path, "r");
  if(!f) {
    set_err(err, errlen, "cannot read the certificate", path);
    return -1;
  }
  X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  ERR_clear_error();
  if(!x) {
    set_err(err, errlen, "no PEM certificate in", path);
    return -1;
  }
  struct cert *ct = &c->certs[c->ncerts];
  unsigned char *der = NULL;
  int n = i2d_X509(x, &der);
  ct->key = X509_get_pubkey(x);
  X509_free(x);
  if(n <= 0 || !ct->key || EVP_PKEY_get_base_id(ct->key) != EVP_PKEY_RSA) {
    OPENSSL_free(der);
    EVP_PKEY_free(ct->key);
    ct->key = NULL;
    set_err(err, errlen, "certificate without an RSA key", path);
    return -1;
  }
  SHA1(der, (size_t)n, ct->sha1);
  SHA256(der, (size_t)n, ct->sha256);
  OPENSSL_free(der);
  c->ncerts++;
  return 0;
}

int emu_identity_add_managed(struct emu_identity *id, const char *spec,
                             char *err, size_t errlen)
{
  const char *at = strchr(spec, '@');
  size_t n = at ? (size_t)(at - spec) : strlen(spec);
  const char *tenant = at ? at + 1 : EMU_DEFAULT_MI_TENANT;
  if(!emu_identity_valid_id(spec, n) ||
     !emu_identity_valid_id(tenant, strlen(tenant))) {
    set_err(err, errlen, "expected CLIENT_ID or CLIENT_ID@TENANT", NULL);
    return -1;
  }
  if(id->nmanaged == MAX_CLIENTS) {
    set_err(err, errlen, "too many managed identities", NULL);
    return -1;
  }
  struct managed *m = &id->managed[id->nmanaged];
  m->id = strndup(spec, n);
  m->tenant = strdup(tenant);
  if(!m->id || !m->tenant) {
    free(m->id);
    free(m->tenant);
    set_err(err, errlen, "out of memory", NULL);
    return -1;
  }
  id->nmanaged++;
  return 0;
}

size_t emu_identity_client_count(const struct emu_identity *id)
{
  return id->nclients;
}

const char *emu_identity_kid(const struct emu_identity *id)
{
  return id->kid;
}

char *emu_identity_key_pem(const struct emu_identity *id)
{
  BIO *bio = BIO_new(BIO_s_mem());
  char *out = NULL;
  if(bio && PEM_write_bio_PrivateKey(bio, id->key, NULL, NULL, 0, NULL, NULL)) {
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    out = n > 0 ? strndup(p, (size_t)n) : NULL;
  }
  BIO_free(bio);
  return out;
}

char *emu_identity_bn_b64url(const EVP_PKEY *key, const char *name)
{
  BIGNUM *bn = NULL;
  if(!EVP_PKEY_get_bn_param(key, name, &bn))
    return NULL;
  int n = BN_num_bytes(bn);
  unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
  char *out = NULL;
  if(buf) {
    BN_bn2bin(bn, buf);
    out = mgc__b64url_encode(buf, (size_t)n);
  }
  free(buf);
  BN_free(bn);
  return out;
}

json_t *emu_identity_jwks(const struct emu_identity *id)
{
  char *n = emu_identity_bn_b64url(id->key, OSSL_PKEY_PARAM_RSA_N);
  char *e = emu_identity_bn_b64url(id->key, OSSL_PKEY_PARAM_RSA_E);
  json_t *doc = NULL;
  if(n && e)
    doc = json_pack("{s:[{s:s,s:s,s:s,s:s,s:s,s:s,s:s}]}", "keys", "kty", "RSA",
                    "use", "sig", "alg", "RS256", "kid", id->kid, "x5t",
                    id->kid, "n", n, "e", e);
  free(n);
  free(e);
  return doc;
}
