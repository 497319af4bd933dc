/* SPDX-License-Identifier: MIT */
/* http1.c - HTTP/1.1 on libmicrohttpd: a request's headers and body go to
 * the router, its answer becomes an MHD_Response; --latency suspends the
 * connection (delay.c resumes it); --max-requests-per-connection answers
 * the last request with "Connection: close". */
#include "http1.h"

#include "router.h"
#include "server.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* Per-connection memory of libmicrohttpd: bounds the request headers (431
 * beyond) and is cleared for every request, so not larger than needed. */
#define EMU_CONNECTION_MEMORY (24 * 1024)
/* A connection that sends nothing for this long is closed: one that has
 * not completed its request, or an idle keep-alive one (a few seconds, so
 * idle connections cannot hold the connection slots). */
#define EMU_IDLE_TIMEOUT_S 5
#define EMU_MAX_CONNECTIONS 32768
#define EMU_FD_RESERVE 256

/* Per connection. */
struct h1conn {
  uint64_t id;
  uint64_t requests;
};

/* Per request. */
struct h1req {
  struct emu_exchange x;
  char *target; /* the request target as sent */
  struct emu_header *hdrs;
  size_t nhdrs, hcap;
  struct emu_response pending; /* answer held back by --latency */
  int has_pending;
  int answered;
};

/* Called once per request with the request target as sent. */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
  (void)conn;
  struct emu_server *s = cls;
  struct h1req *r = calloc(1, sizeof(*r));
  if(!r)
    return NULL;
  r->target = strndup(uri ? uri : "/", 8192);
  if(!r->target) {
    free(r);
    return NULL;
  }
  atomic_fetch_add(&s->inflight, 1);
  return r;
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
  (void)kind;
  struct h1req *r = cls;
  if(r->nhdrs == r->hcap) {
    size_t cap = r->hcap ? r->hcap * 2 : 16;
    struct emu_header *h = realloc(r->hdrs, cap * sizeof(*h));
    if(!h)
      return MHD_NO;
    r->hdrs = h;
    r->hcap = cap;
  }
  r->hdrs[r->nhdrs].name = key;
  r->hdrs[r->nhdrs].value = value ? value : "";
  r->nhdrs++;
  return MHD_YES;
}

struct reader {
  struct emu_body_reader r;
};

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
  (void)pos;
  struct reader *rd = cls;
  ssize_t n = rd->r.read(rd->r.cls, buf, max);
  if(n < 0)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  if(n == 0)
    return MHD_CONTENT_READER_END_OF_STREAM;
  return n;
}

static void free_reader(void *cls)
{
  struct reader *rd = cls;
  rd->r.release(rd->r.cls);
  free(rd);
}

/* Queue out (consumed) on conn. */
static enum MHD_Result send_answer(struct MHD_Connection *conn,
                                   struct emu_response *out)
{
  if(out->action != EMU_ACT_ANSWER) { /* HTTP/1.1: all close the connection */
    emu_response_release(out);
    return MHD_NO;
  }
  struct MHD_Response *resp;
  if(out->reader.read) {
    struct reader *rd = malloc(sizeof(*rd));
    if(!rd) {
      emu_response_release(out);
      return MHD_NO;
    }
    rd->r = out->reader;
    memset(&out->reader, 0, sizeof(out->reader));
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                             read_body, rd, free_reader);
    if(!resp)
      free_reader(rd);
  }
  else {
    resp = MHD_create_response_from_buffer(
        out->len, out->body ? out->body : (void *)"",
        out->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if(resp)
      out->body = NULL; /* the response owns it */
  }
  if(!resp) {
    emu_response_release(out);
    return MHD_NO;
  }
  for(size_t i = 0; i < out->nheaders; i++)
    MHD_add_response_header(resp, out->headers[i].name, out->headers[i].value);
  enum MHD_Result res = MHD_queue_response(conn, (unsigned)out->status, resp);
  MHD_destroy_response(resp);
  emu_response_release(out);
  return res;
}

static enum MHD_Result answer(struct emu_server *s, struct MHD_Connection *conn,
                              struct h1req *r, struct emu_response *out)
{
  r->answered = 1;
  if(out->action == EMU_ACT_ANSWER && out->latency_ms > 0 && s->delay) {
    /* Hold the answer; the delay thread resumes the connection and
     * on_request() queues it then.  No worker thread waits. */
    r->pending = *out;
    r->has_pending = 1;
    MHD_suspend_connection(conn);
    /* +1: the clock is in whole ms; never answer early */
    emu_delay_add(s->delay, conn, emu_now_ms() + out->latency_ms + 1);
    return MHD_YES;
  }
  return send_answer(conn, out);
}

