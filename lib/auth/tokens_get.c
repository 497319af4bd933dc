/* SPDX-License-Identifier: MIT */
/* tokens_get.c - the blocking token acquisition of `mgcall token`: the
 * request of tokens.c run with curl_easy_perform(), sleeping between
 * retries.  Never used by a batch (lib/batch.c drives the same request on
 * its multi handle without waiting). */
#include "tokens.h"

#include "token_cache.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_ms(int64_t ms)
{
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while(nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

static int give(char *token, time_t exp, char *out, size_t outlen,
                time_t *expires_at, struct mgc_err *err)
{
  size_t n = strlen(token);
  int rc = MGCALL_OK;
  if(n + 1 > outlen)
    rc = mgc__err_set(err, MGCALL_E_INTERNAL,
                      "token of %zu bytes does not fit the buffer", n);
  else {
    memcpy(out, token, n + 1);
    if(expires_at)
      *expires_at = exp;
  }
  OPENSSL_cleanse(token, n);
  free(token);
  return rc;
}

int mgc__tokens_get(struct mgc_tokens *t, const char *tenant, int force_refresh,
                    char *out, size_t outlen, time_t *expires_at,
                    struct mgc_err *err)
{
  if(!t || !out)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "tokens: bad arguments");
  char *token = NULL;
  time_t exp = 0;
  int rc;
  /* a forced refresh skips memory and the cache file; an access token is
   * given as is (there is nothing to refresh) */
  if(!force_refresh || mgc__tokens_fixed(t)) {
    rc = mgc__tokens_held(t, tenant, MGC_TOKEN_MARGIN, &token, &exp, err);
    if(rc)
      return rc;
    if(token)
      return give(token, exp, out, outlen, expires_at, err);
  }
  for(int attempt = 0;; attempt++) {
    struct mgc_token_req *r = NULL;
    rc = mgc__tokens_req_new(t, tenant, &r, err);
    if(rc)
      return rc;
    CURLcode cc = curl_easy_perform(mgc__tokens_req_easy(r));
    int retryable = 0;
    int64_t retry_after = -1;
    rc = mgc__tokens_req_done(t, r, cc, &token, &exp, &retryable, &retry_after,
                              err);
    mgc__tokens_req_free(r);
    if(rc == MGCALL_OK)
      return give(token, exp, out, outlen, expires_at, err);
    int64_t wait = mgc__tokens_retry_wait(attempt, retryable, retry_after);
    if(wait < 0)
      return rc;
    sleep_ms(wait);
  }
}
