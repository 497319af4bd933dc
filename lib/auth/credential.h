/* SPDX-License-Identifier: MIT */
/* credential.h - what an mgcall_credential holds.  Internal to libmgcall:
 * programs make one with the mgcall_credential_*() functions of mgcall.h
 * (mgcall_credential_new() from their options and the environment). */
#ifndef MGCALL_AUTH_CREDENTIAL_H
#define MGCALL_AUTH_CREDENTIAL_H

#include "mgc_internal.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Immutable after construction; every string is owned. */
struct mgcall_credential {
  enum mgcall_credential_kind kind;
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

/* "access token", "client secret", "certificate", "managed identity". */
const char *mgc__credential_kind_name(const mgcall_credential *cred);

/* 1 when token is usable as a bearer token: printable ASCII without spaces,
 * 1..MGC_JWT_MAX_LEN bytes. */
int mgc__token_is_valid(const char *token);

#endif
