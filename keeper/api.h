/* SPDX-License-Identifier: MIT */
/* api.h - the keeper's control API over HTTP (libmicrohttpd, its own
 * thread): / (the status page), /calls, /calls/{id}, /notifications,
 * /metrics, /healthz,
 * /openapi.yaml (docs/openapi/keeper.yaml, the contract of all of them). */
#ifndef MGCALL_KEEPER_API_H
#define MGCALL_KEEPER_API_H

#include <stddef.h>

#include "keeper/core.h"

/* Largest request bodies: POST /calls (a bulk array) and the rest. */
#define KAPI_MAX_CALLS_BODY (16u * 1024 * 1024)
#define KAPI_MAX_BULK 200000
#define KAPI_MAX_TOKEN 4096
/* Threads answering requests: a slow answer (a large page of GET /calls)
 * does not hold up /healthz on another. */
#define KAPI_THREADS 4

struct kapi;

/* --listen is parsed by mgc__listen_parse() (lib/listen.h). */

struct kna;

/* Start serving on listen (default 127.0.0.1:8787).  token: the bearer
 * token every request but /healthz must carry, or NULL (allowed only on
 * loopback: MGCALL_E_USAGE otherwise).  nauth (borrowed, may be NULL):
 * POST /notifications also takes Graph's signed bearer JWT it verifies
 * (keeper/notify_auth.h), and nothing anonymous.  allowed_hosts: host
 * names a Host or Origin header may carry besides the listen address
 * (--allowed-host; NULL-terminated, may be NULL; copied).  core is
 * borrowed.  On success *port is the bound port (useful with port 0). */
int kapi_start(const char *listen, const char *token, struct kna *nauth,
               const char *const *allowed_hosts, struct kcore *core,
               struct kapi **out, unsigned *port, struct mgc_err *err);

/* Stop accepting and answering (requests waiting for notification keys
 * are released first); NULL is a no-op. */
void kapi_stop(struct kapi *api);

#endif
