/* SPDX-License-Identifier: MIT */
/* api_guard.h - what protects the control API from hostile clients before
 * a handler runs (docs/security.md): the Host, Origin and Content-Type
 * rules (browser CSRF, DNS rebinding), one memory budget for the request
 * and response bodies of all connections, a bound on the time a request's
 * headers may take in total (slowloris), and a rate limit on the log
 * lines attackers can cause.  The header rules are plain functions (no
 * I/O, fuzzed by fuzz/fuzz_keeper_api.c); the time bound is a watchdog
 * thread fed by libmicrohttpd's connection notifications. */
#ifndef MGCALL_KEEPER_API_GUARD_H
#define MGCALL_KEEPER_API_GUARD_H

#include "mgc_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Request and response bodies held in memory by all connections at once. */
#define KGUARD_BODY_BUDGET (64u * 1024 * 1024)
/* A request's headers (from the connection's first byte, or the end of its
 * previous request) must be complete within this; a body within
 * KGUARD_BODY_MS after that. */
#define KGUARD_HEADER_MS 10000
#define KGUARD_BODY_MS 60000
/* Connections at once, and from one client address. */
#define KGUARD_MAX_CONNECTIONS 256
#define KGUARD_PER_ADDRESS 32
/* At most this many guard/libmicrohttpd warnings per window; the rest are
 * counted and summed up in one line. */
#define KGUARD_LOG_BURST 5
#define KGUARD_LOG_WINDOW_MS 10000

struct kguard;

/* listen: the bound address (copied); allowed: --allowed-host names
 * (copied; NULL-terminated, may be NULL).  NULL on out of memory. */
struct kguard *kguard_new(const struct sockaddr *listen, socklen_t len,
                          const char *const *allowed);
/* Start the watchdog thread; 0 or -1. */
int kguard_start(struct kguard *g);
/* Stop the watchdog; NULL is a no-op.  kguard_free() after the server has
 * stopped (no connection left). */
void kguard_stop(struct kguard *g);
void kguard_free(struct kguard *g);

/* ---- header rules (no I/O) ---- */

/* 1 when a Host header value may reach the API: its name part is an IP
 * address literal equal to the listen address (any literal when listening
 * on a wildcard address), "localhost" when the listen address is loopback,
 * or one of the allowed names (case-insensitive); the port is not
 * compared.  A missing Host (NULL, HTTP/1.0) is accepted: browsers always
 * send one. */
int kguard_host_ok(const struct kguard *g, const char *host);
/* 1 when an Origin header value is acceptable: absent (NULL), or
 * http(s)://HOST[:PORT] with a HOST kguard_host_ok() accepts.  "null" and
 * everything else are refused. */
int kguard_origin_ok(const struct kguard *g, const char *origin);
/* 1 when a Content-Type names application/json (parameters allowed). */
int kguard_is_json(const char *content_type);

/* The call id of a request line's URI as sent (raw), "/calls/<id>" with
 * an optional "?query": percent-decoded here, so a %00 is seen (the path
 * libmicrohttpd decodes ends at it).  A malloc'd id (caller frees), or NULL
 * for another path, a bad %-escape, a NUL, or an id mgc__call_id_ok()
 * refuses. */
char *kguard_path_id(const char *raw_uri);

/* ---- body memory ---- */

/* Take n bytes of the budget: 0, or -1 when that would exceed it. */
int kguard_reserve(struct kguard *g, size_t n);
void kguard_release(struct kguard *g, size_t n);
/* Bytes taken now. */
size_t kguard_in_use(const struct kguard *g);

/* ---- connections (libmicrohttpd callbacks pass through these) ---- */

/* A connection opened (fd its socket); *ctx receives the guard's record. */
void kguard_conn_open(struct kguard *g, int fd, void **ctx);
/* Its headers are complete (body time starts), or its request ended (the
 * next request's header time starts). */
void kguard_conn_headers_done(struct kguard *g, void *ctx);
void kguard_conn_request_done(struct kguard *g, void *ctx);
/* It closed: the record is freed (before the socket is closed). */
void kguard_conn_closed(struct kguard *g, void **ctx);
/* Connections cut by the time bounds so far. */
uint64_t kguard_cut_total(const struct kguard *g);

/* ---- log rate limit ---- */

/* 1 when a warning may be logged now; else it is counted.  *suppressed
 * receives the count of lines dropped since the last allowed one (log
 * that first). */
int kguard_log_allowed(struct kguard *g, uint64_t *suppressed);

#endif
