/* SPDX-License-Identifier: MIT */
/* identity.c - clients, the signing key, access tokens, token endpoint and
 * IMDS logic (no I/O besides reading registration files at set-up). */
#include "identity.h"

#include "b64url.h"
#include "calls.h"
#include "graph_json.h"
#include "jwt.h"

#include <ctype.h>
#include <stdarg.h>
#include <strings.h>
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
#include <time.h>

#define MAX_CLIENTS 256
#define MAX_ID_LEN 127
#define VERIFY_CACHE 1024

struct client {
  char *id;
  char *secret; /* NULL: no secret registered */
  struct cert {
    EVP_PKEY *key;
    unsigned char sha1[SHA_DIGEST_LENGTH];
    unsigned char sha256[SHA256_DIGEST_LENGTH];
  } certs[4];
  size_t ncerts;
};

struct managed {
  char *id;
  char *tenant;
};

/* A verified token, remembered so repeated requests skip the RSA check. */
struct cached {
  uint64_t hash;
  char *token;
  struct emu_principal who;
  char aud[256];
};

struct emu_identity {
  EVP_PKEY *key;
  char kid[64];
  int64_t lifetime;
  json_t *roles;
  struct client clients[MAX_CLIENTS];
  size_t nclients;
  struct managed managed[MAX_CLIENTS];
  size_t nmanaged;
  pthread_mutex_t cache_lock;
  struct cached cache[VERIFY_CACHE];
};

static const char *const graph_resources[] = {
    "https://graph.microsoft.com", "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn"};
static const char graph_app_id[] = "00000003-0000-0000-c000-000000000000";

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
  if(cfg->key_pem) {
    BIO *bio = BIO_new_mem_buf(cfg->key_pem, -1);
    id->key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
  }
  else
    id->key = EVP_RSA_gen(2048);
  ERR_clear_error();
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

static int valid_id(const char *s, size_t n)
{
  if(!n || n > MAX_ID_LEN)
    return 0;
  for(size_t i = 0; i < n; i++)
    if(!isalnum((unsigned char)s[i]) && !strchr("-._~", s[i]))
      return 0;
  return 1;
}

