/* SPDX-License-Identifier: MIT */
/* assertion.h - the client assertion JWT of the certificate credential
 * (Microsoft identity platform "certificate credentials"): header alg PS256
 * (or RS256), typ JWT, x5t#S256, x5c when sending the chain; claims aud =
 * token URL, iss = sub = client id, jti (uuid v4), nbf, iat, exp = now + 10
 * minutes.  No I/O. */
#ifndef MGCALL_AUTH_ASSERTION_H
#define MGCALL_AUTH_ASSERTION_H

#include "mgc_internal.h"

#include <time.h>

/* Lifetime of an assertion (seconds). */
#define MGC_ASSERTION_LIFETIME 600

/* Signed assertion for cred (a certificate credential) and token_url, made
 * at now.  Returns a malloc'd compact JWT (caller wipes and frees) or NULL
 * with err set. */
char *mgc__client_assertion(const mgcall_credential *cred,
                            const char *token_url, time_t now,
                            struct mgc_err *err);

/* A random uuid v4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") into buf (at
 * least 37 bytes).  Returns 0, or -1 when no randomness is available. */
int mgc__auth_uuid4(char *buf, size_t n);

#endif
