/* SPDX-License-Identifier: MIT */
/* client.h - the client handle: configuration copied from mgcall_config,
 * the token source, and the batch of one behind mgcall_keep_alive().
 *
 * Layers (one way): lib/client.c (handle, blocking calls) -> lib/batch.c
 * (the engine: keepAlives and token requests on one multi handle) ->
 * lib/attempt.c (one keepAlive request and its answer) and lib/auth/ (token
 * requests).  Only client.c (and tests) include this header: a batch gets
 * what it needs of the client as a struct mgc_batch_config (batch.h) that
 * mgcall_batch_new() fills; scripts/check-lib-includes fails the build on
 * an include cycle between the files of lib/. */
#ifndef MGCALL_CLIENT_H
#define MGCALL_CLIENT_H

#include "attempt.h"
#include "auth/tokens.h"
#include "http.h"
#include "retry.h"

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
  char **headers; /* NULL-terminated copies of cfg->headers */
  struct mgc_retry_policy retry;
  const mgcall_credential *credential;
  mgcall_log_cb verbose_cb;
  void *log_userdata;
  struct mgc_http_opts http;   /* points into this struct's strings */
  struct mgc_request_opts req; /* what every keepAlive attempt sends */
  struct mgc_tokens *tokens;   /* NULL without a credential */
  /* mgcall_keep_alive(): a batch of one kept for the client's life, so
   * blocking calls reuse connections and TLS sessions. */
  mgcall_batch *blocking;
  struct {
    mgcall_result *res;
    int done;
  } one;
  struct mgc_err err;
};

#endif
