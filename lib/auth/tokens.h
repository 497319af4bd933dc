/* SPDX-License-Identifier: MIT */
/* tokens.h - internal interface between the Graph client (lib/client.c,
 * lib/batch.c) and the credential code in lib/auth/: "give me a bearer token
 * for this tenant".  Owned by lib/auth/. */
#ifndef MGCALL_AUTH_TOKENS_H
#define MGCALL_AUTH_TOKENS_H

#include "mgc_internal.h"

#include <time.h>

/* Where and how tokens are fetched; strings borrowed for the call of
 * mgc__tokens_new() only (copied). */
struct mgc_token_settings {
  const char *authority_url;  /* e.g. https://login.microsoftonline.com */
  const char *graph_resource; /* e.g. https://graph.microsoft.com */
  const char *scope;          /* NULL = graph_resource + "/.default" */
  const char *cacert;
  const char *proxy;
  long connect_timeout_s;
  long timeout_s;
  int use_cache;
  const char *cache_path; /* NULL = default path */
  mgcall_log_cb debug_cb;
  void *log_userdata;
};

struct mgc_tokens;

/* Make a token source for cred (borrowed; must outlive it). */
int mgc__tokens_new(const mgcall_credential *cred,
                    const struct mgc_token_settings *settings,
                    struct mgc_tokens **out, struct mgc_err *err);

/* Get a bearer token for tenant (NULL = the credential's own tenant).  From
 * memory or the cache file while more than 5 minutes remain, else from the
 * token endpoint / managed identity.  force_refresh bypasses the caches
 * (used once after a 401).  On success copies the token into out and its
 * expiry (epoch seconds) into *expires_at (may be NULL).  Errors:
 * MGCALL_E_AUTH (no/refused credentials, AAD error verbatim in err),
 * MGCALL_E_NETWORK, MGCALL_E_INTERNAL. */
int mgc__tokens_get(struct mgc_tokens *t, const char *tenant, int force_refresh,
                    char *out, size_t outlen, time_t *expires_at,
                    struct mgc_err *err);

void mgc__tokens_free(struct mgc_tokens *t);

#endif