static struct client *find_client(struct emu_identity *id, const char *cid)
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
  if(!colon || !valid_id(spec, (size_t)(colon - spec))) {
    set_err(err, errlen,
            "expected ID:VALUE with a client id of letters, "
            "digits, '-', '.', '_' or '~'",
            NULL);
    return NULL;
  }
  *rest = colon + 1;
  char cid[MAX_ID_LEN + 1];
  snprintf(cid, sizeof(cid), "%.*s", (int)(colon - spec), spec);
  struct client *c = find_client(id, cid);
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
  if(!valid_id(spec, n) || !valid_id(tenant, strlen(tenant))) {
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

/* ---- tokens ---------------------------------------------------------------
 */

static void derived_uuid(const char *a, const char *b, char out[37])
{
  unsigned char md[SHA256_DIGEST_LENGTH];
  size_t la = strlen(a), lb = strlen(b);
  char *buf = malloc(la + lb + 2);
  if(!buf) {
    memset(md, 0, sizeof(md));
  }
  else {
    snprintf(buf, la + lb + 2, "%s\n%s", a, b);
    SHA256((const unsigned char *)buf, la + lb + 1, md);
    free(buf);
  }
  md[6] = (unsigned char)((md[6] & 0x0F) | 0x50);
  md[8] = (unsigned char)((md[8] & 0x3F) | 0x80);
  emu_uuid_format(md, out);
}

char *emu_identity_issue(struct emu_identity *id, const char *tenant,
                         const char *app, const char *aud, const char *acr,
                         int64_t now, int64_t *expires_at)
{
  char iss[256], oid[37], uti[37];
  snprintf(iss, sizeof(iss), "https://sts.windows.net/%s/", tenant);
  derived_uuid(tenant, app, oid);
  emu_uuid_new(uti);
  int64_t exp = now + id->lifetime;
  json_t *claims = json_pack(
      "{s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:s,s:s,s:s}", "aud",
      aud, "iss", iss, "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
      (json_int_t)exp, "appid", app, "appidacr", acr, "idp", iss, "idtyp",
      "app", "oid", oid, "roles", id->roles, "sub", oid, "tid", tenant, "uti",
      uti, "ver", "1.0");
  json_t *header =
      json_pack("{s:s,s:s,s:s}", "typ", "JWT", "kid", id->kid, "x5t", id->kid);
  char *token = NULL;
  if(claims && header)
    token = mgc__jwt_sign(header, claims, id->key, MGC_JWT_RS256, NULL);
  json_decref(claims);
  json_decref(header);
  if(expires_at)
    *expires_at = exp;
  return token;
}

static int has_suffix(const char *s, const char *suffix)
{
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

int emu_scope_audience(const char *scope, const char *base_url, int is_resource,
                       char *aud, size_t audlen)
{
  char res[512];
  size_t n = strlen(scope);
  if(!is_resource) {
    if(!has_suffix(scope, "/.default"))
      return -1;
    n -= strlen("/.default");
  }
  if(n >= sizeof(res))
    return -1;
  memcpy(res, scope, n);
  res[n] = '\0';
  if(n && res[n - 1] == '/')
    res[--n] = '\0';
  const char *found = NULL;
  for(size_t i = 0; i < sizeof(graph_resources) / sizeof(*graph_resources); i++)
    if(!strcmp(res, graph_resources[i]))
      found = graph_resources[i];
  if(!strcmp(res, graph_app_id))
    found = graph_resources[0];
  if(!found && base_url && !strcmp(res, base_url))
    found = base_url;
  if(!found || strlen(found) >= audlen)
    return -1;
  snprintf(aud, audlen, "%s", found);
  return 0;
}

static void format_timestamp(int64_t now, char *buf, size_t len)
{
  time_t t = (time_t)now;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm);
}

json_t *emu_aad_error(const char *error, long code, const char *message,
                      const char *correlation, int64_t now)
{
  char trace[37], corr[37], ts[32], uri[128];
  emu_uuid_new(trace);
  if(!correlation || !*correlation || strlen(correlation) > 36) {
    emu_uuid_new(corr);
    correlation = corr;
  }
  format_timestamp(now, ts, sizeof(ts));
  snprintf(uri, sizeof(uri), "https://login.microsoftonline.com/error?code=%ld",
           code);
  size_t dlen = strlen(message) + 256;
  char *desc = malloc(dlen);
  if(!desc)
    return NULL;
  snprintf(desc, dlen,
           "AADSTS%ld: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\n"
           "Timestamp: %s",
           code, message, trace, correlation, ts);
  /* message may quote request bytes (a tenant, a client id) */
  json_t *body =
      json_pack("{s:s,s:o,s:[I],s:s,s:s,s:s,s:s}", "error", error,
                "error_description", emu_json_text(desc, strlen(desc)),
                "error_codes", (json_int_t)code, "timestamp", ts, "trace_id",
                trace, "correlation_id", correlation, "error_uri", uri);
  free(desc);
  return body;
}

static void fail(const struct emu_token_request *req,
                 struct emu_token_response *out, int status, const char *error,
                 long code, const char *fmt, ...) MGC_PRINTF(6, 7);

static void fail(const struct emu_token_request *req,
                 struct emu_token_response *out, int status, const char *error,
                 long code, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  out->status = status;
  out->body = emu_aad_error(error, code, msg, req->correlation, req->now);
  if(!out->body)
    out->status = 500;
}

static int consttime_eq(const char *a, const char *b)
{
  size_t n = strlen(a), m = strlen(b);
  unsigned char diff = (unsigned char)(n != m);
  for(size_t i = 0; i < n; i++)
    diff |= (unsigned char)(a[i] ^ b[m ? i % m : 0]);
  return diff == 0;
}

static int valid_tenant(const char *t)
{
  return t && valid_id(t, strlen(t));
}

/* Check a client assertion; on failure fills out and returns -1. */
static int check_assertion(struct emu_identity *id,
                           const struct emu_token_request *req, const char *cid,
                           const char *assertion,
                           struct emu_token_response *out)
{
  json_t *header = NULL, *claims = NULL;
  int rc = -1;
  if(mgc__jwt_decode(assertion, &header, &claims, NULL)) {
    fail(req, out, 400, "invalid_request", 50027,
         "JWT token is invalid or malformed.");
    return -1;
  }
  const char *alg = json_string_value(json_object_get(header, "alg"));
  if(!alg || (strcmp(alg, "RS256") && strcmp(alg, "PS256"))) {
    fail(req, out, 401, "invalid_client", 5002738,
         "Invalid JWT token. '%s' is not a supported signature algorithm.",
         alg ? alg : "(none)");
    goto out;
  }
  const char *iss = json_string_value(json_object_get(claims, "iss"));
  const char *sub = json_string_value(json_object_get(claims, "sub"));
  if(!cid)
    cid = sub;
  if(!cid || !iss || !sub || strcmp(iss, cid) || strcmp(sub, cid)) {
    fail(req, out, 401, "invalid_client", 700021,
         "Client assertion application identifier doesn't match "
         "'client_id' parameter. Review the documentation at "
         "https://learn.microsoft.com/entra/identity-platform/"
         "certificate-credentials .");
    goto out;
  }
  snprintf(out->app, sizeof(out->app), "%s", cid);
  struct client *c = find_client(id, cid);
  if(!c && id->nclients) {
    fail(req, out, 400, "unauthorized_client", 700016,
         "Application with identifier '%s' was not found in the directory "
         "'%s'.",
         cid, req->tenant);
    goto out;
  }
  const char *t256 = json_string_value(json_object_get(header, "x5t#S256"));
  const char *t1 = json_string_value(json_object_get(header, "x5t"));
  struct cert *match = NULL;
  for(size_t i = 0; c && i < c->ncerts && !match; i++) {
    char *h256 = mgc__b64url_encode(c->certs[i].sha256, SHA256_DIGEST_LENGTH);
    char *h1 = mgc__b64url_encode(c->certs[i].sha1, SHA_DIGEST_LENGTH);
    if((t256 && h256 && !strcmp(t256, h256)) ||
       (!t256 && t1 && h1 && !strcmp(t1, h1)))
      match = &c->certs[i];
    free(h256);
    free(h1);
  }
  if(!match) {
    fail(req, out, 401, "invalid_client", 700027,
         "The certificate with identifier used to sign the client assertion "
         "is not registered on application. [Reason - The key was not "
         "found., Thumbprint of key used by client: '%s']",
         t256 ? t256
         : t1 ? t1
              : "");
    goto out;
  }
  if(mgc__jwt_verify(assertion, match->key, MGC_JWT_RS256 | MGC_JWT_PS256, NULL,
                     NULL, NULL)) {
    fail(req, out, 401, "invalid_client", 700027,
         "Client assertion failed signature validation.");
    goto out;
  }
  const char *aud = json_string_value(json_object_get(claims, "aud"));
  if(!aud || strcmp(aud, req->token_url)) {
    fail(req, out, 401, "invalid_client", 700023,
         "Client assertion audience claim does not match Realm issuer. "
         "Expected '%s'.",
         req->token_url);
    goto out;
  }
  json_t *jexp = json_object_get(claims, "exp");
  json_t *jnbf = json_object_get(claims, "nbf");
  if(!json_is_integer(jexp) || (jnbf && !json_is_integer(jnbf)) ||
     json_integer_value(jexp) + EMU_CLOCK_SKEW_S < req->now ||
     (jnbf && json_integer_value(jnbf) - EMU_CLOCK_SKEW_S > req->now)) {
    fail(req, out, 401, "invalid_client", 700024,
         "Client assertion is not within its valid time range. Current "
         "time: %lld, assertion valid from %lld, expiry time of assertion "
         "%lld.",
         (long long)req->now, jnbf ? (long long)json_integer_value(jnbf) : 0LL,
         json_is_integer(jexp) ? (long long)json_integer_value(jexp) : 0LL);
    goto out;
  }
  rc = 0;
out:
  json_decref(header);
  json_decref(claims);
  return rc;
}

void emu_identity_token(struct emu_identity *id,
                        const struct emu_token_request *req,
                        struct emu_token_response *out)
{
  memset(out, 0, sizeof(*out));
  const struct emu_form *f = req->form;
  const char *grant = emu_form_get(f, "grant_type");
  const char *cid = emu_form_get(f, "client_id");
  const char *secret = emu_form_get(f, "client_secret");
  const char *atype = emu_form_get(f, "client_assertion_type");
  const char *assertion = emu_form_get(f, "client_assertion");
  const char *scope = emu_form_get(f, "scope");

  if(!valid_tenant(req->tenant)) {
    fail(req, out, 400, "invalid_request", 90002,
         "Tenant '%s' not found. Check to make sure you have the correct "
         "tenant ID and are signing into the correct cloud.",
         req->tenant ? req->tenant : "");
    return;
  }
  if(!grant) {
    fail(req, out, 400, "invalid_request", 900144,
         "The request body must contain the following parameter: "
         "'grant_type'.");
    return;
  }
  if(strcmp(grant, "client_credentials")) {
    fail(req, out, 400, "unsupported_grant_type", 70003,
         "The app requested an unsupported grant type '%s'.", grant);
    return;
  }
  if(req->basic_user) {
    if(cid && strcmp(cid, req->basic_user)) {
      fail(req, out, 401, "invalid_client", 700021,
           "Client id in the Authorization header doesn't match "
           "'client_id' parameter.");
      return;
    }
    if(secret) {
      fail(req, out, 400, "invalid_request", 9002313,
           "Invalid request. Request is malformed or invalid. The client "
           "secret is given both in the body and the Authorization header.");
      return;
    }
    cid = req->basic_user;
    secret = req->basic_pass;
  }
  if(!cid && !assertion) {
    fail(req, out, 400, "invalid_request", 900144,
         "The request body must contain the following parameter: "
         "'client_id'.");
    return;
  }
  if(cid && !valid_id(cid, strlen(cid))) {
    fail(req, out, 400, "unauthorized_client", 700016,
         "Application with identifier '%.128s' was not found in the "
         "directory '%s'.",
         cid, req->tenant);
    return;
  }
  if(!scope) {
    fail(req, out, 400, "invalid_request", 900144,
         "The request body must contain the following parameter: 'scope'.");
    return;
  }
  char aud[512];
  if(emu_scope_audience(scope, req->base_url, 0, aud, sizeof(aud))) {
    if(!has_suffix(scope, "/.default"))
      fail(req, out, 400, "invalid_scope", 1002012,
           "The provided value for scope %.256s is not valid. Client "
           "credential flows must have a scope value with /.default suffixed "
           "to the resource identifier (application ID URI).",
           scope);
    else
      fail(req, out, 400, "invalid_scope", 70011,
           "The provided request must include a 'scope' input parameter. The "
           "provided value for the input parameter 'scope' is not valid. The "
           "scope %.256s is not valid. The resource is not a Microsoft Graph "
           "resource of a known cloud nor this emulator.",
           scope);
    return;
  }
  const char *acr;
  if(secret) {
    if(assertion) {
      fail(req, out, 400, "invalid_request", 9002313,
           "Invalid request. Request is malformed or invalid. Give either "
           "a client secret or a client assertion, not both.");
      return;
    }
    struct client *c = find_client(id, cid);
    if(!c && id->nclients) {
      fail(req, out, 400, "unauthorized_client", 700016,
           "Application with identifier '%s' was not found in the directory "
           "'%s'. This can happen if the application has not been installed "
           "by the administrator of the tenant or consented to by any user "
           "in the tenant.",
           cid, req->tenant);
      return;
    }
    if(!*secret || (c && (!c->secret || !consttime_eq(secret, c->secret)))) {
      fail(req, out, 401, "invalid_client", 7000215,
           "Invalid client secret provided. Ensure the secret being sent in "
           "the request is the client secret value, not the client secret "
           "ID, for a secret added to app '%s'.",
           cid);
      return;
    }
    snprintf(out->app, sizeof(out->app), "%s", cid);
    acr = "1";
  }
  else if(assertion) {
    if(!atype || strcmp(atype, EMU_ASSERTION_TYPE)) {
      fail(req, out, 400, "invalid_request", 90014,
           "The required field 'client_assertion_type' is missing or not "
           "'%s'.",
           EMU_ASSERTION_TYPE);
      return;
    }
    if(check_assertion(id, req, cid, assertion, out))
      return;
    acr = "2";
  }
  else {
    if(cid && !find_client(id, cid) && id->nclients) {
      fail(req, out, 400, "unauthorized_client", 700016,
           "Application with identifier '%s' was not found in the directory "
           "'%s'.",
           cid, req->tenant);
      return;
    }
    fail(req, out, 401, "invalid_client", 7000218,
         "The request body must contain the following parameter: "
         "'client_assertion' or 'client_secret'.");
    return;
  }
  snprintf(out->tenant, sizeof(out->tenant), "%s", req->tenant);
  int64_t exp = 0;
  char *token =
      emu_identity_issue(id, req->tenant, out->app, aud, acr, req->now, &exp);
  if(!token) {
    out->status = 500;
    out->body = emu_aad_error("temporarily_unavailable", 90033,
                              "A transient error has occurred. Please try "
                              "again.",
                              req->correlation, req->now);
    return;
  }
  out->status = 200;
  out->body =
      json_pack("{s:s,s:I,s:I,s:s}", "token_type", "Bearer", "expires_in",
                (json_int_t)(exp - req->now), "ext_expires_in",
                (json_int_t)(exp - req->now), "access_token", token);
  free(token);
  if(!out->body)
    out->status = 500;
}

/* ---- IMDS -----------------------------------------------------------------
 */

static void imds_fail(struct emu_token_response *out, int status,
                      const char *error, const char *desc)
{
  out->status = status;
  out->body = json_pack("{s:s,s:s}", "error", error, "error_description", desc);
  if(!out->body)
    out->status = 500;
}

void emu_identity_imds(struct emu_identity *id, const struct emu_form *query,
                       const char *metadata_header, int app_service,
                       const char *base_url, int64_t now,
                       struct emu_token_response *out)
{
  memset(out, 0, sizeof(*out));
  if(!app_service && (!metadata_header || strcmp(metadata_header, "true"))) {
    imds_fail(out, 400, "bad_request_102",
              "Required metadata header not specified");
    return;
  }
  const char *api = emu_form_get(query, "api-version");
  const char *resource = emu_form_get(query, "resource");
  const char *cid = emu_form_get(query, "client_id");
  if(!cid)
    cid = emu_form_get(query, "clientid");
  if(!api) {
    imds_fail(out, 400, "invalid_request",
              "Required query variable 'api-version' is missing");
    return;
  }
  if(!resource) {
    imds_fail(out, 400, "invalid_request",
              "Required query variable 'resource' is missing");
    return;
  }
  if(emu_form_get(query, "object_id") || emu_form_get(query, "msi_res_id") ||
     emu_form_get(query, "mi_res_id") || emu_form_get(query, "principal_id")) {
    imds_fail(out, 400, "invalid_request",
              "Only client_id selects a user-assigned identity in the "
              "emulator");
    return;
  }
  char aud[512];
  if(emu_scope_audience(resource, base_url, 1, aud, sizeof(aud))) {
    imds_fail(out, 400, "invalid_resource",
              "AADSTS500011: The resource principal named was not found in "
              "the tenant. The emulator serves Microsoft Graph resources "
              "only.");
    return;
  }
  const struct managed *m = NULL;
  for(size_t i = 0; i < id->nmanaged && !m; i++)
    if(!cid || !strcmp(cid, id->managed[i].id))
      m = &id->managed[i];
  if(!m) {
    imds_fail(out, 400, "invalid_request", "Identity not found");
    return;
  }
  int64_t exp = 0;
  char *token = emu_identity_issue(id, m->tenant, m->id, aud, "2", now, &exp);
  if(!token) {
    imds_fail(out, 500, "internal_error", "cannot sign the token");
    return;
  }
  char s_exp_in[24], s_exp_on[24], s_nbf[24];
  snprintf(s_exp_in, sizeof(s_exp_in), "%lld", (long long)(exp - now));
  snprintf(s_exp_on, sizeof(s_exp_on), "%lld", (long long)exp);
  snprintf(s_nbf, sizeof(s_nbf), "%lld", (long long)now);
  if(app_service)
    out->body =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "access_token", token,
                  "client_id", m->id, "expires_on", s_exp_on, "not_before",
                  s_nbf, "resource", resource, "token_type", "Bearer");
  else
    out->body =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "access_token", token,
                  "client_id", m->id, "refresh_token", "", "expires_in",
                  s_exp_in, "expires_on", s_exp_on, "not_before", s_nbf,
                  "resource", resource, "token_type", "Bearer");
  free(token);
  out->status = out->body ? 200 : 500;
  snprintf(out->app, sizeof(out->app), "%s", m->id);
  snprintf(out->tenant, sizeof(out->tenant), "%s", m->tenant);
}

