/* SPDX-License-Identifier: MIT */
/* http1.h - the emulator's HTTP/1.1 transport: libmicrohttpd (internal
 * thread pool, epoll) feeding router.h.  Internal to emulator/. */
#ifndef EMU_HTTP1_H
#define EMU_HTTP1_H

#include <stddef.h>
#include <sys/socket.h>

struct emu_server;
struct emu_options;

/* Start libmicrohttpd.  listen_fd >= 0: it serves that socket itself (with
 * TLS when cert_pem is set); -1: it has no listening socket and gets its
 * connections from emu_http1_add() (cleartext).  0, or -1 with err set. */
int emu_http1_start(struct emu_server *s, const struct emu_options *o,
                    int listen_fd, const char *cert_pem, const char *key_pem,
                    char *err, size_t errlen);
/* Hand a connected socket over (it is closed on failure).  0 or -1. */
int emu_http1_add(struct emu_server *s, int fd, const struct sockaddr *addr,
                  socklen_t addrlen);
/* No new connections. */
void emu_http1_quiesce(struct emu_server *s);
/* Stop, closing every connection. */
void emu_http1_stop(struct emu_server *s);

#endif
