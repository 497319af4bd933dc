/* SPDX-License-Identifier: MIT */
/* jwks.h - the signing keys of Graph's notifications, as the keeper knows
 * them: an OpenID configuration URL (its jwks_uri) fetched by a thread of
 * its own (libcurl; the control API's thread never waits on the network),
 * kept in memory, refreshed every 2 hours and, when a token names a key we
 * do not hold, on request at most once a minute.  The two document parsers
 * take bytes and return values (fuzzed by fuzz/fuzz_notify_auth.c). */
#ifndef MGCALL_KEEPER_JWKS_H
#define MGCALL_KEEPER_JWKS_H

#include "mgc_internal.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define KJWKS_DEFAULT_URL                                                      \
  "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration"
#define KJWKS_MAX_DOC (1024 * 1024) /* bytes of one document */
#define KJWKS_MAX_KEYS 64
#define KJWKS_KID_MAX 128

/* One verification key. */
struct kjwks_key {
  char kid[KJWKS_KID_MAX + 1];
  EVP_PKEY *pkey;
};

/* Parse a JWKS ({"keys": [...]}): RSA keys with a kid, from n and e or, if
 * those are missing, from the first x5c certificate; keys with "use" other
 * than "sig", other types, or bad values are skipped.  On success returns 0
 * with *keys (caller frees with kjwks_keys_free) and *n (may be 0); -1 with
 * why set for a document that is not a JWKS. */
int kjwks_parse_keys(const char *doc, size_t len, struct kjwks_key **keys,
                     size_t *n, char *why, size_t whylen);
void kjwks_keys_free(struct kjwks_key *keys, size_t n);

/* Parse an OpenID configuration: its jwks_uri (http or https) into uri.
 * 0, or -1 with why set. */
int kjwks_parse_openid(const char *doc, size_t len, char *uri, size_t urilen,
                       char *why, size_t whylen);

struct kjwks_config {
  const char *openid_url; /* NULL: KJWKS_DEFAULT_URL */
  const char *cacert;     /* extra trust (mgc__http_trust), or NULL */
  int64_t refresh_ms;     /* 0: 2 hours */
  int64_t min_refresh_ms; /* between refreshes asked for: 0: 1 minute */
  int64_t retry_ms;       /* after a failed fetch: 0: 1 minute */
};

struct kjwks;

/* A key cache (no keys yet; nothing fetched until kjwks_start).  Strings
 * are copied.  NULL when out of memory. */
struct kjwks *kjwks_new(const struct kjwks_config *cfg);
/* Start the fetcher thread; the first fetch begins at once.  0 or -1. */
int kjwks_start(struct kjwks *jw);
/* Refuse new waiters and call every pending done() now (so their requests
 * can answer), then let the thread stop.  Idempotent. */
void kjwks_close(struct kjwks *jw);
/* kjwks_close, join the thread, free.  NULL: no-op. */
void kjwks_free(struct kjwks *jw);

/* The key named kid: a new reference (EVP_PKEY_free it) or NULL. */
EVP_PKEY *kjwks_get(struct kjwks *jw, const char *kid);

/* kid was not found: ask for the keys to be fetched again.  When a fetch is
 * under way, or a refresh is allowed (none was asked for in the last
 * min_refresh_ms), done(ud) is called from the fetcher thread once that
 * fetch has finished, and 0 is returned.  Otherwise (too soon, or closed)
 * returns -1 and done is never called. */
int kjwks_refresh(struct kjwks *jw, void (*done)(void *ud), void *ud);

/* Fetches completed (successful or not) so far. */
uint64_t kjwks_fetches(struct kjwks *jw);

#endif
