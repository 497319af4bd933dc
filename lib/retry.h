/* SPDX-License-Identifier: MIT */
/* retry.h - the retry policy of a keepAlive (SPEC section 2), like the Graph
 * SDKs' RetryHandler: retry on 429, 503, 504 and connection failures only;
 * wait Retry-After (delta-seconds or HTTP-date) when given, else exponential
 * backoff 3 s, 6 s, 12 s ... plus jitter, capped at 180 s; at most N retries
 * (0..MGCALL_RETRIES_MAX, default MGCALL_RETRIES_DEFAULT: mgcall.h) and,
 * optionally, a bound on the total time.
 * Pure functions: the clock and the random numbers are parameters. */
#ifndef MGCALL_RETRY_H
#define MGCALL_RETRY_H

#include <stdint.h>
#include <time.h>

#define MGC_RETRY_BASE_MS 3000ULL
#define MGC_RETRY_CAP_MS 180000ULL
/* A Retry-After longer than this ends the retries (the call would have
 * ended anyway: Graph drops a call 45 minutes after its last keepAlive). */
#define MGC_RETRY_AFTER_MAX_MS (45ULL * 60 * 1000)

struct mgc_retry_policy {
  int retries;          /* 0..MGCALL_RETRIES_MAX */
  uint64_t max_time_ms; /* bound from the first send; 0 = none */
};

/* 1 for the HTTP statuses worth retrying (429, 503, 504), else 0. */
int mgc__retry_status(long status);

/* Parse a Retry-After header value: delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"), relative to now (epoch seconds).  A
 * date in the past gives 0.  Returns 0 and sets *ms, or -1 when value is
 * NULL, empty or not one of the two forms. */
int mgc__retry_after_parse(const char *value, time_t now, uint64_t *ms);

/* The backoff before retry number n (1 = first retry) without Retry-After:
 * 3 s * 2^(n-1), plus a jitter of up to a quarter of that taken from
 * random, capped at MGC_RETRY_CAP_MS. */
uint64_t mgc__retry_backoff_ms(int n, uint32_t random);

/* Decide whether to retry after a failed attempt.
 *  retries_done: retries already made (0 after the first attempt);
 *  elapsed_ms:   time since the first send;
 *  retry_after_ms: the server's wait, or -1 when it gave none;
 *  random:       a random number for the jitter.
 * Returns the wait in milliseconds, or -1 for "give up" (retries used up,
 * the wait would pass max_time_ms, or Retry-After is beyond
 * MGC_RETRY_AFTER_MAX_MS).  The caller decides retryability first
 * (mgc__retry_status, mgc__http_curl_retryable). */
int64_t mgc__retry_next_delay(const struct mgc_retry_policy *p,
                              int retries_done, uint64_t elapsed_ms,
                              int64_t retry_after_ms, uint32_t random);

#endif
