/* SPDX-License-Identifier: MIT */
/* fuzz_emu_h2.c - the emulator's HTTP/2 session (emulator/h2.c over
 * nghttp2, and the router behind it) on arbitrary bytes from a client: the
 * input follows the client preface and is fed in pieces of varying size;
 * every answer is pulled, answers held by latency are released.  Checks that
 * nothing crashes or leaks (ASan) and that the session never asks to send
 * bytes after it is done.  One emulator server, built once, with open-mode
 * tokens. */
#include "h2.h"
#include "notify_sign.h"
#include "server.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct emu_server *server(void)
{
  static struct emu_server *s;
  if(s)
    return s;
  char err[256];
  s = calloc(1, sizeof(*s));
  struct emu_calls_config cc = {45LL * 60 * 1000, 500, 600000, 0, NULL};
  struct emu_faults_config fc;
  emu_faults_config_default(&fc);
  struct emu_identity_config ic = {3600, NULL, NULL, NULL};
  if(!s || !(s->calls = emu_calls_new(&cc, emu_server_event, s)) ||
     !(s->faults = emu_faults_new(&fc)) ||
     !(s->notify = emu_notify_new(NULL)) ||
     !(s->identity = emu_identity_new(&ic, err, sizeof(err))) ||
     !(s->nsign = emu_nsign_new(NULL, err, sizeof(err)))) {
    fprintf(stderr, "fuzz_emu_h2: set-up failed\n");
    abort();
  }
  s->family = AF_INET;
  snprintf(s->base_url, sizeof(s->base_url), "http://127.0.0.1:1");
  atomic_store(&s->max_concurrent_streams, 100);
  return s;
}

/* Pull everything the session has to send. */
static void drain(struct emu_h2 *h)
{
  for(int i = 0; i < 10000; i++) {
    const uint8_t *out;
    ssize_t n = emu_h2_pull(h, &out);
    if(n <= 0)
      return;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  struct emu_server *s = server();
  struct emu_h2 *h = emu_h2_new(s, 1);
  if(!h)
    return 0;
  int ok = !emu_h2_recv(h, (const uint8_t *)preface, sizeof(preface) - 1);
  size_t off = 0, piece = 1;
  while(ok && off < size) {
    size_t n = size - off < piece ? size - off : piece;
    ok = !emu_h2_recv(h, data + off, n);
    drain(h);
    off += n;
    piece = piece * 3 % 4093 + 1; /* 1, 4, 13, 40, ... bytes */
  }
  if(ok) {
    emu_h2_tick(h, INT64_MAX); /* answers held by latency */
    drain(h);
  }
  emu_h2_free(h);
  return 0;
}
