/* SPDX-License-Identifier: MIT */
/* cert.h - load the client certificate of the certificate credential: PEM
 * (certificate + private key, optionally more certificates) or PKCS#12 with
 * a password.  OpenSSL does the parsing. */
#ifndef MGCALL_AUTH_CERT_H
#define MGCALL_AUTH_CERT_H

#include "mgc_internal.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Largest certificate file read (bytes). */
#define MGC_CERT_MAX_FILE (1024 * 1024)

struct mgc_cert {
  EVP_PKEY *key;          /* RSA private key */
  X509 *cert;             /* the certificate of key */
  STACK_OF(X509) * chain; /* the other certificates of the file, or NULL */
};

/* Parse len bytes of a PEM or PKCS#12 file (detected by content).  password
 * may be NULL (PKCS#12 then tries "" ; an encrypted PEM key uses it too).
 * Checks: a certificate and an RSA key that belong together, the
 * certificate valid now (not expired, not yet valid).  On success fills *out
 * (release with mgc__cert_release()) and returns MGCALL_OK; else
 * MGCALL_E_AUTH with what was wrong in err.  No I/O. */
int mgc__cert_parse(const unsigned char *data, size_t len, const char *password,
                    struct mgc_cert *out, struct mgc_err *err);

/* Read path (at most MGC_CERT_MAX_FILE bytes) and mgc__cert_parse() it;
 * messages name the file. */
int mgc__cert_load(const char *path, const char *password, struct mgc_cert *out,
                   struct mgc_err *err);

void mgc__cert_release(struct mgc_cert *c);

/* base64url(SHA-256(DER of cert)), the x5t#S256 header; malloc'd or NULL. */
char *mgc__cert_x5t_s256(X509 *cert);

/* base64 (standard, padded) of the DER of cert, for x5c; malloc'd or NULL. */
char *mgc__cert_der_b64(X509 *cert);

#endif
