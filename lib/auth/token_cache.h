/* SPDX-License-Identifier: MIT */
/* token_cache.h - the token cache file ($XDG_CACHE_HOME/mgcall/tokens.json,
 * else ~/.cache/mgcall/tokens.json):
 *   {"version": 1, "tokens": [{"authority": A, "tenant": T, "client": C,
 *     "scope": S, "access_token": "...", "expires_at": 1700000000}, ...]}
 * Entries are keyed by authority, tenant, client and scope.  The file is
 * written 0600 through a temporary file and rename(); a file or directory
 * that group or others can write (or that another user owns) is refused.
 *
 * The text functions (find, update) take bytes and return values: no I/O,
 * unit-tested and fuzzed.  The file functions do the I/O. */
#ifndef MGCALL_AUTH_TOKEN_CACHE_H
#define MGCALL_AUTH_TOKEN_CACHE_H

#include "mgc_internal.h"

#include <stddef.h>
#include <time.h>

/* A token is reused while more than this many seconds remain. */
#define MGC_TOKEN_MARGIN 300
/* Entries kept in the file (the soonest to expire are dropped first). */
#define MGC_TOKEN_CACHE_MAX_ENTRIES 256
/* Largest cache file read (bytes). */
#define MGC_TOKEN_CACHE_MAX_FILE (4 * 1024 * 1024)

struct mgc_cache_key {
  const char *authority; /* token endpoint root or identity endpoint */
  const char *tenant;    /* "" for managed identity */
  const char *client;    /* client id, "" for system-assigned identity */
  const char *scope;     /* scope or resource */
};

/* Look key up in the cache text.  Returns 1 and sets *token (malloc'd,
 * caller wipes and frees) and *expires_at when an entry exists that is valid
 * for more than MGC_TOKEN_MARGIN seconds after now; 0 otherwise (also for
 * text that is not a cache document). */
int mgc__token_cache_find(const char *text, size_t len,
                          const struct mgc_cache_key *key, time_t now,
                          char **token, time_t *expires_at);

/* The new cache text: old (may be NULL/garbage: then a fresh document)
 * without expired entries and without key's old entry, plus key -> token.
 * Keeps at most MGC_TOKEN_CACHE_MAX_ENTRIES.  Returns malloc'd text (caller
 * wipes and frees) or NULL when out of memory. */
char *mgc__token_cache_update(const char *old, size_t len,
                              const struct mgc_cache_key *key,
                              const char *token, time_t expires_at, time_t now);

/* The default cache path (malloc'd) or NULL when neither XDG_CACHE_HOME nor
 * HOME is set. */
char *mgc__token_cache_default_path(void);

/* Read the cache file.  Returns 1 with *text and *len (malloc'd, caller wipes
 * and frees) when it was read; 0 when it does not exist or was refused.
 * A refusal (file or directory writable by group/others, owned by another
 * user, not a regular file) sets *warning (size n) to a message; otherwise
 * warning is "". */
int mgc__token_cache_read(const char *path, char **text, size_t *len,
                          char *warning, size_t n);

/* Write text to path atomically with mode 0600, creating the directory
 * (0700) when missing.  Returns 0, or -1 with *warning set. */
int mgc__token_cache_write(const char *path, const char *text, char *warning,
                           size_t n);

#endif
