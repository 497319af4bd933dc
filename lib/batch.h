/* SPDX-License-Identifier: MIT */
/* batch.h - the batch engine (lib/batch.c) as lib/client.c uses it: the
 * client fills a struct mgc_batch_config from its own fields and makes the
 * batch with mgc__batch_new() (the public mgcall_batch_new() is that, in
 * client.c).  batch.c knows nothing of the client: the dependency runs one
 * way, client -> batch -> attempt and auth/tokens (docs/library.md,
 * "Layers"; scripts/check-lib-includes). */
#ifndef MGCALL_BATCH_H
#define MGCALL_BATCH_H

#include "attempt.h"
#include "auth/tokens.h"
#include "mgc_internal.h"
#include "retry.h"

/* What a batch uses of its client.  Copied by mgc__batch_new(); the
 * pointers are borrowed and must outlive the batch (the client does). */
struct mgc_batch_config {
  const char *graph;       /* Graph root, no trailing slash */
  const char *api_version; /* "v1.0" or "beta" */
  /* what every keepAlive attempt sends; req->http also has the --debug
   * trace (debug_cb) */
  const struct mgc_request_opts *req;
  const struct mgc_retry_policy *retry;
  struct mgc_tokens *tokens; /* NULL without a credential */
  mgcall_log_cb verbose_cb;  /* one line per finished attempt, or NULL */
  void *log_userdata;
  /* where set-up and token errors are written (the client's: what
   * mgcall_client_errmsg() shows) */
  struct mgc_err *err;
};

/* mgcall_batch_new() on cfg: at most max_parallel keepAlives in flight (0 =
 * 16), cb(userdata, ...) for each completed item.  MGCALL_OK, or
 * MGCALL_E_USAGE (no out, cfg or cb) / MGCALL_E_INTERNAL (cfg->err says
 * why). */
int mgc__batch_new(const struct mgc_batch_config *cfg, unsigned max_parallel,
                   mgcall_done_cb cb, void *userdata, mgcall_batch **out);

/* 1 while a token request for tenant (NULL = the credential's) is in
 * flight, queued or waiting to retry on batch b. */
int mgc__batch_token_pending(const mgcall_batch *b, const char *tenant);

#endif
