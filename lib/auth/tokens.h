/* SPDX-License-Identifier: MIT */
/* tokens.h - internal interface between the Graph client (lib/batch.c,
 * lib/client.c) and the credential code in lib/auth/: "give me a bearer token
 * for this tenant".  Owned by lib/auth/.
 *
 * Two ways to use it:
 *  - without waiting (the batch): mgc__tokens_held() answers from memory (or
 *    the cache file, read once); on a miss, mgc__tokens_req_new() makes the
 *    request as an easy handle the caller runs (on its multi handle), and
 *    mgc__tokens_req_done() reads the answer and keeps the token;
 *    mgc__tokens_retry_wait() says whether and when to ask again.  None of
 *    these waits for the network; the cache file is written by a thread of
 *    its own (cache_writer.h).
 *  - blocking (mgcall token): mgc__tokens_get() does the same with
 *    curl_easy_perform() and sleeps between retries (tokens_get.c). */
#ifndef MGCALL_AUTH_TOKENS_H
#define MGCALL_AUTH_TOKENS_H

#include "mgc_internal.h"

#include <curl/curl.h>
#include <stdint.h>
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

/* Make a token source for cred (borrowed; must outlive it).  Does no I/O.
 * Used by one thread at a time (the cache writer's thread is internal). */
int mgc__tokens_new(const mgcall_credential *cred,
                    const struct mgc_token_settings *settings,
                    struct mgc_tokens **out, struct mgc_err *err);

/* Blocking: get a bearer token for tenant (NULL = the credential's own
 * tenant).  Never called by a batch.  From
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

/* The name a token of tenant is kept under: tenant or the credential's own,
 * "" for a managed identity or an access token; NULL when it is not a valid
 * tenant id.  Borrowed (from tenant or the credential).  Token requests for
 * the same key are the same request. */
const char *mgc__tokens_key(const struct mgc_tokens *t, const char *tenant);

/* 1 when t gives a fixed access token (nothing is ever requested). */
int mgc__tokens_fixed(const struct mgc_tokens *t);

/* The token held for tenant, when it has more than min_left_s seconds left
 * (keepAlives ask for MGC_TOKEN_MARGIN): from memory, else from the cache
 * file (read on the first call only; its entries count only with more than
 * MGC_TOKEN_MARGIN left).  Returns MGCALL_OK with *token (malloc'd,
 * caller wipes and frees) and *expires_at (may be NULL; 0 when unknown), or
 * MGCALL_OK with *token NULL when a request is needed; MGCALL_E_USAGE for a
 * bad tenant id, MGCALL_E_INTERNAL.  An access-token credential always
 * gives its token.  No network I/O. */
int mgc__tokens_held(struct mgc_tokens *t, const char *tenant, long min_left_s,
                     char **token, time_t *expires_at, struct mgc_err *err);

/* One token request: an easy handle with its buffers. */
struct mgc_token_req;

/* Make the request for tenant's token (client credentials with a secret or
 * a signed assertion, or managed identity): the easy handle is set up, not
 * started.  Counts in mgc__tokens_requests().  Not for an access-token
 * credential. */
int mgc__tokens_req_new(struct mgc_tokens *t, const char *tenant,
                        struct mgc_token_req **out, struct mgc_err *err);

/* The request's easy handle (owned by the request; remove it from a multi
 * handle before mgc__tokens_req_free()). */
CURL *mgc__tokens_req_easy(const struct mgc_token_req *r);

/* Read the answer of a finished transfer (cc its result).  On success
 * keeps the token (memory, and the cache file through the writer) and
 * returns MGCALL_OK with *token (malloc'd; wipe and free) and *expires_at.
 * Else the code as mgc__tokens_get() gives it, *retryable (429, 500, 502,
 * 503, 504, connection failures) and *retry_after_ms (the answer's
 * Retry-After, -1 when none). */
int mgc__tokens_req_done(struct mgc_tokens *t, struct mgc_token_req *r,
                         CURLcode cc, char **token, time_t *expires_at,
                         int *retryable, int64_t *retry_after_ms,
                         struct mgc_err *err);

void mgc__tokens_req_free(struct mgc_token_req *r);

/* The wait (ms) before asking again after attempt failed_attempt (0 = the
 * first) failed, or -1 to give up: 2 retries, after Retry-After when at
 * most 10 s, else 1 s then 2 s; a longer Retry-After ends the retries. */
int64_t mgc__tokens_retry_wait(int failed_attempt, int retryable,
                               int64_t retry_after_ms);

/* The credential's tenant (borrowed, NULL when unknown: managed identity, or
 * an access token without a tid claim) and client id (NULL for a
 * system-assigned identity or an access token). */
const char *mgc__tokens_tenant(const struct mgc_tokens *t);
const char *mgc__tokens_client_id(const struct mgc_tokens *t);

/* Requests sent to token endpoints so far (for tests and --verbose). */
unsigned long mgc__tokens_requests(const struct mgc_tokens *t);

void mgc__tokens_free(struct mgc_tokens *t);

#endif
