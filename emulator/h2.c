/* SPDX-License-Identifier: MIT */
/* h2.c - HTTP/2 on nghttp2 (server side): requests of a session's streams
 * go to the router, its answers become HEADERS + DATA; the connection-level
 * faults (GOAWAY, RST_STREAM, reset) and --max-requests-per-connection
 * (graceful GOAWAY) are nghttp2 calls.  No framing of our own. */
#include "h2.h"

#include "router.h"
#include "server.h"

#include <ctype.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A request's header block: at most this many bytes (names + values) and
 * fields; beyond, the stream is reset (REFUSED_STREAM is not used: the
 * request is not worth retrying). */
#define H2_MAX_HEADER_BYTES (24 * 1024)
#define H2_MAX_HEADERS 100
/* RST_STREAMs a client may send: a burst, then a rate a second. */
#define H2_RESET_BURST 1000000
#define H2_RESET_RATE 1000000

struct stream {
  struct emu_h2 *h;
  int32_t id;
  struct emu_exchange x;
  char *method, *target, *authority;
  struct emu_header *hdrs; /* owned names and values */
  size_t nhdrs, hbytes;
  int begun;     /* emu_router_headers() called */
  int too_large; /* the header block passed H2_MAX_HEADER_BYTES: 431 */
  int answered;  /* an answer is decided (maybe held back) */
  int held;      /* answered, waiting for its latency */
  struct emu_response resp;
  size_t off; /* of resp.body sent */
  int64_t due;
  struct stream *prev, *next; /* the session's streams */
};

struct emu_h2 {
  nghttp2_session *ng;
  struct emu_server *s;
  uint64_t conn_id;
  uint64_t requests;
  size_t open; /* streams */
  int aborted;
  int goaway;      /* a GOAWAY was submitted */
  int stopping;    /* emu_h2_shutdown(): answers are no longer held back */
  int32_t last_ok; /* its last-stream-id: later streams are not served */
  struct stream *streams;
};

static void stream_free(struct stream *st)
{
  struct emu_h2 *h = st->h;
  if(st->prev)
    st->prev->next = st->next;
  else
    h->streams = st->next;
  if(st->next)
    st->next->prev = st->prev;
  if(st->x.srv)
    emu_exchange_release(&st->x);
  emu_response_release(&st->resp);
  for(size_t i = 0; i < st->nhdrs; i++) {
    free((char *)st->hdrs[i].name);
    free((char *)st->hdrs[i].value);
  }
  free(st->hdrs);
  free(st->method);
  free(st->target);
  free(st->authority);
  h->open--;
  free(st);
}

