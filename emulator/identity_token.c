/* SPDX-License-Identifier: MIT */
/* identity_token.c - issuing access tokens: the token endpoint (client
 * secret, client assertion), IMDS and App Service managed identity, and the
 * Entra-shaped errors.  Takes parsed requests, no I/O. */
#include "identity_int.h"

#include "b64url.h"
#include "calls.h"
#include "graph_json.h"
#include "jwt.h"

#include <stdarg.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const graph_resources[] = {
    "https://graph.microsoft.com", "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn"};
static const char graph_app_id[] = "00000003-0000-0000-c000-000000000000";

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
                 long code, const char *fmt, ...) MGCX_PRINTF(6, 7);

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
  return t && emu_identity_valid_id(t, strlen(t));
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
  struct client *c = emu_identity_find_client(id, cid);
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
  if(cid && !emu_identity_valid_id(cid, strlen(cid))) {
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
    struct client *c = emu_identity_find_client(id, cid);
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
    if(cid && !emu_identity_find_client(id, cid) && id->nclients) {
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