/* ---- verification ------------------------------------------------------ */

const char *emu_verify_message(enum emu_verify_result r)
{
  switch(r) {
  case EMU_TOKEN_OK:
    return "ok";
  case EMU_TOKEN_MISSING:
    return "Access token is empty.";
  case EMU_TOKEN_MALFORMED:
    return "CompactToken parsing failed with error code: 80049217";
  case EMU_TOKEN_BAD_SIGNATURE:
    return "Access token validation failure. Invalid signature.";
  case EMU_TOKEN_EXPIRED:
    return "Lifetime validation failed, the token is expired.";
  case EMU_TOKEN_NOT_YET_VALID:
    return "Lifetime validation failed, the token is not yet valid.";
  case EMU_TOKEN_BAD_AUDIENCE:
    return "Access token validation failure. Invalid audience.";
  case EMU_TOKEN_BAD_ISSUER:
    return "Access token validation failure. Invalid issuer or tenant.";
  }
  return "Access token validation failure.";
}

static int audience_ok(const char *aud, const char *base_url)
{
  char out[512];
  return aud && !emu_scope_audience(aud, base_url, 1, out, sizeof(out));
}

static enum emu_verify_result check_claims(json_t *claims, const char *base,
                                           int64_t now,
                                           struct emu_principal *who)
{
  const char *aud = json_string_value(json_object_get(claims, "aud"));
  const char *tid = json_string_value(json_object_get(claims, "tid"));
  const char *iss = json_string_value(json_object_get(claims, "iss"));
  const char *app = json_string_value(json_object_get(claims, "appid"));
  json_t *exp = json_object_get(claims, "exp");
  json_t *nbf = json_object_get(claims, "nbf");
  if(!json_is_integer(exp) || !app || !tid)
    return EMU_TOKEN_MALFORMED;
  if(json_integer_value(exp) <= now)
    return EMU_TOKEN_EXPIRED;
  if(json_is_integer(nbf) && json_integer_value(nbf) > now + EMU_CLOCK_SKEW_S)
    return EMU_TOKEN_NOT_YET_VALID;
  if(!audience_ok(aud, base))
    return EMU_TOKEN_BAD_AUDIENCE;
  char want[256];
  snprintf(want, sizeof(want), "https://sts.windows.net/%s/", tid);
  if(!iss || strcmp(iss, want) || strlen(tid) >= sizeof(who->tenant) ||
     strlen(app) >= sizeof(who->app))
    return EMU_TOKEN_BAD_ISSUER;
  memset(who, 0, sizeof(*who));
  snprintf(who->tenant, sizeof(who->tenant), "%s", tid);
  snprintf(who->app, sizeof(who->app), "%s", app);
  who->exp = json_integer_value(exp);
  json_t *roles = json_object_get(claims, "roles");
  size_t i;
  json_t *r;
  size_t len = 0;
  json_array_foreach(roles, i, r)
  {
    const char *s = json_string_value(r);
    if(!s)
      continue;
    if(!strcmp(s, "Calls.Initiate.All") || !strcmp(s, "Calls.AccessMedia.All"))
      who->has_calls_role = 1;
    int w = snprintf(who->roles + len, sizeof(who->roles) - len, "%s%s",
                     len ? "," : "", s);
    if(w > 0 && (size_t)w < sizeof(who->roles) - len)
      len += (size_t)w;
  }
  return EMU_TOKEN_OK;
}

