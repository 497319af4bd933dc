/* SPDX-License-Identifier: MIT */
/* attempt.h - one keepAlive request and its answer: the URL, the easy handle
 * (bearer token, client-request-id, Retry-Attempt, extra headers) and the
 * mgcall_result read from what came back.  The bottom layer of the Graph
 * side of the library: lib/client.c -> lib/batch.c -> lib/attempt.c; it
 * includes neither of the other two. */
#ifndef MGCALL_ATTEMPT_H
#define MGCALL_ATTEMPT_H

#include "http.h"

#include <curl/curl.h>
#include <stdint.h>

/* What every attempt of a client sends besides the URL and the token. */
struct mgc_request_opts {
  const struct mgc_http_opts *http; /* TLS, proxy, timeouts, trace */
  const char *const *headers;       /* NULL-terminated extra header lines */
  const char *user_crid; /* value of an extra client-request-id, or NULL */
};

/* The keepAlive URL of call_id under graph (no trailing slash) and
 * api_version, the id percent-encoded as one path segment; malloc'd, NULL on
 * bad input or out of memory. */
char *mgc__attempt_url(const char *graph, const char *api_version,
                       const char *call_id);

/* One attempt: the easy handle, its headers and what came back.  Owned by a
 * batch item. */
struct mgc_attempt {
  CURL *easy;
  struct curl_slist *hdrs;
  struct mgcx_buf body;
  struct mgcx_buf head; /* header lines of the last response */
  char errbuf[CURL_ERROR_SIZE];
};

/* Make the easy handle for one attempt: url, bearer token, client-request-id
 * crid (not sent when o->user_crid is set: that header is among the extra
 * ones), Retry-Attempt retry (0 = none), extra headers.  MGCALL_OK or an
 * error in err. */
int mgc__attempt_start(const struct mgc_request_opts *o, struct mgc_attempt *a,
                       const char *url, const char *token, const char *crid,
                       int retry, struct mgc_err *err);
void mgc__attempt_release(struct mgc_attempt *a);

/* Fill res from a finished attempt: status, request-id, date, headers,
 * OData error.  *retry_after_ms is the server's Retry-After or -1. */
void mgc__attempt_result(struct mgc_attempt *a, CURLcode rc, mgcall_result *res,
                         int64_t *retry_after_ms);

/* The mgcall_code of a final HTTP status (2xx OK, 404, 401/403, 429/503/504,
 * other). */
int mgc__status_code(long status);

/* Put the roles of a JWT access token into res->roles (comma list; "" when
 * the token is not a JWT or has none). */
void mgc__token_roles(const char *token, mgcall_result *res);

#endif
