/* SPDX-License-Identifier: MIT */
/* tokenrefresh.h - proactive token refresh for the keeper: the tenants that
 * keepAlives were sent for lately, and when to ask for each one's token
 * ahead of expiry (mgcall_batch_prefetch_token(): a plain early token
 * request on the keeper's batch, which never blocks the batch), so that
 * keepAlives find a fresh token in memory.
 *
 * Rule: a tenant's token is refreshed when fewer than margin seconds
 * remain, margin = min(10 min, (lifetime + 5 min + 1 s) / 2): 10 minutes for
 * the usual 60-90 minute tokens, and for short-lived tokens (the emulator's
 * --token-lifetime) halfway between the token's acquisition and the
 * library's own 5-minute on-demand refresh, so the keeper always comes
 * first.  Tokens living 5 minutes (and a second) or less are left to the
 * library (it fetches one for every request anyway).  While a request is
 * under way the tenant is looked at again every KTR_PENDING_MS; after a
 * failed one, after KTR_RETRY_MS.
 *
 * No I/O and no clock of its own: the fetch is a callback and "now" a
 * parameter (monotonic ms), so the rules are unit tested.  Not thread-safe:
 * the keeper's main loop owns it. */
#ifndef MGCALL_KEEPER_TOKENREFRESH_H
#define MGCALL_KEEPER_TOKENREFRESH_H

#include <stddef.h>
#include <stdint.h>

#define KTR_MARGIN_MAX_S 600L     /* 10 minutes */
#define KTR_LIBRARY_MARGIN_S 300L /* the library's on-demand refresh */
#define KTR_PENDING_MS 1000       /* next look while a request is under way */
#define KTR_MAX_TENANTS 1024
#define KTR_RETRY_MS 5000                /* after a failed refresh */
#define KTR_UNKNOWN_MS (10 * 60 * 1000L) /* next look when expiry unknown */

/* Ask for a token of tenant (NULL = the credential's) that lasts more than
 * min_remaining_s seconds, without waiting (mgcall_batch_prefetch_token()).
 * asked: 1 when the previous call for this tenant set *pending (so a token
 * held now is the answer to that request).  Returns 0 with *pending 1 while
 * a request is under way, or 0 with *remaining_s and *lifetime_s (-1 when
 * unknown) of the token held; non-zero when the request failed. */
typedef int (*ktr_fetch_fn)(void *ud, const char *tenant, long min_remaining_s,
                            int asked, int *pending, long *remaining_s,
                            long *lifetime_s);

struct ktr;

/* forget_ms: a tenant with no keepAlive for this long is dropped. */
struct ktr *ktr_new(int64_t forget_ms);
void ktr_free(struct ktr *t);

/* A keepAlive is being sent for tenant (copied) at now_mono. */
void ktr_touch(struct ktr *t, const char *tenant, int64_t now_mono);

/* Look at the tokens that are due.  Returns the number of fetch calls
 * made. */
int ktr_run(struct ktr *t, int64_t now_mono, ktr_fetch_fn fn, void *ud);

/* The refresh margin in seconds for a token living lifetime_s seconds
 * (-1 = unknown: KTR_MARGIN_MAX_S); 0 when it lives at most 301 s. */
long ktr_margin_s(long lifetime_s);

size_t ktr_count(const struct ktr *t);

#endif