enum emu_verify_result emu_identity_verify(struct emu_identity *id,
                                           const char *authorization,
                                           const char *base_url, int64_t now,
                                           struct emu_principal *who)
{
  if(!authorization || strncasecmp(authorization, "Bearer ", 7))
    return EMU_TOKEN_MISSING;
  const char *token = authorization + 7;
  while(*token == ' ')
    token++;
  if(!*token)
    return EMU_TOKEN_MISSING;
  size_t len = strnlen(token, MGC_JWT_MAX_LEN + 1);
  if(len > MGC_JWT_MAX_LEN)
    return EMU_TOKEN_MALFORMED;
  /* Hash the tail (the signature: unique per token); strcmp decides. */
  uint64_t h = 1469598103934665603ULL;
  for(size_t i = len > 64 ? len - 64 : 0; i < len; i++) {
    h ^= (unsigned char)token[i];
    h *= 1099511628211ULL;
  }
  struct cached *slot = &id->cache[h % VERIFY_CACHE];
  pthread_mutex_lock(&id->cache_lock);
  if(slot->token && slot->hash == h && !strcmp(slot->token, token)) {
    struct emu_principal p = slot->who;
    int aud_ok = audience_ok(slot->aud, base_url);
    pthread_mutex_unlock(&id->cache_lock);
    if(p.exp <= now)
      return EMU_TOKEN_EXPIRED;
    if(!aud_ok)
      return EMU_TOKEN_BAD_AUDIENCE;
    *who = p;
    return EMU_TOKEN_OK;
  }
  pthread_mutex_unlock(&id->cache_lock);

  json_t *claims = NULL;
  if(mgc__jwt_decode(token, NULL, NULL, NULL))
    return EMU_TOKEN_MALFORMED;
  if(mgc__jwt_verify(token, id->key, MGC_JWT_RS256, NULL, &claims, NULL))
    return EMU_TOKEN_BAD_SIGNATURE;
  enum emu_verify_result r = check_claims(claims, base_url, now, who);
  if(r == EMU_TOKEN_OK) {
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    char *copy = strdup(token);
    if(copy && aud && strlen(aud) < sizeof(slot->aud)) {
      pthread_mutex_lock(&id->cache_lock);
      free(slot->token);
      slot->token = copy;
      slot->hash = h;
      slot->who = *who;
      snprintf(slot->aud, sizeof(slot->aud), "%s", aud);
      pthread_mutex_unlock(&id->cache_lock);
    }
    else
      free(copy);
  }
  json_decref(claims);
  return r;
}
