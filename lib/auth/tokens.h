/* SPDX-License-Identifier: MIT */
/* tokens.h - internal interface between the Graph client (lib/client.c,
 * lib/batch.c) and the credential code in lib/auth/: "give me a bearer token
 * for this tenant".  Owned by lib/auth/. */
#ifndef MGCALL_AUTH_TOKENS_H
#define MGCALL_AUTH_TOKENS_H

#include "mgc_internal.h"

#include <time.h>

/* Where and how tokens are fetched; strings borrowed for the call of
 * mgc__tokens_new() only (copied).  Zero-initialise it (or use
 * mgc__token_settings_from_config()) so that later fields stay NULL. */
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
  /* Warnings (a refused token cache file ...), one line without the
   * "mgcall: " prefix; NULL = "mgcall: warning: ..." on stderr. */
  mgcall_log_cb warn_cb;
};

/* Fill s from cfg: authority = cfg->authority_url or the cloud's login root,
 * graph_resource = the cloud's Graph root (cfg->environment; NOT
 * cfg->graph_url, which may be a proxy or the emulator), scope, cacert,
 * proxy, timeouts, cache, debug callback.  Strings are borrowed from cfg and
 * static tables.  MGCALL_E_USAGE (err set) for an unknown environment. */
int mgc__token_settings_from_config(const mgcall_config *cfg,
                                    struct mgc_token_settings *s,
                                    struct mgc_err *err);

struct mgc_tokens;

/* Make a token source for cred (borrowed; must outlive it).  Does no I/O. */
int mgc__tokens_new(const mgcall_credential *cred,
                    const struct mgc_token_settings *settings,
                    struct mgc_tokens **out, struct mgc_err *err);

/* Get a bearer token for tenant (NULL = the credential's own tenant).  From
 * memory or the cache file while more than 5 minutes remain, else from the
 * token endpoint / managed identity.  force_refresh bypasses the caches
 * (used once after a 401).  On success copies the token into out and its
 * expiry (epoch seconds; 0 when unknown, e.g. an opaque access token) into
 * *expires_at (may be NULL).  Errors:
 * MGCALL_E_AUTH (no/refused credentials, AAD error verbatim in err),
 * MGCALL_E_NETWORK, MGCALL_E_USAGE (bad tenant id), MGCALL_E_INTERNAL
 * (also: outlen too small).  An access-token credential always returns its
 * token, for any tenant. */
int mgc__tokens_get(struct mgc_tokens *t, const char *tenant, int force_refresh,
                    char *out, size_t outlen, time_t *expires_at,
                    struct mgc_err *err);

/* The credential's tenant (borrowed, NULL when unknown: managed identity, or
 * an access token without a tid claim) and client id (NULL for a
 * system-assigned identity or an access token). */
const char *mgc__tokens_tenant(const struct mgc_tokens *t);
const char *mgc__tokens_client_id(const struct mgc_tokens *t);

/* Requests sent to token endpoints so far (for tests and --verbose). */
unsigned long mgc__tokens_requests(const struct mgc_tokens *t);

void mgc__tokens_free(struct mgc_tokens *t);

#endif
