/* SPDX-License-Identifier: MIT */
/* credential.c - the four credential kinds of SPEC section 3 and how one is
 * chosen from command-line values and the environment. */
#include "credential.h"

#include "cert.h"
#include "jwt.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMDS_DEFAULT "http://169.254.169.254"

/* Everything a credential can be made of.  All strings borrowed; NULL or ""
 * = not given.  credential_build() picks the first complete source in the
 * order access token, client secret, certificate, managed identity. */
struct mgc_cred_source {
  const char *access_token;
  const char *tenant_id;
  const char *client_id;
  const char *client_secret;
  const char *certificate_path;
  const char *certificate_password;
  int send_chain;
  enum mgcall_assertion_alg alg;
  int managed_identity;
  const char *imds_url;
  const char *identity_endpoint;
  const char *identity_header;
};

static int given(const char *s)
{
  return s && *s;
}

static void free_secret(char *s)
{
  if(s) {
    OPENSSL_cleanse(s, strlen(s));
    free(s);
  }
}

void mgcall_credential_free(mgcall_credential *cred)
{
  if(!cred)
    return;
  free_secret(cred->access_token);
  free(cred->tenant_id);
  free(cred->client_id);
  free_secret(cred->client_secret);
  EVP_PKEY_free(cred->key);
  X509_free(cred->cert);
  sk_X509_pop_free(cred->chain, X509_free);
  free(cred->x5t_s256);
  free(cred->imds_url);
  free(cred->identity_endpoint);
  free_secret(cred->identity_header);
  free(cred);
}

int mgc__token_is_valid(const char *token)
{
  if(!token)
    return 0;
  size_t n = strnlen(token, MGC_JWT_MAX_LEN + 1);
  if(n == 0 || n > MGC_JWT_MAX_LEN)
    return 0;
  for(size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)token[i];
    if(c <= 0x20 || c >= 0x7f)
      return 0;
  }
  return 1;
}

/* The token's tid claim, when it is a JWT that has one. */
static char *token_tenant(const char *token)
{
  json_t *claims = NULL;
  struct mgc_err err;
  char *tid = NULL;
  if(mgc__jwt_decode(token, NULL, &claims, &err) == 0) {
    const char *s = json_string_value(json_object_get(claims, "tid"));
    if(s)
      tid = strdup(s);
  }
  json_decref(claims);
  return tid;
}

static mgcall_credential *cred_new(enum mgcall_credential_kind kind)
{
  mgcall_credential *c = calloc(1, sizeof(*c));
  if(c)
    c->kind = kind;
  return c;
}

static int dup_field(char **dst, const char *src)
{
  if(!src)
    return 0;
  *dst = strdup(src);
  return *dst ? 0 : -1;
}

