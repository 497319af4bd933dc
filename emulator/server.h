/* SPDX-License-Identifier: MIT */
/* server.h - the emulator's server: the state its transports (http1.c,
 * h2.c) and the router (router.c) share with the endpoint modules.
 * Internal to emulator/. */
#ifndef EMU_SERVER_H
#define EMU_SERVER_H

#include "calls.h"
#include "delay.h"
#include "emulator.h"
#include "faults.h"
#include "identity.h"
#include "notify.h"
#include "router.h"

#include <jansson.h>

#include <microhttpd.h>
#include <stdatomic.h>

struct emu_record;

struct emu_server {
  struct MHD_Daemon *daemon; /* HTTP/1.1 (http1.c) */
  struct emu_front *front;   /* the listener, HTTP/2 (front.c, h2.c) */
  int tls;
  atomic_int no_http2; /* --no-http2, or PUT {"http2": false} */
  int family;
  int loopback; /* the listener is on a loopback address (guard.h) */
  char base_url[320]; /* as printed: http://127.0.0.1:PORT */
  char *tls_cert_pem, *tls_key_pem;
  int64_t started_ms;

  struct emu_calls *calls;
  struct emu_identity *identity;
  struct emu_faults *faults;
  struct emu_notify *notify;
  struct emu_nsign *nsign; /* the notification key (notify_sign.h) */
  struct emu_record *record;
  struct emu_delay *delay; /* --latency without blocking workers */

  _Atomic uint64_t by_status[600];
  _Atomic uint64_t requests, tokens_issued, keepalives_404;
  /* per protocol (enum emu_proto): requests answered, connections opened */
  _Atomic uint64_t requests_by_proto[2], connections_by_proto[2];
  _Atomic uint64_t next_conn_id;
  /* --max-requests-per-connection (0: no limit) */
  _Atomic uint64_t max_requests_per_conn;
  /* --max-concurrent-streams: SETTINGS of new HTTP/2 connections */
  _Atomic uint32_t max_concurrent_streams;
  /* HTTP/2: streams begun, the most open at once on one connection,
   * graceful GOAWAYs (--max-requests-per-connection), injected GOAWAYs,
   * RST_STREAMs and connection resets */
  _Atomic uint64_t h2_streams, h2_max_concurrent, h2_goaways;
  _Atomic uint64_t h2_goaway_faults, h2_rst_faults, h2_resets;
  atomic_int inflight;       /* requests begun and not completed */
  _Atomic size_t body_bytes; /* request body memory held (EMU_BODY_BUDGET) */
};

/* Start serving on listen_fd (already bound and listening).  0, or with err
 * set -2 (the certificate or key file cannot be read: a usage error) or -1. */
int emu_server_start(struct emu_server *s, const struct emu_options *o,
                     int listen_fd, char *err, size_t errlen);
/* Stop accepting, finish in-flight requests, free the server's buffers. */
void emu_server_stop(struct emu_server *s);

/* "protocols" of /_emulator/stats: connections and requests per protocol
 * (new reference). */
json_t *emu_server_protocol_stats(struct emu_server *s);

/* The connection limits in PUT/GET /_emulator/faults:
 * "maxConcurrentStreams" (1..1000000, for new HTTP/2 connections),
 * "maxRequestsPerConnection" (0: none) and "http2" (false: new
 * connections get HTTP/1.1 only, as --no-http2). */
struct emu_conn_limits {
  int has_streams, has_requests, has_http2;
  int http2;
  uint32_t streams;
  uint64_t requests;
};
/* Take (check and remove) the limits from obj into lim, unapplied.  0, or
 * -1 with err set. */
int emu_server_limits_take(struct emu_server *s, json_t *obj,
                           struct emu_conn_limits *lim, char *err,
                           size_t errlen);
void emu_server_limits_apply(struct emu_server *s,
                             const struct emu_conn_limits *lim);
/* The current limits as JSON (new reference). */
json_t *emu_server_limits_json(struct emu_server *s);

/* The call store's event hook: sends commsNotifications.  ctx is the
 * emu_server. */
void emu_server_event(void *ctx, enum emu_call_event ev,
                      const struct emu_call_info *call);

#endif