static struct h1conn *conn_of(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
  (void)version;
  (void)url;
  struct emu_server *s = cls;
  struct h1req *r = *con_cls;
  if(!r) /* uri_log() could not allocate */
    return MHD_NO;
  if(r->x.started && *upload_size) {
    int rc = r->answered ? 0 : emu_router_body(&r->x, upload, *upload_size);
    *upload_size = 0;
    return rc ? MHD_NO : MHD_YES;
  }
  if(r->has_pending) { /* resumed after --latency */
    r->has_pending = 0;
    return send_answer(conn, &r->pending);
  }
  if(r->answered)
    return MHD_YES;
  struct emu_response out;
  if(!r->x.started) {
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, r);
    struct h1conn *c = conn_of(conn);
    r->x.srv = s;
    r->x.proto = EMU_PROTO_H1;
    r->x.conn_id = c ? c->id : 0;
    r->x.method = method;
    r->x.target = r->target;
    r->x.headers = r->hdrs;
    r->x.nheaders = r->nhdrs;
    if(c) {
      c->requests++;
      uint64_t max = atomic_load(&s->max_requests_per_conn);
      r->x.keep_alive_closes = max && c->requests >= max;
    }
    if(!emu_router_headers(&r->x, &out))
      return MHD_YES; /* read the body */
    return answer(s, conn, r, &out);
  }
  emu_router_finish(&r->x, &out);
  return answer(s, conn, r, &out);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct emu_server *s = cls;
  (void)conn;
  (void)toe;
  struct h1req *r = *con_cls;
  if(r) {
    if(r->has_pending)
      emu_response_release(&r->pending);
    if(r->x.srv)
      emu_exchange_release(&r->x);
    free(r->hdrs);
    free(r->target);
    atomic_fetch_sub(&s->inflight, 1);
    free(r);
  }
  *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
  (void)conn;
  struct emu_server *s = cls;
  if(toe == MHD_CONNECTION_NOTIFY_STARTED) {
    struct h1conn *c = calloc(1, sizeof(*c));
    if(c)
      c->id = atomic_fetch_add(&s->next_conn_id, 1) + 1;
    *socket_context = c;
    atomic_fetch_add(&s->connections_by_proto[EMU_PROTO_H1], 1);
  }
  else {
    free(*socket_context);
    *socket_context = NULL;
  }
}

/* As many connections as file descriptors allow (the soft limit raised to
 * the hard one first), less EMU_FD_RESERVE for callbacks, files and the
 * server's own; at most EMU_MAX_CONNECTIONS.  Idle ones are closed after
 * EMU_IDLE_TIMEOUT_S, so connections that send nothing cannot hold every
 * slot for long. */
static unsigned connection_limit(void)
{
  struct rlimit rl;
  if(getrlimit(RLIMIT_NOFILE, &rl))
    return 1000;
  if(rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
    struct rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if(raised.rlim_cur == RLIM_INFINITY ||
       raised.rlim_cur > EMU_MAX_CONNECTIONS + EMU_FD_RESERVE)
      raised.rlim_cur = EMU_MAX_CONNECTIONS + EMU_FD_RESERVE;
    if(raised.rlim_cur > rl.rlim_cur && !setrlimit(RLIMIT_NOFILE, &raised))
      rl = raised;
  }
  if(rl.rlim_cur == RLIM_INFINITY ||
     rl.rlim_cur > EMU_MAX_CONNECTIONS + EMU_FD_RESERVE)
    return EMU_MAX_CONNECTIONS;
  if(rl.rlim_cur < EMU_FD_RESERVE + 64)
    return 64;
  return (unsigned)(rl.rlim_cur - EMU_FD_RESERVE);
}

int emu_http1_start(struct emu_server *s, const struct emu_options *o,
                    int listen_fd, const char *cert_pem, const char *key_pem,
                    char *err, size_t errlen)
{
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                   MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
  int tls = listen_fd >= 0 && cert_pem;
  if(tls) {
    if(MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      snprintf(err, errlen, "this libmicrohttpd has no TLS support");
      return -1;
    }
    flags |= MHD_USE_TLS;
  }
  if(listen_fd < 0)
    flags |= MHD_USE_NO_LISTEN_SOCKET;
  if(s->family == AF_INET6)
    flags |= MHD_USE_IPv6;
  unsigned threads = o->threads ? o->threads : 8;
  struct MHD_OptionItem opts[] = {
      {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
      {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
      {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_log, s},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, EMU_CONNECTION_MEMORY, NULL},
      {MHD_OPTION_CONNECTION_TIMEOUT, EMU_IDLE_TIMEOUT_S, NULL},
      {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)connection_limit(), NULL},
      {listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_END, listen_fd,
       NULL},
      {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cert_pem},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key_pem},
      {MHD_OPTION_END, 0, NULL}};
  s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                               MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
  if(!s->daemon) {
    snprintf(err, errlen, "cannot start the HTTP server%s",
             tls ? " (check the TLS certificate and key)" : "");
    return -1;
  }
  return 0;
}

int emu_http1_add(struct emu_server *s, int fd, const struct sockaddr *addr,
                  socklen_t addrlen)
{
  if(MHD_add_connection(s->daemon, fd, addr, addrlen) != MHD_YES)
    return -1; /* libmicrohttpd closed fd */
  return 0;
}

void emu_http1_quiesce(struct emu_server *s)
{
  if(s->daemon)
    MHD_quiesce_daemon(s->daemon);
}

void emu_http1_stop(struct emu_server *s)
{
  if(s->daemon)
    MHD_stop_daemon(s->daemon);
  s->daemon = NULL;
}
