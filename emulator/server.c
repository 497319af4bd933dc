/* SPDX-License-Identifier: MIT */
/* server.c - start and stop the emulator's transport on its listening
 * socket: HTTP/1.1 (http1.c) feeding the router (router.c). */
#include "server.h"

#include "http1.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A certificate chain or key file larger than this is refused at start. */
#define EMU_PEM_FILE_MAX (4 * 1024 * 1024)

/* The whole of a certificate or key file, NUL-terminated (caller frees), or
 * NULL with err set: unreadable, a read error, larger than
 * EMU_PEM_FILE_MAX, or out of memory.  Never a silently shortened file. */
static char *read_file(const char *path, char *err, size_t errlen)
{
  FILE *f = fopen(path, "rb");
  if(!f) {
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 16 * 1024, len = 0;
  char *buf = malloc(cap + 1);
  while(buf) {
    len += fread(buf + len, 1, cap - len, f);
    if(len < cap)
      break; /* end of file or an error, told apart below */
    if(cap >= EMU_PEM_FILE_MAX) {
      snprintf(err, errlen, "cannot read %s: %d bytes or more", path,
               EMU_PEM_FILE_MAX);
      free(buf);
      fclose(f);
      return NULL;
    }
    cap *= 2;
    char *bigger = realloc(buf, cap + 1);
    if(!bigger) {
      free(buf);
      buf = NULL;
    }
    else
      buf = bigger;
  }
  int failed = ferror(f);
  int saved = errno;
  fclose(f);
  if(!buf) {
    snprintf(err, errlen, "cannot read %s: out of memory", path);
    return NULL;
  }
  if(failed) {
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(saved));
    free(buf);
    return NULL;
  }
  buf[len] = '\0';
  return buf;
}

int emu_server_start(struct emu_server *s, const struct emu_options *o,
                     int listen_fd, char *err, size_t errlen)
{
  if(o->tls_cert) {
    s->tls_cert_pem = read_file(o->tls_cert, err, errlen);
    if(!s->tls_cert_pem)
      return -2;
    s->tls_key_pem = read_file(o->tls_key, err, errlen);
    if(!s->tls_key_pem)
      return -2;
    s->tls = 1;
  }
  return emu_http1_start(s, o, listen_fd, s->tls_cert_pem, s->tls_key_pem, err,
                         errlen);
}

void emu_server_stop(struct emu_server *s)
{
  emu_http1_quiesce(s);     /* no new connections */
  emu_delay_stop(s->delay); /* suspended connections must be resumed */
  /* Let requests in flight (delayed ones included) finish, 2 s at most. */
  for(int i = 0; s->daemon && i < 200 && atomic_load(&s->inflight) > 0; i++) {
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
  emu_http1_stop(s);
  free(s->tls_cert_pem);
  if(s->tls_key_pem)
    OPENSSL_cleanse(s->tls_key_pem, strlen(s->tls_key_pem));
  free(s->tls_key_pem);
  s->tls_cert_pem = s->tls_key_pem = NULL;
}

json_t *emu_server_protocol_stats(struct emu_server *s)
{
  return json_pack(
      "{s:{s:I,s:I},s:{s:I,s:I}}", "http/1.1", "connections",
      (json_int_t)atomic_load(&s->connections_by_proto[EMU_PROTO_H1]),
      "requests", (json_int_t)atomic_load(&s->requests_by_proto[EMU_PROTO_H1]),
      "h2", "connections",
      (json_int_t)atomic_load(&s->connections_by_proto[EMU_PROTO_H2]),
      "requests", (json_int_t)atomic_load(&s->requests_by_proto[EMU_PROTO_H2]));
}
