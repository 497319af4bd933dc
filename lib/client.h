/* SPDX-License-Identifier: MIT */
/* client.h - the client handle shared by lib/client.c (configuration, the
 * request and its result) and lib/batch.c (the engine that sends it). */
#ifndef MGCALL_CLIENT_H
#define MGCALL_CLIENT_H

#include "auth/tokens.h"
#include "http.h"
#include "retry.h"

#include <curl/curl.h>
#include <stdint.h>

/* Largest extra header line accepted (bytes). */
#define MGC_HEADER_MAX 8192

struct mgcall_client {
  char *graph;       /* Graph root, no trailing slash */
  char *api_version; /* "v1.0" or "beta" */
  char *authority;
  char *graph_resource; /* the cloud's Graph root (token scope) */
  char *scope;
  char *cacert;
  char *proxy;
  char *token_cache_path;
  int token_cache;
  char **headers;        /* NULL-terminated copies of cfg->headers */
  const char *user_crid; /* value of an extra client-request-id, or NULL */
  struct mgc_retry_policy retry;
  const mgcall_credential *credential;
  mgcall_log_cb verbose_cb;
  void *log_userdata;
  struct mgc_http_opts http; /* points into this struct's strings */
  struct mgc_tokens *tokens; /* made on first need */
  /* mgcall_keep_alive(): a batch of one kept for the client's life, so
   * blocking calls reuse connections and TLS sessions. */
  mgcall_batch *blocking;
  struct {
    mgcall_result *res;
    int done;
  } one;
  struct mgc_err err;
};

/* 0 when line is an acceptable extra request header "Name: value": a token
 * name (RFC 9110), no CR, LF or NUL anywhere, not Authorization, Host or
 * Content-Length.  Else -1 and the reason in errbuf. */
int mgc__header_check(const char *line, char *errbuf, size_t errlen);

/* The token source of client, made on first use.  MGCALL_E_AUTH when the
 * client has no credential. */
int mgc__client_tokens(mgcall_client *client, struct mgc_tokens **out);

/* Milliseconds of a monotonic clock. */
uint64_t mgc__now_ms(void);

/* One attempt of a keepAlive: the easy handle, its headers and what came
 * back.  Owned by a batch item. */
struct mgc_attempt {
  CURL *easy;
  struct curl_slist *hdrs;
  struct mgc_buf body;
  struct mgc_buf head; /* header lines of the last response */
  char errbuf[CURL_ERROR_SIZE];
};

/* Make the easy handle for one attempt: url, bearer token, client-request-id
 * crid, Retry-Attempt retry (0 = none), extra headers.  MGCALL_OK or an
 * error in client->err. */
int mgc__attempt_start(mgcall_client *client, struct mgc_attempt *a,
                       const char *url, const char *token, const char *crid,
                       int retry);
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