/* ---- answers ----------------------------------------------------------- */

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf,
                         size_t len, uint32_t *flags, nghttp2_data_source *src,
                         void *user)
{
  (void)ng;
  (void)id;
  (void)user;
  struct stream *st = src->ptr;
  struct emu_response *r = &st->resp;
  if(r->reader.read) {
    ssize_t n = r->reader.read(r->reader.cls, (char *)buf, len);
    if(n < 0)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM */
    if(n == 0)
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    return n;
  }
  size_t n = r->len - st->off;
  if(n > len)
    n = len;
  if(n)
    memcpy(buf, r->body + st->off, n);
  st->off += n;
  if(st->off == r->len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* Headers HTTP/2 forbids (RFC 9113 8.2.2); the router adds "Connection:
 * close" for HTTP/1.1 only, this is the safety net. */
static int connection_specific(const char *name)
{
  static const char *const bad[] = {"connection", "keep-alive",
                                    "proxy-connection", "transfer-encoding",
                                    "upgrade"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if(!strcasecmp(name, bad[i]))
      return 1;
  return 0;
}

/* The lowest stream id still open (or id): its answer is not yet sent
 * whole (a GOAWAY goes out before answers queued behind it). */
static int32_t lowest_in_flight(struct emu_h2 *h, int32_t id)
{
  int32_t low = id;
  for(struct stream *st = h->streams; st; st = st->next)
    if(st->id < low)
      low = st->id;
  return low;
}

/* Send st->resp now. */
static void submit(struct emu_h2 *h, struct stream *st)
{
  struct emu_response *r = &st->resp;
  st->held = 0;
  switch(r->action) {
  case EMU_ACT_RESET:
    atomic_fetch_add(&h->s->h2_resets, 1);
    h->aborted = 1;
    return;
  case EMU_ACT_GOAWAY: {
    /* Below every stream in flight: none of them was processed. */
    int32_t last = lowest_in_flight(h, st->id) - 2;
    atomic_fetch_add(&h->s->h2_goaway_faults, 1);
    h->goaway = 1;
    h->last_ok = last > 0 ? last : 0;
    nghttp2_session_terminate_session2(h->ng, h->last_ok, r->h2_error);
    return;
  }
  case EMU_ACT_RST_STREAM:
    atomic_fetch_add(&h->s->h2_rst_faults, 1);
    nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, r->h2_error);
    return;
  case EMU_ACT_ANSWER:
    break;
  }
  char status[8];
  snprintf(status, sizeof(status), "%d", r->status);
  nghttp2_nv nva[EMU_RESPONSE_MAX_HEADERS + 3];
  char lower[EMU_RESPONSE_MAX_HEADERS][64];
  size_t n = 0;
  nva[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7,
                          strlen(status), NGHTTP2_NV_FLAG_NONE};
  for(size_t i = 0; i < r->nheaders; i++) {
    const char *name = r->headers[i].name;
    size_t len = strlen(name);
    if(connection_specific(name) || len >= sizeof(lower[0]))
      continue;
    for(size_t k = 0; k <= len; k++) /* HTTP/2 field names are lower-case */
      lower[i][k] = (char)tolower((unsigned char)name[k]);
    nva[n++] =
        (nghttp2_nv){(uint8_t *)lower[i], (uint8_t *)r->headers[i].value, len,
                     strlen(r->headers[i].value), NGHTTP2_NV_FLAG_NONE};
  }
  char date[40], length[24];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  nva[n++] = (nghttp2_nv){(uint8_t *)"date", (uint8_t *)date, 4, strlen(date),
                          NGHTTP2_NV_FLAG_NONE};
  if(!r->reader.read) { /* as libmicrohttpd: the length when it is known */
    snprintf(length, sizeof(length), "%zu", r->len);
    nva[n++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)length, 14,
                            strlen(length), NGHTTP2_NV_FLAG_NONE};
  }
  nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
  int empty = !r->reader.read && !r->len;
  if(nghttp2_submit_response(h->ng, st->id, nva, n, empty ? NULL : &prd))
    nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id,
                              NGHTTP2_INTERNAL_ERROR);
}

static void answer(struct emu_h2 *h, struct stream *st)
{
  st->answered = 1;
  if(st->resp.action == EMU_ACT_ANSWER && st->resp.latency_ms > 0 &&
     !h->stopping) {
    st->held = 1; /* emu_h2_tick() sends it */
    /* +1: the clock is in whole ms; never answer early */
    st->due = emu_now_ms() + st->resp.latency_ms + 1;
    return;
  }
  submit(h, st);
}

/* --max-requests-per-connection: after the Nth request, a graceful GOAWAY
 * (the streams received so far are answered, later ones refused). */
static void count_request(struct emu_h2 *h, struct stream *st)
{
  h->requests++;
  uint64_t max = atomic_load(&h->s->max_requests_per_conn);
  if(max && h->requests >= max && !h->goaway) {
    h->goaway = 1;
    h->last_ok = st->id;
    atomic_fetch_add(&h->s->h2_goaways, 1);
    nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR,
                          NULL, 0);
  }
}

