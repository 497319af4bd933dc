/* SPDX-License-Identifier: MIT */
/* credential.h - what an mgcall_credential holds, and how the tool and the
 * library build one from command-line values and the environment (SPEC
 * section 3).  Internal to libmgcall, the tool and the keeper. */
#ifndef MGCALL_AUTH_CREDENTIAL_H
#define MGCALL_AUTH_CREDENTIAL_H

#include "mgc_internal.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

enum mgc_cred_kind {
  MGC_CRED_ACCESS_TOKEN = 1,
  MGC_CRED_CLIENT_SECRET,
  MGC_CRED_CERTIFICATE,
  MGC_CRED_MANAGED_IDENTITY
};

/* Immutable after construction; every string is owned. */
struct mgcall_credential {
  enum mgc_cred_kind kind;
  char *access_token;  /* ACCESS_TOKEN */
  char *tenant_id;     /* SECRET, CERTIFICATE; ACCESS_TOKEN: its tid or NULL */
  char *client_id;     /* SECRET, CERTIFICATE; MI user-assigned; or NULL */
  char *client_secret; /* SECRET */
  /* CERTIFICATE */
  EVP_PKEY *key;
  X509 *cert;
  STACK_OF(X509) * chain; /* extra certificates of the file (may be NULL) */
  int send_chain;
  enum mgcall_assertion_alg alg;
  char *x5t_s256; /* base64url SHA-256 of the DER certificate */
  /* MANAGED_IDENTITY */
  char *imds_url;          /* IMDS base (no trailing slash) */
  char *identity_endpoint; /* App Service: IDENTITY_ENDPOINT, or NULL */
  char *identity_header;   /* App Service: IDENTITY_HEADER */
};

/* Everything a credential can be made of.  All strings borrowed; NULL or ""
 * = not given.  mgc__credential_build() picks the first complete source in
 * SPEC order: access token, client secret, certificate, managed identity. */
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

/* Fill src from the environment: MGCALL_ACCESS_TOKEN, AZURE_TENANT_ID,
 * AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH,
 * AZURE_CLIENT_CERTIFICATE_PASSWORD, AZURE_CLIENT_SEND_CERTIFICATE_CHAIN,
 * IDENTITY_ENDPOINT, IDENTITY_HEADER.  The pointers point into the
 * environment (valid until it changes).  Managed identity is never chosen
 * from the environment alone (managed_identity = 0). */
void mgc__cred_source_from_env(struct mgc_cred_source *src);

/* 1 when src names a credential kind (the first in SPEC order), with
 * *kind set; 0 when it names none. */
int mgc__cred_source_kind(const struct mgc_cred_source *src,
                          enum mgc_cred_kind *kind);

/* Build the credential src names.  MGCALL_E_AUTH with a message when it names
 * none or one that is incomplete (no tenant, no client id, certificate that
 * does not load ...), MGCALL_E_INTERNAL when out of memory.  No I/O except
 * reading the certificate file. */
int mgc__credential_build(const struct mgc_cred_source *src,
                          mgcall_credential **out, struct mgc_err *err);

/* Accessors (borrowed strings, NULL when unknown). */
const char *mgc__credential_tenant(const mgcall_credential *cred);
const char *mgc__credential_client_id(const mgcall_credential *cred);
/* "access token", "client secret", "certificate", "managed identity". */
const char *mgc__credential_kind_name(const mgcall_credential *cred);

/* 1 when token is usable as a bearer token: printable ASCII without spaces,
 * 1..MGC_JWT_MAX_LEN bytes. */
int mgc__token_is_valid(const char *token);

#endif
