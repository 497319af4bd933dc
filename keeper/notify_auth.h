/* SPDX-License-Identifier: MIT */
/* notify_auth.h - who may POST /notifications: the bearer JWT Graph puts on
 * every callback, checked as Microsoft's samples check it (signature by a
 * key of the notification OpenID configuration; RS256/RS384/RS512 only; iss
 * https://graph.microsoft.com or https://api.botframework.com; aud one of
 * the bot's app ids; exp and nbf with 5 minutes of skew; a tid).  The check
 * itself (kna_check) takes bytes and a key lookup: no I/O, unit tested and
 * fuzzed; the keys come from keeper/jwks.h. */
#ifndef MGCALL_KEEPER_NOTIFY_AUTH_H
#define MGCALL_KEEPER_NOTIFY_AUTH_H

#include "keeper/jwks.h"
#include "keeper/sched.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define KNA_SKEW_S 300
#define KNA_MAX_APPS 16

enum kna_result {
  KNA_OK = 0,         /* verified: tid filled */
  KNA_DENY = 1,       /* refused: why filled (never the token) */
  KNA_UNKNOWN_KID = 2 /* well formed, but no key of that kid is known */
};

/* The key named kid (new reference) or NULL. */
typedef EVP_PKEY *(*kna_key_fn)(void *ud, const char *kid);

/* Check authorization ("Bearer <JWT>", the header's value; NULL when
 * missing) against app ids apps[0..napps) at now (Unix seconds).  On KNA_OK
 * tid gets the token's tenant. */
enum kna_result kna_check(const char *authorization, kna_key_fn key_of,
                          void *key_ud, const char *const *apps, size_t napps,
                          int64_t now, char tid[KS_ID_MAX + 1], char *why,
                          size_t whylen);

struct kna_config {
  const char *app_ids;    /* "ID[,ID...]" (--notification-app-id) */
  const char *openid_url; /* NULL: KJWKS_DEFAULT_URL */
  const char *cacert;     /* extra trust for the key fetches, or NULL */
  int64_t min_refresh_ms; /* 0: 1 minute (tests may shorten it) */
};

struct kna;

/* Parse the app ids (non-empty, at most KNA_MAX_APPS, each at most
 * KS_ID_MAX printable bytes) and make the key cache.  NULL with err set
 * (MGCALL_E_USAGE for bad ids). */
struct kna *kna_new(const struct kna_config *cfg, struct mgc_err *err);
/* Start fetching the keys (a thread of its own).  0 or -1. */
int kna_start(struct kna *na);
/* Release every request waiting for keys and refuse new waits (before the
 * control API stops).  NULL: no-op. */
void kna_close(struct kna *na);
void kna_free(struct kna *na);

/* Verify a notification's Authorization header at now with the keys known
 * now (KNA_UNKNOWN_KID: none has its kid). */
enum kna_result kna_verify(struct kna *na, const char *authorization,
                           int64_t now, char tid[KS_ID_MAX + 1], char *why,
                           size_t whylen);

/* After KNA_UNKNOWN_KID: when the keys may be fetched again (see
 * kjwks_refresh), done(ud) is called from the key thread once they were and
 * 0 is returned; -1 otherwise (done never called). */
int kna_wait_keys(struct kna *na, void (*done)(void *ud), void *ud);

#endif
