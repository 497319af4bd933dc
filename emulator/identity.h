/* SPDX-License-Identifier: MIT */
/* identity.h - the emulator's Microsoft Entra stand-in: registered clients
 * (secret and certificate), managed identities, the per-run signing key,
 * access tokens (RS256 JWTs) and their verification by the Graph side.
 *
 * The request logic takes parsed values (form fields, Basic credentials, the
 * URLs the client used) and returns a status and a JSON body: no sockets, so
 * it is unit tested and fuzzed directly.  Thread-safe after setup.
 * identity.c: set-up, registrations and keys; identity_token.c: the token
 * endpoint, IMDS and issuing; identity_verify.c: verification. */
#ifndef EMU_IDENTITY_H
#define EMU_IDENTITY_H

#include "form.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>

#define EMU_ASSERTION_TYPE                                                     \
  "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define EMU_CLOCK_SKEW_S 300
#define EMU_DEFAULT_MI_TENANT "00000000-0000-0000-0000-00000000e4a1"

struct emu_identity;

struct emu_identity_config {
  int64_t token_lifetime_s; /* --token-lifetime, default 3600 */
  const char *roles;        /* comma-separated; NULL: Calls.Initiate.All */
  const char *key_pem;      /* signing key to reuse (state file) or NULL */
  const char *key_file;     /* --token-key PEM (instead of key_pem) or NULL */
};

/* A new identity service with a fresh RSA-2048 signing key (or key_file,
 * or key_pem).
 * NULL with err set on failure. */
struct emu_identity *emu_identity_new(const struct emu_identity_config *cfg,
                                      char *err, size_t errlen);
void emu_identity_free(struct emu_identity *id);

/* Register a client by secret ("ID:SECRET", or "ID:@FILE" reading the secret
 * from the first line of FILE).  0, or -1 with err set. */
int emu_identity_add_secret(struct emu_identity *id, const char *spec,
                            char *err, size_t errlen);
/* Register a client by certificate ("ID:CERT.pem"; the PEM file's first
 * certificate).  0, or -1 with err set. */
int emu_identity_add_cert(struct emu_identity *id, const char *spec, char *err,
                          size_t errlen);
/* Register a managed identity ("CLIENT_ID" or "CLIENT_ID@TENANT"). */
int emu_identity_add_managed(struct emu_identity *id, const char *spec,
                             char *err, size_t errlen);

/* Number of registered clients (secret or certificate).  With none, every
 * client id with a non-empty secret is accepted ("open" mode). */
size_t emu_identity_client_count(const struct emu_identity *id);

/* The signing key as PKCS#8 PEM (malloc'd, caller frees) for --state. */
char *emu_identity_key_pem(const struct emu_identity *id);
/* The JWKS document ({"keys":[...]}); new reference. */
json_t *emu_identity_jwks(const struct emu_identity *id);
const char *emu_identity_kid(const struct emu_identity *id);
/* One big-number parameter of key (OSSL_PKEY_PARAM_RSA_N, _E) as base64url,
 * as JWKs carry it (malloc'd, caller frees), or NULL. */
char *emu_identity_bn_b64url(const EVP_PKEY *key, const char *name);

/* A token request, as parsed from one HTTP request. */
struct emu_token_request {
  const char *tenant; /* path segment */
  const struct emu_form *form;
  const char *basic_user; /* from Authorization: Basic, or NULL */
  const char *basic_pass;
  const char *token_url;   /* scheme://host/tenant/oauth2/v2.0/token */
  const char *base_url;    /* scheme://host: the emulator's own resource */
  const char *correlation; /* client-request-id or NULL */
  int64_t now;             /* Unix seconds */
};

/* What the endpoint answers. */
struct emu_token_response {
  int status;   /* 200, 400, 401 */
  json_t *body; /* caller json_decref()s */
  char app[128];
  char tenant[128];
};

/* POST /{tenant}/oauth2/v2.0/token.  Fills out (out->body never NULL unless
 * out of memory: then status 500). */
void emu_identity_token(struct emu_identity *id,
                        const struct emu_token_request *req,
                        struct emu_token_response *out);

/* GET /metadata/identity/oauth2/token (IMDS, and the App Service flavour
 * when app_service is non-zero).  query is the parsed query string;
 * metadata_header is the Metadata header's value (or NULL). */
void emu_identity_imds(struct emu_identity *id, const struct emu_form *query,
                       const char *metadata_header, int app_service,
                       const char *base_url, int64_t now,
                       struct emu_token_response *out);

/* Issue an access token.  roles NULL uses the configured roles.  Returns the
 * compact JWT (malloc'd) or NULL. */
char *emu_identity_issue(struct emu_identity *id, const char *tenant,
                         const char *app, const char *aud, const char *acr,
                         int64_t now, int64_t *expires_at);

/* Whom a verified access token names. */
struct emu_principal {
  char tenant[128];
  char app[128];
  char roles[512]; /* comma-separated, for messages */
  int has_calls_role;
  int64_t exp;
};

enum emu_verify_result {
  EMU_TOKEN_OK = 0,
  EMU_TOKEN_MISSING,
  EMU_TOKEN_MALFORMED,
  EMU_TOKEN_BAD_SIGNATURE,
  EMU_TOKEN_EXPIRED,
  EMU_TOKEN_NOT_YET_VALID,
  EMU_TOKEN_BAD_AUDIENCE,
  EMU_TOKEN_BAD_ISSUER
};

/* Verify an "Authorization" header value ("Bearer <jwt>") for the Graph
 * endpoints.  base_url is the emulator's own resource, also accepted as
 * audience.  Fills who on success. */
enum emu_verify_result emu_identity_verify(struct emu_identity *id,
                                           const char *authorization,
                                           const char *base_url, int64_t now,
                                           struct emu_principal *who);

/* A short English description of r, for error messages. */
const char *emu_verify_message(enum emu_verify_result r);

/* The audience a scope maps to ("https://graph.microsoft.com/.default" ->
 * "https://graph.microsoft.com"), written to aud; 0, or -1 when the scope
 * is not a Graph resource of the four clouds or base_url, plus /.default.
 * For IMDS (resource, no /.default) set is_resource. */
int emu_scope_audience(const char *scope, const char *base_url, int is_resource,
                       char *aud, size_t audlen);

/* The body of an Entra-shaped error: error, error_description ("AADSTS<code>:
 * <message>\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ..."),
 * error_codes, timestamp, trace_id, correlation_id, error_uri. */
json_t *emu_aad_error(const char *error, long code, const char *message,
                      const char *correlation, int64_t now);

#endif