/* ---- nghttp2 callbacks -------------------------------------------------- */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame,
                            void *user)
{
  struct emu_h2 *h = user;
  if(frame->hd.type != NGHTTP2_HEADERS ||
     frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  struct stream *st = calloc(1, sizeof(*st));
  if(!st)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  st->h = h;
  st->id = frame->hd.stream_id;
  st->next = h->streams;
  if(h->streams)
    h->streams->prev = st;
  h->streams = st;
  h->open++;
  size_t open = h->open;
  uint64_t max = atomic_load(&h->s->h2_max_concurrent);
  while(open > max &&
        !atomic_compare_exchange_weak(&h->s->h2_max_concurrent, &max, open))
    ;
  atomic_fetch_add(&h->s->h2_streams, 1);
  nghttp2_session_set_stream_user_data(ng, st->id, st);
  return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user)
{
  (void)flags;
  (void)user;
  if(frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  struct stream *st =
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
  if(!st || st->begun) /* trailers are not used */
    return 0;
  st->hbytes += namelen + valuelen;
  if(st->hbytes > H2_MAX_HEADER_BYTES || st->nhdrs == H2_MAX_HEADERS)
    st->too_large = 1; /* answered 431, as libmicrohttpd does */
  if(st->too_large)
    return 0;
  char **pseudo = NULL;
  if(namelen == 7 && !memcmp(name, ":method", 7))
    pseudo = &st->method;
  else if(namelen == 5 && !memcmp(name, ":path", 5))
    pseudo = &st->target;
  else if(namelen == 10 && !memcmp(name, ":authority", 10))
    pseudo = &st->authority;
  else if(namelen && name[0] == ':')
    return 0; /* :scheme */
  char *v = strndup((const char *)value, valuelen);
  if(!v)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  if(pseudo) {
    free(*pseudo);
    *pseudo = v;
    return 0;
  }
  if(!(st->nhdrs & 15)) {
    struct emu_header *more =
        realloc(st->hdrs, (st->nhdrs + 16) * sizeof(*more));
    if(!more) {
      free(v);
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    st->hdrs = more;
  }
  char *n = strndup((const char *)name, namelen);
  if(!n) {
    free(v);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  st->hdrs[st->nhdrs].name = n;
  st->hdrs[st->nhdrs].value = v;
  st->nhdrs++;
  return 0;
}

/* 431 for a header block too large (the router never sees it). */
static void too_large(struct emu_h2 *h, struct stream *st)
{
  static const char body[] = "Request header fields too large.";
  st->answered = 1;
  st->resp.status = 431;
  st->resp.body = strdup(body);
  st->resp.len = st->resp.body ? strlen(body) : 0;
  if(st->resp.body) {
    st->resp.headers[0].name = strdup("content-type");
    st->resp.headers[0].value = strdup("text/plain");
    st->resp.nheaders = st->resp.headers[0].name && st->resp.headers[0].value;
  }
  submit(h, st);
}

/* The header block is in: the router's first look. */
static int begin(struct emu_h2 *h, struct stream *st)
{
  if(st->too_large) {
    st->begun = 1;
    too_large(h, st);
    return 0;
  }
  if(!st->method || !st->target)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* nghttp2 checks too */
  if(st->authority) {                             /* the router reads Host */
    if(!(st->nhdrs & 15)) {
      struct emu_header *more =
          realloc(st->hdrs, (st->nhdrs + 16) * sizeof(*more));
      if(!more)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      st->hdrs = more;
    }
    char *n = strdup("host");
    if(!n)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    st->hdrs[st->nhdrs].name = n;
    st->hdrs[st->nhdrs].value = st->authority;
    st->authority = NULL;
    st->nhdrs++;
  }
  st->begun = 1;
  if(st->id > h->last_ok) { /* after our GOAWAY: not processed */
    st->answered = 1;
    nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id,
                              NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  st->x.srv = h->s;
  st->x.proto = EMU_PROTO_H2;
  st->x.conn_id = h->conn_id;
  st->x.stream_id = (uint32_t)st->id;
  st->x.method = st->method;
  st->x.target = st->target;
  st->x.headers = st->hdrs;
  st->x.nheaders = st->nhdrs;
  count_request(h, st);
  if(emu_router_headers(&st->x, &st->resp))
    answer(h, st);
  return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user)
{
  struct emu_h2 *h = user;
  if(frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
    return 0;
  struct stream *st =
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
  if(!st)
    return 0;
  if(frame->hd.type == NGHTTP2_HEADERS && !st->begun) {
    int rc = begin(h, st);
    if(rc)
      return rc;
  }
  if((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && st->begun &&
     !st->answered) {
    emu_router_finish(&st->x, &st->resp);
    answer(h, st);
  }
  return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id,
                   const uint8_t *data, size_t len, void *user)
{
  (void)flags;
  (void)user;
  struct stream *st = nghttp2_session_get_stream_user_data(ng, id);
  if(!st || !st->begun || st->answered)
    return 0;
  if(emu_router_body(&st->x, (const char *)data, len))
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code,
                           void *user)
{
  (void)code;
  (void)user;
  struct stream *st = nghttp2_session_get_stream_user_data(ng, id);
  if(st) {
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    stream_free(st);
  }
  return 0;
}

/* ---- the session -------------------------------------------------------- */

struct emu_h2 *emu_h2_new(struct emu_server *s, uint64_t conn_id)
{
  struct emu_h2 *h = calloc(1, sizeof(*h));
  nghttp2_session_callbacks *cb = NULL;
  if(!h || nghttp2_session_callbacks_new(&cb)) {
    free(h);
    return NULL;
  }
  h->s = s;
  h->conn_id = conn_id;
  h->last_ok = INT32_MAX;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_option *opt = NULL;
  int rc = nghttp2_option_new(&opt);
  if(!rc) {
    /* nghttp2's defence against "rapid reset" (CVE-2023-44487: 1000
     * RST_STREAMs, then 33 a second) answers with GOAWAY INTERNAL_ERROR;
     * libcurl 7.88 resets every stream it has finished with
     * (STREAM_CLOSED), so a busy client would meet it every ~1000
     * requests.  The emulator injects its GOAWAYs on purpose only. */
    nghttp2_option_set_stream_reset_rate_limit(opt, H2_RESET_BURST,
                                               H2_RESET_RATE);
    rc = nghttp2_session_server_new2(&h->ng, cb, h, opt);
  }
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if(rc) {
    free(h);
    return NULL;
  }
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
       atomic_load(&s->max_concurrent_streams)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEADER_BYTES}};
  if(nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, 2)) {
    emu_h2_free(h);
    return NULL;
  }
  atomic_fetch_add(&s->connections_by_proto[EMU_PROTO_H2], 1);
  return h;
}

void emu_h2_free(struct emu_h2 *h)
{
  if(!h)
    return;
  while(h->streams) {
    nghttp2_session_set_stream_user_data(h->ng, h->streams->id, NULL);
    stream_free(h->streams);
  }
  nghttp2_session_del(h->ng);
  free(h);
}

int emu_h2_recv(struct emu_h2 *h, const uint8_t *data, size_t n)
{
  ssize_t rc = nghttp2_session_mem_recv(h->ng, data, n);
  if(rc < 0 || h->aborted)
    return -1;
  return 0;
}

ssize_t emu_h2_pull(struct emu_h2 *h, const uint8_t **data)
{
  if(h->aborted)
    return -1;
  ssize_t n = nghttp2_session_mem_send(h->ng, data);
  return n < 0 ? -1 : n;
}

int emu_h2_done(struct emu_h2 *h)
{
  return !nghttp2_session_want_read(h->ng) &&
         !nghttp2_session_want_write(h->ng);
}

int emu_h2_aborted(struct emu_h2 *h)
{
  return h->aborted;
}

int64_t emu_h2_next_due(struct emu_h2 *h)
{
  int64_t due = -1;
  for(struct stream *st = h->streams; st; st = st->next)
    if(st->held && (due < 0 || st->due < due))
      due = st->due;
  return due;
}

void emu_h2_tick(struct emu_h2 *h, int64_t now_ms)
{
  for(struct stream *st = h->streams; st && !h->aborted; st = st->next)
    if(st->held && st->due <= now_ms)
      submit(h, st);
}

size_t emu_h2_streams(struct emu_h2 *h)
{
  return h->open;
}

void emu_h2_shutdown(struct emu_h2 *h)
{
  if(!h->goaway) {
    h->goaway = 1;
    h->last_ok = nghttp2_session_get_last_proc_stream_id(h->ng);
    nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, h->last_ok,
                          NGHTTP2_NO_ERROR, NULL, 0);
  }
  /* Answers held back by a latency go out now, and later ones are not held:
   * as on HTTP/1.1, where the server's stop resumes every delayed request
   * at once (delay.c).  Held until due, a latency over front.c's 2 s bound
   * would end with the connection closed and no answer. */
  h->stopping = 1;
  emu_h2_tick(h, INT64_MAX);
}
