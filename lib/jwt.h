/* SPDX-License-Identifier: MIT */
/* jwt.h - compact JWS (RFC 7515) with RS256/384/512 and PS256, for the
 * client assertion (lib/auth), the emulator's access tokens and signed
 * callbacks, the keeper's notification check and `mgcall token`.
 * JSON is jansson's; keys are OpenSSL EVP_PKEYs.  No I/O. */
#ifndef MGCALL_JWT_H
#define MGCALL_JWT_H

#include "mgc_internal.h"

#include <jansson.h>
#include <openssl/evp.h>

enum mgc_jwt_alg {
  MGC_JWT_RS256 = 1 << 0, /* RSASSA-PKCS1-v1_5 with SHA-256 */
  MGC_JWT_PS256 = 1 << 1, /* RSASSA-PSS with SHA-256, MGF1, salt 32 bytes */
  MGC_JWT_RS384 = 1 << 2, /* RSASSA-PKCS1-v1_5 with SHA-384 */
  MGC_JWT_RS512 = 1 << 3  /* RSASSA-PKCS1-v1_5 with SHA-512 */
};

/* Upper bound on a token we accept for decoding (bytes). */
#define MGC_JWT_MAX_LEN MGCALL_TOKEN_MAX_LEN

/* "RS256", "PS256", "RS384", "RS512", or NULL. */
const char *mgc__jwt_alg_name(enum mgc_jwt_alg alg);

/* Sign claims with key.  header may be NULL or an object with extra fields
 * (typ, x5t#S256, x5c, kid ...); "alg" is set from alg.  Neither object is
 * modified or stolen.  Returns the compact token (malloc'd, caller frees) or
 * NULL with err set. */
char *mgc__jwt_sign(const json_t *header, const json_t *claims, EVP_PKEY *key,
                    enum mgc_jwt_alg alg, struct mgc_err *err);

/* Split and decode token without checking the signature.  On success returns
 * 0 and, for each non-NULL out pointer, a new reference the caller must
 * json_decref().  Errors (-1, err set): not three parts, bad base64url, part
 * not a JSON object, token longer than MGC_JWT_MAX_LEN. */
int mgc__jwt_decode(const char *token, json_t **header, json_t **claims,
                    struct mgc_err *err);

/* Decode token and verify its signature with key.  The header's "alg" must be
 * one of the algorithms in alg_mask (an OR of enum mgc_jwt_alg).  Outputs as
 * for mgc__jwt_decode().  Returns 0 when the signature is valid, -1 with err
 * set otherwise.  Claims (exp, aud ...) are the caller's to check. */
int mgc__jwt_verify(const char *token, EVP_PKEY *key, unsigned alg_mask,
                    json_t **header, json_t **claims, struct mgc_err *err);

#endif
