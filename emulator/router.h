/* SPDX-License-Identifier: MIT */
/* router.h - the emulator's request handling, independent of the transport:
 * a request (method, target, headers, body) in, an answer (status, headers,
 * body, a delay, or a connection-level fault) out.  The transports
 * (http1.c: HTTP/1.1 on libmicrohttpd; h2.c: HTTP/2 on nghttp2) feed it and
 * send what it answers.  Internal to emulator/. */
#ifndef EMU_ROUTER_H
#define EMU_ROUTER_H

#include "identity.h"
#include "mgcx.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct emu_server;

enum emu_proto { EMU_PROTO_H1 = 0, EMU_PROTO_H2 = 1 };

struct emu_header {
  const char *name; /* any case; compared without case */
  const char *value;
};

/* What the transport does instead of (or as well as) answering. */
enum emu_action {
  EMU_ACT_ANSWER = 0, /* send status, headers, body */
  EMU_ACT_RESET,      /* close the connection at once, streams in flight */
  EMU_ACT_GOAWAY,     /* HTTP/2: GOAWAY below the streams in flight, close
                         (HTTP/1.1: as RESET) */
  EMU_ACT_RST_STREAM  /* HTTP/2: RST_STREAM this stream (HTTP/1.1: RESET) */
};

#define EMU_RESPONSE_MAX_HEADERS 16

/* A streamed body: read() gives up to max bytes, 0 at the end, -1 on an
 * error (the transport aborts the answer); release() frees cls. */
struct emu_body_reader {
  ssize_t (*read)(void *cls, char *buf, size_t max);
  void (*release)(void *cls);
  void *cls;
};

struct emu_response {
  int status;
  enum emu_action action;
  uint32_t h2_error;  /* GOAWAY / RST_STREAM error code */
  int64_t latency_ms; /* answer this much later (never blocking) */
  size_t nheaders;
  struct {
    char *name, *value;
  } headers[EMU_RESPONSE_MAX_HEADERS];
  char *body; /* malloc'd (may be NULL: empty), or reader */
  size_t len;
  struct emu_body_reader reader;
};

/* One request.  The transport sets the first block, zeroes the rest, and
 * keeps method, target and headers valid until emu_exchange_release(). */
struct emu_exchange {
  struct emu_server *srv;
  enum emu_proto proto;
  uint64_t conn_id;   /* the connection's number (1, 2, ...) */
  uint32_t stream_id; /* HTTP/2 stream id, 0 on HTTP/1.1 */
  const char *method;
  const char *target; /* as sent: path and query */
  const struct emu_header *headers;
  size_t nheaders;
  int keep_alive_closes; /* the answer closes the connection
                            (--max-requests-per-connection) */

  /* the router's */
  int started;
  struct mgcx_buf body; /* max EMU_MAX_BODY (set by emu_router_headers) */
  size_t reserved;      /* bytes of the server's body budget held (>= cap) */
  int too_big;
  int over_budget;
  int has_body;
  int authorized;
  struct emu_principal who;
};

/* The request line and headers are in: 1 when out holds the answer (an
 * error decided from them, before any body byte), 0 when the body is to be
 * read (emu_router_body) and emu_router_finish called. */
int emu_router_headers(struct emu_exchange *x, struct emu_response *out);
/* Body bytes (any pieces).  0, or -1 when out of memory. */
int emu_router_body(struct emu_exchange *x, const char *data, size_t n);
/* The whole request is in: the answer. */
void emu_router_finish(struct emu_exchange *x, struct emu_response *out);
/* Free the router's part of x (the body and its budget). */
void emu_exchange_release(struct emu_exchange *x);
/* Free what out holds; out may be reused. */
void emu_response_release(struct emu_response *out);

/* A header of x by name (first one), or NULL. */
const char *emu_exchange_header(const struct emu_exchange *x, const char *name);

#endif
