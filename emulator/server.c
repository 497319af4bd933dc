/* SPDX-License-Identifier: MIT */
/* server.c - start and stop the emulator's transports: the listener
 * (front.c) owns the listening socket and serves HTTP/2 itself (h2.c);
 * HTTP/1.1 connections go to libmicrohttpd (http1.c).  Both feed the
 * router (router.c). */
#include "server.h"

#include "front.h"
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
  atomic_store(&s->no_http2, o->no_http2);
  atomic_store(&s->max_concurrent_streams, o->max_concurrent_streams);
  atomic_store(&s->max_requests_per_conn, o->max_requests_per_conn);
  /* libmicrohttpd without a socket or TLS of its own: front.c hands it
   * the HTTP/1.1 connections */
  if(emu_http1_start(s, o, -1, NULL, NULL, err, errlen))
    return -1;
  int code;
  s->front = emu_front_start(s, listen_fd, s->tls_cert_pem, s->tls_key_pem,
                             &code, err, errlen);
  return s->front ? 0 : code;
}

void emu_server_stop(struct emu_server *s)
{
  /* no new connections; HTTP/2 streams in flight finish (2 s at most) */
  emu_front_stop(s->front);
  emu_delay_stop(s->delay); /* suspended connections must be resumed */
  /* Let requests in flight (delayed ones included) finish, 2 s at most. */
  for(int i = 0; s->daemon && i < 200 && atomic_load(&s->inflight) > 0; i++) {
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
  emu_http1_stop(s);
  emu_front_free(s->front);
  s->front = NULL;
  free(s->tls_cert_pem);
  if(s->tls_key_pem)
    OPENSSL_cleanse(s->tls_key_pem, strlen(s->tls_key_pem));
  free(s->tls_key_pem);
  s->tls_cert_pem = s->tls_key_pem = NULL;
}

json_t *emu_server_protocol_stats(struct emu_server *s)
{
#define N(x) ((json_int_t)atomic_load(&(x)))
  return json_pack(
      "{s:{s:I,s:I},s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}}", "http/1.1",
      "connections", N(s->connections_by_proto[EMU_PROTO_H1]), "requests",
      N(s->requests_by_proto[EMU_PROTO_H1]), "h2", "connections",
      N(s->connections_by_proto[EMU_PROTO_H2]), "requests",
      N(s->requests_by_proto[EMU_PROTO_H2]), "streams", N(s->h2_streams),
      "maxConcurrentStreams", N(s->h2_max_concurrent),
      "maxConcurrentStreamsSetting", N(s->max_concurrent_streams), "goaways",
      N(s->h2_goaways), "goawayFaults", N(s->h2_goaway_faults),
      "rstStreamFaults", N(s->h2_rst_faults), "resetFaults", N(s->h2_resets));
#undef N
}

int emu_server_limits_take(struct emu_server *s, json_t *obj,
                           struct emu_conn_limits *lim, char *err,
                           size_t errlen)
{
  (void)s;
  memset(lim, 0, sizeof(*lim));
  if(!json_is_object(obj))
    return 0; /* emu_faults_from_json() says what is wrong */
  json_t *v = json_object_get(obj, "maxConcurrentStreams");
  if(v) {
    json_int_t n = json_integer_value(v);
    if(!json_is_integer(v) || n < 1 || n > 1000000) {
      snprintf(err, errlen, "maxConcurrentStreams: from 1 to 1000000");
      return -1;
    }
    lim->has_streams = 1;
    lim->streams = (uint32_t)n;
    json_object_del(obj, "maxConcurrentStreams");
  }
  v = json_object_get(obj, "maxRequestsPerConnection");
  if(v) {
    json_int_t n = json_integer_value(v);
    if(!json_is_integer(v) || n < 0) {
      snprintf(err, errlen, "maxRequestsPerConnection: 0 (no limit) or more");
      return -1;
    }
    lim->has_requests = 1;
    lim->requests = (uint64_t)n;
    json_object_del(obj, "maxRequestsPerConnection");
  }
  v = json_object_get(obj, "http2");
  if(v) {
    if(!json_is_boolean(v)) {
      snprintf(err, errlen, "http2: true or false");
      return -1;
    }
    lim->has_http2 = 1;
    lim->http2 = json_is_true(v);
    json_object_del(obj, "http2");
  }
  return 0;
}

void emu_server_limits_apply(struct emu_server *s,
                             const struct emu_conn_limits *lim)
{
  if(lim->has_streams)
    atomic_store(&s->max_concurrent_streams, lim->streams);
  if(lim->has_requests)
    atomic_store(&s->max_requests_per_conn, lim->requests);
  if(lim->has_http2)
    atomic_store(&s->no_http2, !lim->http2);
}

json_t *emu_server_limits_json(struct emu_server *s)
{
  return json_pack("{s:I,s:I,s:b}", "maxConcurrentStreams",
                   (json_int_t)atomic_load(&s->max_concurrent_streams),
                   "maxRequestsPerConnection",
                   (json_int_t)atomic_load(&s->max_requests_per_conn), "http2",
                   !atomic_load(&s->no_http2));
}
