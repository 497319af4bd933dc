/* SPDX-License-Identifier: MIT */
/* keeper.h - `mgcall keeper run`: the main loop.  One thread drives ONE
 * mgcall_batch (bounded concurrency, connections reused); due calls come
 * off the schedule's heap; the control API and the hooks have threads of
 * their own; a signal thread turns SIGTERM/SIGINT/SIGHUP into flags.
 *
 * The keeper's front header: what the tool (src/cmd_keeper_run.c) uses of
 * it besides log.h.  It includes the public mgcall.h and the plain
 * settings of config.h, nothing of lib/ and no other keeper header
 * (scripts/check-src-includes follows the includes of every header the
 * tool includes). */
#ifndef MGCALL_KEEPER_KEEPER_H
#define MGCALL_KEEPER_KEEPER_H

#include <stddef.h>
#include <stdint.h>

#include "keeper/config.h"
#include "mgcall/mgcall.h"

struct keeper_opts {
  struct kcore_config core;
  const char *listen;    /* NULL = 127.0.0.1:8787 */
  const char *api_token; /* bearer token of the control API, or NULL */
  /* --notification-app-id "ID[,ID...]" (NULL: notifications are not
   * verified) and --notification-openid-url (NULL: Graph's); see
   * keeper/notify_auth.h. */
  const char *notification_app_ids;
  const char *notification_openid_url;
  unsigned concurrency; /* fixed requests in flight; 0 = sized by demand */
  /* requests in flight at most (keeper/inflight.h); 0 = KIF_DEFAULT_MAX */
  unsigned max_concurrency;
  long flush_ms; /* progress written at least this often; 0 = 500 */
  /* --allowed-host names (NULL-terminated, may be NULL) */
  const char *const *allowed_hosts;
  const char *node_id;  /* fleet member name; NULL = host name + suffix */
  int64_t lease_ttl_ms; /* fleet lease TTL; 0 = 30 s */
  /* Make a Graph client (retries 0: the keeper schedules retries itself).
   * Called at start and on SIGHUP (credentials reloaded); *handle is given
   * back to free_client().  Returns an mgcall_code; errbuf gets why. */
  int (*make_client)(void *ud, mgcall_client **client, void **handle,
                     char *errbuf, size_t errlen);
  void (*free_client)(void *ud, mgcall_client *client, void *handle);
  void *ud;
};

/* Run until SIGTERM/SIGINT (then: stop taking work, finish in-flight
 * requests, flush, return MGCALL_OK).  Start-up errors (store, listen,
 * credentials) return their code with why in errbuf (errlen bytes at most,
 * "" on MGCALL_OK; errbuf may be NULL). */
int keeper_run(const struct keeper_opts *opts, char *errbuf, size_t errlen);

/* Overwrite, in place, with '*' every password a --store URL (a libpq
 * connection string) may carry; returns how many were masked.  For the
 * tool's copy of --store in argv (ps and /proc show it): kpg_mask_password()
 * of keeper/pg.h. */
int keeper_mask_store_password(char *store_url);

#endif
