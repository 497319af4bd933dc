/* SPDX-License-Identifier: MIT */
/* notify_sign.h - the emulator's notification signing key, as Graph's
 * calling service signs callbacks: an RSA key of its own (not the access
 * token key) with a self-signed certificate, the bearer JWT on every
 * callback (RS256, kid and x5t; iss https://api.botframework.com, aud the
 * app id that made the call, tid, iat, nbf, exp one hour), and the
 * documents that publish the key: GET /v1/.well-known/OpenIdConfiguration
 * and GET /v1/keys (a JWKS with x5c).  No sockets; thread-safe after
 * emu_nsign_new(). */
#ifndef EMU_NOTIFY_SIGN_H
#define EMU_NOTIFY_SIGN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_NSIGN_ISSUER "https://api.botframework.com"
#define EMU_NSIGN_LIFETIME_S 3600
/* A token is reused for the same app and tenant for this long, as a real
 * sender reuses its bearer token instead of signing every request. */
#define EMU_NSIGN_REUSE_S 300

struct emu_nsign;

/* key_pem_file: an RSA private key (PEM, at least 2048 bits) to sign with,
 * so tests and a restarted emulator keep the same key; NULL: a fresh
 * RSA-2048 key.  The certificate is derived from the key alone (fixed
 * validity, serial from the key), so kid and x5t stay the same for the same
 * key.  NULL with err set on failure. */
struct emu_nsign *emu_nsign_new(const char *key_pem_file, char *err,
                                size_t errlen);
/* NULL: no-op. */
void emu_nsign_free(struct emu_nsign *ns);

/* The key id (the certificate's SHA-1 thumbprint, base64url, as x5t). */
const char *emu_nsign_kid(const struct emu_nsign *ns);

/* "Bearer <JWT>" for a callback of a call made by app in tenant, at now
 * (Unix seconds).  Returns a malloc'd string (caller frees) or NULL. */
char *emu_nsign_authorization(struct emu_nsign *ns, const char *app,
                              const char *tenant, int64_t now);

/* GET /v1/keys: {"keys":[{"kty","use","alg","kid","x5t","n","e","x5c",
 * "issuer"}]}.  New reference or NULL. */
json_t *emu_nsign_jwks(const struct emu_nsign *ns);

/* GET /v1/.well-known/OpenIdConfiguration for base_url (scheme://host):
 * issuer, authorization_endpoint, jwks_uri base_url/v1/keys, the signing
 * algorithms.  New reference or NULL. */
json_t *emu_nsign_openid_config(const char *base_url);

#endif
