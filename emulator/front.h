/* SPDX-License-Identifier: MIT */
/* front.h - the emulator's listener: accepts every connection on the
 * listening socket and tells the protocols apart.  Cleartext: a client that
 * opens with the HTTP/2 preface ("PRI * HTTP/2.0", h2c with prior
 * knowledge) is served by h2.c, any other goes to libmicrohttpd (http1.c)
 * as it is.  TLS (OpenSSL): the handshake offers "h2" and "http/1.1" by
 * ALPN; h2 is served by h2.c, HTTP/1.1 by libmicrohttpd through a socket
 * pair (this loop holds the TLS and copies the plain bytes).  Event loops
 * on epoll, one thread each; nothing in them blocks.  Internal to
 * emulator/. */
#ifndef EMU_FRONT_H
#define EMU_FRONT_H

#include <stddef.h>

struct emu_server;
struct emu_front;

/* Start serving listen_fd (taken over on success; closed by
 * emu_front_free) with TLS
 * when cert_pem is set.  NULL with err set (-2 in *code: the certificate or
 * key cannot be used, a usage error; else -1). */
struct emu_front *emu_front_start(struct emu_server *s, int listen_fd,
                                  const char *cert_pem, const char *key_pem,
                                  int *code, char *err, size_t errlen);
/* Stop accepting; HTTP/2 sessions get a graceful GOAWAY and at most 2 s to
 * finish their streams; then every connection is closed and the threads
 * end.  NULL is a no-op. */
void emu_front_stop(struct emu_front *f);
void emu_front_free(struct emu_front *f);

#endif
