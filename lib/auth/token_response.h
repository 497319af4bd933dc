/* SPDX-License-Identifier: MIT */
/* token_response.h - parse what a token endpoint answered: the token
 * endpoint's {"token_type":"Bearer","expires_in":3599,"access_token":"..."},
 * IMDS's and App Service's answers (numbers as strings, "expires_on" epoch
 * seconds), an identity platform error (aad_error.h), or something else
 * (HTML from a proxy, garbage).  Bytes in, values out; no I/O. */
#ifndef MGCALL_AUTH_TOKEN_RESPONSE_H
#define MGCALL_AUTH_TOKEN_RESPONSE_H

#include "mgc_internal.h"

#include <stddef.h>
#include <time.h>

struct mgc_token_response {
  char *access_token; /* malloc'd; wipe and free with ..._release() */
  time_t expires_at;  /* epoch seconds */
};

/* Parse body (len bytes) received with HTTP status at time now.  what names
 * the endpoint in messages ("token endpoint", "managed identity endpoint").
 * Returns MGCALL_OK with *out filled, or:
 *  - MGCALL_E_AUTH: an error body, reported verbatim (error,
 *    error_description, error codes, trace id), or a 2xx/4xx answer that is
 *    not a token (HTML, garbage, no access_token, bad expiry);
 *  - MGCALL_E_THROTTLED: status 429, 503 or 504 (with or without an error
 *    body: the caller has retried already);
 *  - MGCALL_E_NETWORK: another 5xx (or status 0): a gateway or proxy page,
 *    the endpoint was not reached properly.
 * err->msg is one line, lower case, without secrets. */
int mgc__token_response_parse(const char *body, size_t len, long status,
                              time_t now, const char *what,
                              struct mgc_token_response *out,
                              struct mgc_err *err);

void mgc__token_response_release(struct mgc_token_response *r);

#endif
