/* SPDX-License-Identifier: MIT */
/* listen.h - the ADDR:PORT of a --listen option (the emulator, the keeper's
 * control API).  No I/O. */
#ifndef MGCALL_LISTEN_H
#define MGCALL_LISTEN_H

#include <sys/socket.h>

/* Parse s: "IPv4:PORT", "[IPv6]:PORT", "localhost:PORT" or ":PORT" (both
 * 127.0.0.1).  PORT is 0..65535 in decimal digits (0 = any free port).  On
 * success returns 0 and fills *ss, *len and, when not NULL, *loopback (1 for
 * 127.0.0.0/8 and ::1).  Returns -1 for anything else: host names, an IPv6
 * address without brackets, an IPv4 address in brackets, a bad port. */
int mgc__listen_parse(const char *s, struct sockaddr_storage *ss,
                      socklen_t *len, int *loopback);

#endif