static int build_token(const char *token, mgcall_credential **out,
                       struct mgc_err *err)
{
  if(!mgc__token_is_valid(token))
    return mgc__err_set(err, MGCALL_E_AUTH,
                        "the access token is empty, too long or contains "
                        "spaces or control characters");
  mgcall_credential *c = cred_new(MGCALL_CRED_ACCESS_TOKEN);
  if(!c || dup_field(&c->access_token, token)) {
    mgcall_credential_free(c);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  c->tenant_id = token_tenant(token);
  *out = c;
  return MGCALL_OK;
}

/* Tenant ids and client ids end up in a URL path and a form: keep them to
 * what Entra ID uses (GUIDs, domain names). */
static int id_ok(const char *s)
{
  if(!given(s) || strlen(s) > 256)
    return 0;
  for(const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
      return 0;
  }
  return 1;
}

static int check_app(const struct mgc_cred_source *src, const char *what,
                     struct mgc_err *err)
{
  if(!given(src->tenant_id))
    return mgc__err_set(err, MGCALL_E_AUTH,
                        "%s credential: no tenant id (give --tenant-id or "
                        "AZURE_TENANT_ID)",
                        what);
  if(!given(src->client_id))
    return mgc__err_set(err, MGCALL_E_AUTH,
                        "%s credential: no client id (give --client-id or "
                        "AZURE_CLIENT_ID)",
                        what);
  if(!id_ok(src->tenant_id))
    return mgc__err_set(err, MGCALL_E_AUTH, "%s credential: bad tenant id '%s'",
                        what, src->tenant_id);
  if(!id_ok(src->client_id))
    return mgc__err_set(err, MGCALL_E_AUTH, "%s credential: bad client id '%s'",
                        what, src->client_id);
  return MGCALL_OK;
}

static int build_secret(const struct mgc_cred_source *src,
                        mgcall_credential **out, struct mgc_err *err)
{
  int rc = check_app(src, "client secret", err);
  if(rc)
    return rc;
  mgcall_credential *c = cred_new(MGCALL_CRED_CLIENT_SECRET);
  if(!c || dup_field(&c->tenant_id, src->tenant_id) ||
     dup_field(&c->client_id, src->client_id) ||
     dup_field(&c->client_secret, src->client_secret)) {
    mgcall_credential_free(c);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  *out = c;
  return MGCALL_OK;
}

static int build_cert(const struct mgc_cred_source *src,
                      mgcall_credential **out, struct mgc_err *err)
{
  int rc = check_app(src, "certificate", err);
  if(rc)
    return rc;
  if(src->alg != MGCALL_ALG_PS256 && src->alg != MGCALL_ALG_RS256)
    return mgc__err_set(err, MGCALL_E_USAGE, "unknown assertion algorithm");
  struct mgc_cert cert;
  rc = mgc__cert_load(
      src->certificate_path,
      given(src->certificate_password) ? src->certificate_password : NULL,
      &cert, err);
  if(rc)
    return rc;
  mgcall_credential *c = cred_new(MGCALL_CRED_CERTIFICATE);
  if(!c) {
    mgc__cert_release(&cert);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  c->key = cert.key;
  c->cert = cert.cert;
  c->chain = cert.chain;
  c->send_chain = src->send_chain ? 1 : 0;
  c->alg = src->alg;
  c->x5t_s256 = mgc__cert_x5t_s256(c->cert);
  if(!c->x5t_s256 || dup_field(&c->tenant_id, src->tenant_id) ||
     dup_field(&c->client_id, src->client_id)) {
    mgcall_credential_free(c);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  *out = c;
  return MGCALL_OK;
}

static char *strip_slash(const char *url)
{
  char *s = strdup(url);
  if(s) {
    size_t n = strlen(s);
    while(n > 0 && s[n - 1] == '/')
      s[--n] = '\0';
  }
  return s;
}

static int build_mi(const struct mgc_cred_source *src, mgcall_credential **out,
                    struct mgc_err *err)
{
  if(given(src->client_id) && !id_ok(src->client_id))
    return mgc__err_set(err, MGCALL_E_AUTH,
                        "managed identity: bad client id '%s'", src->client_id);
  mgcall_credential *c = cred_new(MGCALL_CRED_MANAGED_IDENTITY);
  if(!c)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  int bad = 0;
  if(given(src->client_id))
    bad |= dup_field(&c->client_id, src->client_id);
  if(given(src->imds_url)) {
    c->imds_url = strip_slash(src->imds_url);
    bad |= !c->imds_url;
  }
  else if(given(src->identity_endpoint) && given(src->identity_header)) {
    bad |= dup_field(&c->identity_endpoint, src->identity_endpoint);
    bad |= dup_field(&c->identity_header, src->identity_header);
  }
  else {
    c->imds_url = strdup(IMDS_DEFAULT);
    bad |= !c->imds_url;
  }
  if(bad) {
    mgcall_credential_free(c);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  *out = c;
  return MGCALL_OK;
}

/* 1 when src names a credential kind (the first in order), with *kind
 * set; 0 when it names none. */
static int source_kind(const struct mgc_cred_source *src,
                       enum mgcall_credential_kind *kind)
{
  if(given(src->access_token))
    *kind = MGCALL_CRED_ACCESS_TOKEN;
  else if(given(src->client_secret))
    *kind = MGCALL_CRED_CLIENT_SECRET;
  else if(given(src->certificate_path))
    *kind = MGCALL_CRED_CERTIFICATE;
  else if(src->managed_identity)
    *kind = MGCALL_CRED_MANAGED_IDENTITY;
  else
    return 0;
  return 1;
}

/* Build the credential src names.  MGCALL_E_AUTH with a message when it
 * names none or one that is incomplete (no tenant, no client id, certificate
 * that does not load ...), MGCALL_E_INTERNAL when out of memory.  No I/O
 * except reading the certificate file. */
static int credential_build(const struct mgc_cred_source *src,
                            mgcall_credential **out, struct mgc_err *err)
{
  enum mgcall_credential_kind kind;
  *out = NULL;
  if(!source_kind(src, &kind))
    return mgc__err_set(
        err, MGCALL_E_AUTH,
        "no credentials: give --access-token-file, --client-secret-file, "
        "--certificate or --managed-identity (or set MGCALL_ACCESS_TOKEN, "
        "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH)");
  switch(kind) {
  case MGCALL_CRED_ACCESS_TOKEN:
    return build_token(src->access_token, out, err);
  case MGCALL_CRED_CLIENT_SECRET:
    return build_secret(src, out, err);
  case MGCALL_CRED_CERTIFICATE:
    return build_cert(src, out, err);
  case MGCALL_CRED_MANAGED_IDENTITY:
    return build_mi(src, out, err);
  }
  return mgc__err_set(err, MGCALL_E_INTERNAL, "unknown credential kind");
}

static int env_true(const char *v)
{
  return v && (!strcmp(v, "1") || !strcasecmp(v, "true") ||
               !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}

/* Fill src from the environment: MGCALL_ACCESS_TOKEN, AZURE_TENANT_ID,
 * AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH,
 * AZURE_CLIENT_CERTIFICATE_PASSWORD, AZURE_CLIENT_SEND_CERTIFICATE_CHAIN,
 * IDENTITY_ENDPOINT, IDENTITY_HEADER.  The pointers point into the
 * environment (valid until it changes).  Managed identity is never chosen
 * from the environment alone (managed_identity = 0). */
static void source_from_env(struct mgc_cred_source *src)
{
  memset(src, 0, sizeof(*src));
  src->access_token = getenv("MGCALL_ACCESS_TOKEN");
  src->tenant_id = getenv("AZURE_TENANT_ID");
  src->client_id = getenv("AZURE_CLIENT_ID");
  src->client_secret = getenv("AZURE_CLIENT_SECRET");
  src->certificate_path = getenv("AZURE_CLIENT_CERTIFICATE_PATH");
  src->certificate_password = getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD");
  src->send_chain = env_true(getenv("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"));
  src->alg = MGCALL_ALG_PS256;
  src->identity_endpoint = getenv("IDENTITY_ENDPOINT");
  src->identity_header = getenv("IDENTITY_HEADER");
}

/* ---- public constructors ---- */

static int to_errbuf(int rc, const struct mgc_err *err, char *errbuf,
                     size_t errlen)
{
  if(rc && errbuf && errlen)
    snprintf(errbuf, errlen, "%s", err->msg);
  return rc;
}

int mgcall_credential_access_token(const char *token, mgcall_credential **out)
{
  struct mgc_err err;
  if(!out)
    return MGCALL_E_USAGE;
  *out = NULL;
  return build_token(token, out, &err);
}

int mgcall_credential_client_secret(const char *tenant_id,
                                    const char *client_id, const char *secret,
                                    mgcall_credential **out)
{
  struct mgc_cred_source src;
  struct mgc_err err;
  if(!out)
    return MGCALL_E_USAGE;
  *out = NULL;
  if(!given(secret))
    return MGCALL_E_AUTH;
  memset(&src, 0, sizeof(src));
  src.tenant_id = tenant_id;
  src.client_id = client_id;
  src.client_secret = secret;
  return build_secret(&src, out, &err);
}

int mgcall_credential_certificate(const char *tenant_id, const char *client_id,
                                  const char *path, const char *password,
                                  int send_chain, enum mgcall_assertion_alg alg,
                                  mgcall_credential **out, char *errbuf,
                                  size_t errlen)
{
  struct mgc_cred_source src;
  struct mgc_err err;
  mgc__err_clear(&err);
  if(!out)
    return MGCALL_E_USAGE;
  *out = NULL;
  if(!given(path))
    return to_errbuf(mgc__err_set(&err, MGCALL_E_AUTH, "no certificate file"),
                     &err, errbuf, errlen);
  memset(&src, 0, sizeof(src));
  src.tenant_id = tenant_id;
  src.client_id = client_id;
  src.certificate_path = path;
  src.certificate_password = password;
  src.send_chain = send_chain;
  src.alg = alg;
  return to_errbuf(build_cert(&src, out, &err), &err, errbuf, errlen);
}

int mgcall_credential_managed_identity(const char *client_id,
                                       const char *imds_url,
                                       mgcall_credential **out)
{
  struct mgc_cred_source src;
  struct mgc_err err;
  if(!out)
    return MGCALL_E_USAGE;
  *out = NULL;
  memset(&src, 0, sizeof(src));
  src.client_id = client_id;
  src.managed_identity = 1;
  src.imds_url = imds_url;
  src.identity_endpoint = getenv("IDENTITY_ENDPOINT");
  src.identity_header = getenv("IDENTITY_HEADER");
  return build_mi(&src, out, &err);
}

int mgcall_credential_from_env(mgcall_credential **out, char *errbuf,
                               size_t errlen)
{
  struct mgc_cred_source src;
  struct mgc_err err;
  mgc__err_clear(&err);
  if(!out)
    return MGCALL_E_USAGE;
  source_from_env(&src);
  return to_errbuf(credential_build(&src, out, &err), &err, errbuf, errlen);
}

void mgcall_credential_opts_init_sized(mgcall_credential_opts *opts,
                                       size_t size)
{
  if(!opts || size < sizeof(size_t))
    return;
  memset(opts, 0, size); /* nothing given, alg MGCALL_ALG_PS256 (0) */
  opts->struct_size = size;
}

int mgcall_credential_new(const mgcall_credential_opts *opts, unsigned flags,
                          mgcall_credential **out, char *errbuf, size_t errlen)
{
  struct mgc_err err;
  mgc__err_clear(&err);
  if(out)
    *out = NULL;
  if(!opts || !out || opts->struct_size < sizeof(size_t))
    return to_errbuf(mgc__err_set(&err, MGCALL_E_USAGE, "no options"), &err,
                     errbuf, errlen);
  /* The caller's struct may be older (shorter) than ours. */
  mgcall_credential_opts o;
  memset(&o, 0, sizeof(o));
  memcpy(&o, opts,
         opts->struct_size < sizeof(o) ? opts->struct_size : sizeof(o));
  struct mgc_cred_source env, src;
  memset(&env, 0, sizeof(env));
  if(flags & MGCALL_CRED_USE_ENV)
    source_from_env(&env);
  memset(&src, 0, sizeof(src));
  src.access_token = o.access_token;
  src.tenant_id = given(o.tenant_id) ? o.tenant_id : env.tenant_id;
  src.client_id = given(o.client_id) ? o.client_id : env.client_id;
  src.client_secret = o.client_secret;
  src.certificate_path = o.certificate_path;
  src.certificate_password = given(o.certificate_password)
                                 ? o.certificate_password
                                 : env.certificate_password;
  src.send_chain = o.send_chain || env.send_chain;
  src.alg = o.alg;
  src.managed_identity = o.managed_identity;
  src.imds_url = o.imds_url;
  src.identity_endpoint = env.identity_endpoint;
  src.identity_header = env.identity_header;
  enum mgcall_credential_kind kind;
  if(!source_kind(&src, &kind)) {
    /* Nothing named in opts: the environment, same order. */
    src.access_token = env.access_token;
    src.client_secret = env.client_secret;
    src.certificate_path = env.certificate_path;
  }
  return to_errbuf(credential_build(&src, out, &err), &err, errbuf, errlen);
}

int mgcall_credential_kind(const mgcall_credential *cred)
{
  return cred ? (int)cred->kind : 0;
}

const char *mgcall_credential_tenant_id(const mgcall_credential *cred)
{
  return cred ? cred->tenant_id : NULL;
}

const char *mgcall_credential_client_id(const mgcall_credential *cred)
{
  return cred ? cred->client_id : NULL;
}

const char *mgc__credential_kind_name(const mgcall_credential *cred)
{
  switch(cred ? cred->kind : 0) {
  case MGCALL_CRED_ACCESS_TOKEN:
    return "access token";
  case MGCALL_CRED_CLIENT_SECRET:
    return "client secret";
  case MGCALL_CRED_CERTIFICATE:
    return "certificate";
  case MGCALL_CRED_MANAGED_IDENTITY:
    return "managed identity";
  }
  return "none";
}
