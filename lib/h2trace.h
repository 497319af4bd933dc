/* SPDX-License-Identifier: MIT */
/* h2trace.h - what libcurl's informational trace says about HTTP/2
 * streams: which connection a transfer uses, its stream id, the
 * last-stream-id of a GOAWAY, and that a connection speaks HTTP/2.  From these
 * the batch knows a stream the server provably did not process (RFC 9113
 * section 6.8: an id above the last-stream-id of a GOAWAY on the same
 * connection), the only kind it sends again at once without using a retry. Used
 * by lib/batch.c. */
#ifndef MGCALL_H2TRACE_H
#define MGCALL_H2TRACE_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

enum mgc_h2t_kind {
  MGC_H2T_NONE, /* a line that says nothing of this */
  MGC_H2T_CONN, /* "Connected to ... (#N)", "Re-using existing connection #N" */
  MGC_H2T_STREAM, /* "Using Stream ID: N (easy handle ...)" */
  MGC_H2T_GOAWAY, /* "rec(v)eived GOAWAY, error=E, last_stream=N" */
  MGC_H2T_H2      /* "using HTTP/2": a connection speaks HTTP/2 */
};

struct mgc_h2t_line {
  enum mgc_h2t_kind kind;
  long conn;   /* MGC_H2T_CONN: libcurl's connection number */
  uint32_t id; /* MGC_H2T_STREAM: the stream id; GOAWAY: last-stream-id */
};

/* One CURLINFO_TEXT chunk (not NUL-terminated; one line, maybe ending in
 * '\n').  Returns the kind (also in out->kind); anything not exactly in
 * one of the forms above (libcurl 7.88's, and "received" of later
 * versions) is MGC_H2T_NONE. */
enum mgc_h2t_kind mgc__h2trace_parse(const char *text, size_t len,
                                     struct mgc_h2t_line *out);

/* What the trace told of one transfer's current stream. */
struct mgc_h2t_stream {
  long conn;   /* -1: not known */
  uint32_t id; /* 0: no stream yet */
  int refused; /* a GOAWAY on its connection had a lower last-stream-id */
};

/* A new attempt: nothing known. */
void mgc__h2trace_start(struct mgc_h2t_stream *s);

/* A line seen on the transfer's own handle (MGC_H2T_CONN, MGC_H2T_STREAM;
 * a new connection or stream forgets what was known of the old one). */
void mgc__h2trace_own(struct mgc_h2t_stream *s, const struct mgc_h2t_line *l);

/* A GOAWAY with last-stream-id last was received on connection conn (the
 * connection of the handle whose trace said so): s is refused when its
 * stream is on that connection with a higher id. */
void mgc__h2trace_goaway(struct mgc_h2t_stream *s, long conn, uint32_t last);

/* 1 when a transfer that ended with rc and HTTP status (0: no answer) was
 * provably not processed by the server: no answer, a failure, and a GOAWAY
 * refused its stream. */
int mgc__h2trace_unprocessed(CURLcode rc, long status,
                             const struct mgc_h2t_stream *s);

#endif
