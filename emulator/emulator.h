/* SPDX-License-Identifier: MIT */
/* emulator.h - `mgcall emulator`: options and the entry point that runs the
 * server until SIGINT or SIGTERM.  See docs/mgcall-emulator.md. */
#ifndef EMU_EMULATOR_H
#define EMU_EMULATOR_H

#include "faults.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define EMU_MAX_REGISTRATIONS 64

struct emu_options {
  const char *listen; /* ADDR:PORT, default 127.0.0.1:8443 */
  const char *tls_cert, *tls_key;
  int64_t inactivity_ms;                      /* default 45 min */
  int64_t establish_ms;                       /* default 500 ms */
  int64_t retention_ms;                       /* default 10 min */
  int64_t token_lifetime_s;                   /* default 3600 */
  const char *clients[EMU_MAX_REGISTRATIONS]; /* ID:SECRET */
  size_t nclients;
  const char *client_certs[EMU_MAX_REGISTRATIONS]; /* ID:CERT.pem */
  size_t ncerts;
  const char *managed[EMU_MAX_REGISTRATIONS]; /* CLIENT_ID[@TENANT] */
  size_t nmanaged;
  const char *roles; /* NULL: Calls.Initiate.All */
  struct emu_faults_config faults;
  const char *record; /* --record FILE */
  const char *state;  /* --state FILE */
  const char *callback_cacert;
  const char *notification_key;    /* --notification-key PEM, or NULL */
  const char *token_key;           /* --token-key PEM, or NULL */
  int unsigned_callbacks;          /* --unsigned-callbacks */
  int notification_reorder;        /* --notification-reorder */
  unsigned threads;                /* 0: default */
  uint32_t max_concurrent_streams; /* HTTP/2 SETTINGS (default 100) */
  uint64_t max_requests_per_conn;  /* then GOAWAY / Connection: close; 0 */
  int no_http2;       /* --no-http2: HTTP/1.1 only (no h2 by ALPN, no h2c) */
  uint32_t max_calls; /* 0: default */
};

void emu_options_default(struct emu_options *o);

/* Run the emulator: bind, print the "listening on" line to stdout, serve
 * until SIGINT/SIGTERM, shut down cleanly.  Errors go to stderr git style.
 * Returns an exit status (0, or MGCALL_E_USAGE / MGCALL_E_INTERNAL).
 * The caller has initialised libcurl (mgcall_global_init in main). */
int emu_run(const struct emu_options *o);

/* Parse "127.0.0.1:8443", "[::1]:0", "localhost:8080", "0.0.0.0:80" into
 * addr; url_host gets the host as it goes in a URL ("[::1]").  0 or -1. */
int emu_parse_listen(const char *s, struct sockaddr_storage *addr,
                     socklen_t *addrlen, char *url_host, size_t hostlen);

#endif
