/* SPDX-License-Identifier: MIT */
/* h2.h - the emulator's HTTP/2 transport: one nghttp2 server session per
 * connection, fed bytes by front.c (which owns the socket, TLS and the
 * event loop) and feeding router.h.  Nothing here blocks or touches a
 * socket.  One thread per session.  Internal to emulator/. */
#ifndef EMU_H2_H
#define EMU_H2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct emu_server;
struct emu_h2;

/* A server session for connection conn_id; sends its SETTINGS
 * (SETTINGS_MAX_CONCURRENT_STREAMS from the server's current limit).  NULL
 * when out of memory. */
struct emu_h2 *emu_h2_new(struct emu_server *s, uint64_t conn_id);
void emu_h2_free(struct emu_h2 *h);

/* Bytes from the client.  0, or -1: a protocol error or a "reset" fault,
 * close the connection now. */
int emu_h2_recv(struct emu_h2 *h, const uint8_t *data, size_t n);
/* The next bytes to send (valid until the next call): their length, 0 when
 * there is nothing, -1 on a fatal error. */
ssize_t emu_h2_pull(struct emu_h2 *h, const uint8_t **data);
/* 1 when the session is over (GOAWAY exchanged, nothing left to send):
 * close the connection once the bytes pulled are written. */
int emu_h2_done(struct emu_h2 *h);
/* 1 when a "reset" fault asks to close the connection at once. */
int emu_h2_aborted(struct emu_h2 *h);
/* Answers held back by --latency: the monotonic time (emu_now_ms) of the
 * next one, or -1; emu_h2_tick() sends those due at now_ms. */
int64_t emu_h2_next_due(struct emu_h2 *h);
void emu_h2_tick(struct emu_h2 *h, int64_t now_ms);
/* Streams open (requests not yet answered and closed). */
size_t emu_h2_streams(struct emu_h2 *h);
/* The server stops (or the session is idle): a graceful GOAWAY (streams in
 * flight are finished, later ones refused); answers held back by a latency
 * are sent at once, as HTTP/1.1's are when the server stops. */
void emu_h2_shutdown(struct emu_h2 *h);

#endif
