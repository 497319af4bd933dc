/* SPDX-License-Identifier: MIT */
/* front.c - accept, tell HTTP/1.1 from HTTP/2 (the cleartext preface, or
 * ALPN in the TLS handshake), run the HTTP/2 sessions' I/O and the TLS of
 * HTTP/1.1 connections (a socket pair to libmicrohttpd).  See front.h. */
#include "front.h"

#include "h2.h"
#include "http1.h"
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define FRONT_LOOPS 2
/* The client preface of HTTP/2 (RFC 9113 3.4). */
#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24
/* A connection that has not finished its TLS handshake or its first bytes
 * by then is closed (libmicrohttpd closes idle ones after 5 s too). */
#define FRONT_HELLO_MS 5000
/* A connection we close: what the client still sends is read and dropped
 * for at most this long after our FIN, so that the kernel does not answer
 * it with a RST that would destroy our last bytes (a GOAWAY, an answer)
 * before the client reads them. */
#define FRONT_LINGER_MS 2000
/* An HTTP/2 connection without streams for this long gets a GOAWAY. */
#define FRONT_H2_IDLE_MS 30000
#define FRONT_MAX_CONNECTIONS 30000
#define BUF_CAP (32 * 1024)

enum state { ST_PEEK, ST_HANDSHAKE, ST_H2, ST_PUMP, ST_LINGER };
enum kind { K_MAIN, K_PLAIN, K_TIMER, K_LISTEN, K_WAKE };

struct handle {
  struct conn *c;
  enum kind kind;
};

/* A byte queue: data[off, off + len). */
struct bq {
  uint8_t *data;
  size_t off, len, cap;
};

struct loop;

struct conn {
  struct loop *loop;
  enum state state;
  int fd, pfd, tfd; /* socket; socket pair end (ST_PUMP); timerfd (ST_H2) */
  struct handle hmain, hplain, htimer;
  SSL *ssl;
  int tls_want_write; /* the last TLS call wants the socket writable */
  int write_len;      /* the length of a TLS write to repeat, or 0 */
  struct emu_h2 *h2;
  struct bq out;  /* ST_H2: to the client; ST_PUMP: to libmicrohttpd */
  struct bq down; /* ST_PUMP: to the client */
  int tls_eof, plain_eof;
  int64_t deadline, active_ms;
  struct sockaddr_storage peer;
  socklen_t peerlen;
  int dead;
  struct conn *prev, *next;
};

struct loop {
  struct emu_front *f;
  pthread_t thread;
  int ep, wake;
  struct handle hlisten, hwake;
  struct conn *conns;
  struct conn *graveyard; /* closed this round, freed after it */
};

struct emu_front {
  struct emu_server *s;
  int listen_fd;
  SSL_CTX *ctx;
  struct loop loops[FRONT_LOOPS];
  int started;
  atomic_int stopping;
  atomic_int nconns;
};

/* ---- byte queues ----------------------------------------------------------
 */

/* Append (the queue grows; callers keep it near BUF_CAP).  0 or -1. */
static int bq_add(struct bq *q, const uint8_t *p, size_t n)
{
  if(q->off && q->off + q->len + n > q->cap) {
    memmove(q->data, q->data + q->off, q->len);
    q->off = 0;
  }
  if(q->len + n > q->cap) {
    size_t cap = q->cap ? q->cap * 2 : BUF_CAP;
    while(cap < q->len + n)
      cap *= 2;
    uint8_t *d = realloc(q->data, cap);
    if(!d)
      return -1;
    q->data = d;
    q->cap = cap;
  }
  memcpy(q->data + q->off + q->len, p, n);
  q->len += n;
  return 0;
}

/* Room before the queue passes BUF_CAP. */
static size_t bq_room(struct bq *q)
{
  return q->len < BUF_CAP ? BUF_CAP - q->len : 0;
}

static void bq_take(struct bq *q, size_t n)
{
  q->off += n;
  q->len -= n;
  if(!q->len)
    q->off = 0;
}

/* ---- the client socket, with or without TLS --------------------------------
 */

/* > 0 bytes read, 0 at the end, -1 nothing now, -2 an error. */
static ssize_t c_read(struct conn *c, void *buf, size_t n)
{
  if(!c->ssl) {
    ssize_t r = recv(c->fd, buf, n, 0);
    if(r >= 0)
      return r;
    return errno == EAGAIN || errno == EINTR ? -1 : -2;
  }
  ERR_clear_error();
  int r = SSL_read(c->ssl, buf, (int)(n > INT32_MAX ? INT32_MAX : n));
  if(r > 0)
    return r;
  switch(SSL_get_error(c->ssl, r)) {
  case SSL_ERROR_WANT_READ:
    return -1;
  case SSL_ERROR_WANT_WRITE:
    c->tls_want_write = 1;
    return -1;
  case SSL_ERROR_ZERO_RETURN:
    return 0;
  default:
    return -2;
  }
}

/* > 0 bytes written, -1 not now, -2 an error. */
static ssize_t c_write(struct conn *c, const void *buf, size_t n)
{
  if(!c->ssl) {
    ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
    if(r >= 0)
      return r;
    return errno == EAGAIN || errno == EINTR ? -1 : -2;
  }
  if(c->write_len && (size_t)c->write_len < n)
    n = (size_t)c->write_len; /* repeat the same write (OpenSSL) */
  if(n > 16384)
    n = 16384;
  ERR_clear_error();
  int r = SSL_write(c->ssl, buf, (int)n);
  if(r > 0) {
    c->write_len = 0;
    c->tls_want_write = 0;
    return r;
  }
  c->write_len = (int)n;
  switch(SSL_get_error(c->ssl, r)) {
  case SSL_ERROR_WANT_WRITE:
    c->tls_want_write = 1;
    return -1;
  case SSL_ERROR_WANT_READ:
    return -1;
  default:
    return -2;
  }
}

/* ---- connections --------------------------------------------------------- */

static void watch(struct conn *c, int fd, struct handle *h, uint32_t ev, int op)
{
  struct epoll_event e = {.events = ev, .data.ptr = h};
  epoll_ctl(c->loop->ep, op, fd, &e);
}

/* Stop watching *fd, close it, -1 it (nothing when it is -1 already). */
static void drop_fd(struct loop *l, int *fd)
{
  if(*fd < 0)
    return;
  epoll_ctl(l->ep, EPOLL_CTL_DEL, *fd, NULL);
  close(*fd);
  *fd = -1;
}

static void conn_close(struct conn *c, int abrupt)
{
  if(c->dead)
    return;
  c->dead = 1;
  struct loop *l = c->loop;
  if(c->fd >= 0) {
    epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if(abrupt) { /* RST, not FIN: streams in flight are lost */
      struct linger lg = {1, 0};
      setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    else if(c->ssl && c->state != ST_LINGER)
      SSL_shutdown(c->ssl);
    close(c->fd);
    c->fd = -1;
  }
  drop_fd(l, &c->pfd);
  drop_fd(l, &c->tfd);
  if(c->prev)
    c->prev->next = c->next;
  else
    l->conns = c->next;
  if(c->next)
    c->next->prev = c->prev;
  c->prev = NULL;
  c->next = l->graveyard;
  l->graveyard = c;
  atomic_fetch_sub(&l->f->nconns, 1);
}

/* Close our side after the last bytes; see FRONT_LINGER_MS. */
static void conn_linger(struct conn *c)
{
  if(c->ssl)
    SSL_shutdown(c->ssl); /* close_notify, as far as it goes */
  if(shutdown(c->fd, SHUT_WR)) {
    conn_close(c, 0);
    return;
  }
  struct loop *l = c->loop;
  drop_fd(l, &c->pfd);
  drop_fd(l, &c->tfd);
  c->state = ST_LINGER;
  c->deadline = emu_now_ms() + FRONT_LINGER_MS;
  watch(c, c->fd, &c->hmain, EPOLLIN, EPOLL_CTL_MOD);
}

static void linger_serve(struct conn *c)
{
  char buf[4096];
  for(int i = 0; i < 16; i++) {
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if(n > 0)
      continue;
    if(n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    conn_close(c, 0); /* the client closed too */
    return;
  }
}

static void conn_free(struct conn *c)
{
  emu_h2_free(c->h2);
  if(c->ssl)
    SSL_free(c->ssl);
  free(c->out.data);
  free(c->down.data);
  free(c);
}

/* ---- HTTP/2
 * ------------------------------------------------------------------ */

static void h2_arm_timer(struct conn *c)
{
  int64_t due = emu_h2_next_due(c->h2);
  if(due < 0 && c->tfd < 0)
    return;
  if(c->tfd < 0) {
    c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if(c->tfd < 0)
      return; /* held answers go out with the next event */
    watch(c, c->tfd, &c->htimer, EPOLLIN, EPOLL_CTL_ADD);
  }
  struct itimerspec its = {0};
  if(due >= 0) {
    int64_t in = due - emu_now_ms();
    if(in < 1)
      in = 1;
    its.it_value.tv_sec = (time_t)(in / 1000);
    its.it_value.tv_nsec = (long)(in % 1000) * 1000000L;
  }
  timerfd_settime(c->tfd, 0, &its, NULL);
}

static void h2_serve(struct conn *c)
{
  uint8_t buf[16384];
  int more = 0; /* stopped with work left (fairness): come back soon */
  for(int round = 0;; round++) {
    if(round == 64) {
      more = 1;
      break;
    }
    int moved = 0;
    ssize_t n = c_read(c, buf, sizeof(buf));
    if(n > 0) {
      c->active_ms = emu_now_ms();
      if(emu_h2_recv(c->h2, buf, (size_t)n)) {
        conn_close(c, 1);
        return;
      }
      moved = 1;
    }
    else if(n == 0 || n == -2) {
      conn_close(c, n == -2);
      return;
    }
    while(c->out.len < BUF_CAP) {
      const uint8_t *d;
      ssize_t k = emu_h2_pull(c->h2, &d);
      if(k < 0 || (k > 0 && bq_add(&c->out, d, (size_t)k))) {
        conn_close(c, 1);
        return;
      }
      if(!k)
        break;
      moved = 1;
    }
    while(c->out.len) {
      ssize_t w = c_write(c, c->out.data + c->out.off, c->out.len);
      if(w == -2) {
        conn_close(c, 1);
        return;
      }
      if(w < 0)
        break;
      bq_take(&c->out, (size_t)w);
      moved = 1;
    }
    if(emu_h2_aborted(c->h2)) { /* a "reset" fault */
      conn_close(c, 1);
      return;
    }
    if(!moved)
      break;
  }
  if(emu_h2_done(c->h2) && !c->out.len) {
    conn_linger(c);
    return;
  }
  h2_arm_timer(c);
  /* EPOLLOUT also when the loop stopped early with work left: a writable
   * socket brings us back at once (when nghttp2 has nothing it can send,
   * flow control waits for the client's WINDOW_UPDATE: EPOLLIN) */
  watch(c, c->fd, &c->hmain,
        EPOLLIN | (c->out.len || c->tls_want_write || more ? EPOLLOUT : 0),
        EPOLL_CTL_MOD);
}

static void start_h2(struct conn *c)
{
  struct emu_server *s = c->loop->f->s;
  c->h2 = emu_h2_new(s, atomic_fetch_add(&s->next_conn_id, 1) + 1);
  if(!c->h2) {
    conn_close(c, 1);
    return;
  }
  c->state = ST_H2;
  c->active_ms = emu_now_ms();
  h2_serve(c);
}

/* ---- HTTP/1.1 ------------------------------------------------------------ */

/* Cleartext: libmicrohttpd takes the socket as it is (nothing was read). */
static void give_h1(struct conn *c)
{
  struct loop *l = c->loop;
  epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
  int fd = c->fd;
  c->fd = -1;
  conn_close(c, 0);
  emu_http1_add(l->f->s, fd, (struct sockaddr *)&c->peer, c->peerlen);
}

/* TLS: the plain bytes go through a socket pair. */
static void pump_serve(struct conn *c)
{
  int more = 0; /* stopped with work left (fairness): come back soon */
  for(int round = 0;; round++) {
    if(round == 64) {
      more = 1;
      break;
    }
    int moved = 0;
    if(!c->tls_eof && bq_room(&c->out)) {
      uint8_t buf[16384];
      size_t want =
          bq_room(&c->out) < sizeof(buf) ? bq_room(&c->out) : sizeof(buf);
      ssize_t n = c_read(c, buf, want);
      if(n > 0) {
        if(bq_add(&c->out, buf, (size_t)n)) {
          conn_close(c, 1);
          return;
        }
        moved = 1;
      }
      else if(n == 0 || n == -2)
        c->tls_eof = 1;
    }
    if(c->out.len) {
      ssize_t w =
          send(c->pfd, c->out.data + c->out.off, c->out.len, MSG_NOSIGNAL);
      if(w > 0) {
        bq_take(&c->out, (size_t)w);
        moved = 1;
      }
      else if(w < 0 && errno != EAGAIN && errno != EINTR) {
        conn_close(c, 0);
        return;
      }
    }
    if(!c->plain_eof && bq_room(&c->down)) {
      uint8_t buf[16384];
      size_t want =
          bq_room(&c->down) < sizeof(buf) ? bq_room(&c->down) : sizeof(buf);
      ssize_t n = recv(c->pfd, buf, want, 0);
      if(n > 0) {
        if(bq_add(&c->down, buf, (size_t)n)) {
          conn_close(c, 1);
          return;
        }
        moved = 1;
      }
      else if(n == 0 || (errno != EAGAIN && errno != EINTR))
        c->plain_eof = 1;
    }
    if(c->down.len) {
      ssize_t w = c_write(c, c->down.data + c->down.off, c->down.len);
      if(w > 0) {
        bq_take(&c->down, (size_t)w);
        moved = 1;
      }
      else if(w == -2) {
        conn_close(c, 1);
        return;
      }
    }
    if(c->tls_eof && !c->out.len) {
      conn_close(c, 0);
      return;
    }
    if(c->plain_eof && !c->down.len) { /* libmicrohttpd closed */
      conn_linger(c);
      return;
    }
    if(!moved)
      break;
  }
  /* TLS may hold decrypted bytes the socket does not signal (SSL_pending):
   * when the loop stopped early, a writable socket brings us back */
  watch(c, c->fd, &c->hmain,
        (bq_room(&c->out) ? EPOLLIN : 0) |
            (c->tls_want_write || (c->down.len && c->write_len) || more ||
                     (c->ssl && SSL_pending(c->ssl) && bq_room(&c->out))
                 ? EPOLLOUT
                 : 0),
        EPOLL_CTL_MOD);
  watch(c, c->pfd, &c->hplain,
        (bq_room(&c->down) ? EPOLLIN : 0) | (c->out.len ? EPOLLOUT : 0),
        EPOLL_CTL_MOD);
}

static void start_pump(struct conn *c)
{
  int sv[2];
  if(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)) {
    conn_close(c, 1);
    return;
  }
  struct sockaddr_storage local;
  socklen_t len = sizeof(local);
  getsockname(sv[1], (struct sockaddr *)&local, &len);
  if(emu_http1_add(c->loop->f->s, sv[1], (struct sockaddr *)&c->peer,
                   c->peerlen)) {
    close(sv[0]);
    conn_close(c, 1);
    return;
  }
  c->pfd = sv[0];
  c->state = ST_PUMP;
  watch(c, c->pfd, &c->hplain, EPOLLIN, EPOLL_CTL_ADD);
  pump_serve(c);
}

/* ---- the first bytes --------------------------------------------------------
 */

static void peek(struct conn *c)
{
  char buf[PREFACE_LEN];
  ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_PEEK);
  if(n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if(n <= 0) {
    conn_close(c, 0);
    return;
  }
  if(memcmp(buf, PREFACE, (size_t)n))
    give_h1(c);
  else if(n == PREFACE_LEN)
    start_h2(c); /* nghttp2 reads the preface itself */
  /* else: a prefix of the preface so far, wait for more */
}

static void handshake(struct conn *c)
{
  ERR_clear_error();
  int r = SSL_do_handshake(c->ssl);
  if(r == 1) {
    const unsigned char *alpn = NULL;
    unsigned alen = 0;
    SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
    if(alen == 2 && !memcmp(alpn, "h2", 2))
      start_h2(c);
    else
      start_pump(c);
    return;
  }
  int e = SSL_get_error(c->ssl, r);
  if(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    watch(c, c->fd, &c->hmain, e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN,
          EPOLL_CTL_MOD);
    return;
  }
  conn_close(c, 0);
}

static void serve(struct conn *c)
{
  switch(c->state) {
  case ST_PEEK:
    peek(c);
    break;
  case ST_HANDSHAKE:
    handshake(c);
    break;
  case ST_H2:
    h2_serve(c);
    break;
  case ST_PUMP:
    pump_serve(c);
    break;
  case ST_LINGER:
    linger_serve(c);
    break;
  }
}

static void accept_all(struct loop *l)
{
  struct emu_front *f = l->f;
  for(int i = 0; i < 64; i++) {
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    int fd = accept4(f->listen_fd, (struct sockaddr *)&peer, &plen,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if(fd < 0)
      return;
    if(atomic_load(&f->nconns) >= FRONT_MAX_CONNECTIONS) {
      close(fd);
      continue;
    }
    /* An answer leaves in several small writes (TLS records, HTTP/2
     * frames): with Nagle on, the last one waited for the client's delayed
     * ACK, 40 ms on Linux, and one keepAlive in two took 60 ms instead of
     * 15-20 (curl and mgcall alike).  Best effort: a failure only costs
     * that delay. */
    if(peer.ss_family == AF_INET || peer.ss_family == AF_INET6) {
      int one = 1;
      if(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
        one = 0;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if(!c) {
      close(fd);
      continue;
    }
    c->loop = l;
    c->fd = fd;
    c->pfd = c->tfd = -1;
    c->hmain = (struct handle){c, K_MAIN};
    c->hplain = (struct handle){c, K_PLAIN};
    c->htimer = (struct handle){c, K_TIMER};
    c->peer = peer;
    c->peerlen = plen;
    c->deadline = emu_now_ms() + FRONT_HELLO_MS;
    c->next = l->conns;
    if(l->conns)
      l->conns->prev = c;
    l->conns = c;
    atomic_fetch_add(&f->nconns, 1);
    if(!f->ctx && atomic_load(&f->s->no_http2)) { /* no h2c: no look */
      give_h1(c);
      continue;
    }
    if(f->ctx) {
      c->ssl = SSL_new(f->ctx);
      if(!c->ssl || !SSL_set_fd(c->ssl, fd)) {
        conn_close(c, 1);
        continue;
      }
      SSL_set_accept_state(c->ssl);
      c->state = ST_HANDSHAKE;
    }
    watch(c, fd, &c->hmain, EPOLLIN, EPOLL_CTL_ADD);
  }
}

/* Once a second: connections that have not said hello in time, idle
 * HTTP/2 sessions. */
static void sweep(struct loop *l, int64_t now)
{
  for(struct conn *c = l->conns, *next; c; c = next) {
    next = c->next;
    if((c->state == ST_PEEK || c->state == ST_HANDSHAKE ||
        c->state == ST_LINGER) &&
       now > c->deadline)
      conn_close(c, 0);
    else if(c->state == ST_H2 && !emu_h2_streams(c->h2) &&
            now - c->active_ms > FRONT_H2_IDLE_MS) {
      emu_h2_shutdown(c->h2);
      h2_serve(c);
    }
  }
}

static void bury(struct loop *l)
{
  while(l->graveyard) {
    struct conn *c = l->graveyard;
    l->graveyard = c->next;
    conn_free(c);
  }
}

static void *loop_main(void *arg)
{
  struct loop *l = arg;
  struct emu_front *f = l->f;
  int64_t next_sweep = emu_now_ms() + 1000, stop_by = 0;
  for(;;) {
    struct epoll_event ev[64];
    int n = epoll_wait(l->ep, ev, 64, 200);
    for(int i = 0; i < n; i++) {
      struct handle *h = ev[i].data.ptr;
      if(h->kind == K_LISTEN) {
        accept_all(l);
        continue;
      }
      if(h->kind == K_WAKE)
        continue;
      struct conn *c = h->c;
      if(c->dead)
        continue;
      if(h->kind == K_TIMER) {
        uint64_t ticks;
        if(read(c->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
          ticks = 0;
        emu_h2_tick(c->h2, emu_now_ms());
      }
      serve(c);
    }
    bury(l);
    int64_t now = emu_now_ms();
    if(atomic_load(&f->stopping)) {
      if(!stop_by) { /* graceful GOAWAY to every session, once */
        stop_by = now + 2000;
        epoll_ctl(l->ep, EPOLL_CTL_DEL, f->listen_fd, NULL);
        for(struct conn *c = l->conns, *next; c; c = next) {
          next = c->next;
          if(c->state == ST_H2) {
            emu_h2_shutdown(c->h2);
            h2_serve(c);
          }
          else if(c->state != ST_PUMP)
            conn_close(c, 0);
        }
        bury(l);
      }
      int h2_left = 0;
      for(struct conn *c = l->conns; c; c = c->next)
        h2_left |= c->state == ST_H2;
      if(!h2_left || now > stop_by)
        break;
    }
    if(now >= next_sweep) {
      sweep(l, now);
      bury(l);
      next_sweep = now + 1000;
    }
  }
  while(l->conns)
    conn_close(l->conns, 0);
  bury(l);
  return NULL;
}

/* ---- TLS ---------------------------------------------------------------- */

static int select_alpn(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg)
{
  (void)ssl;
  struct emu_front *f = arg;
  static const unsigned char ours[] = "\x02h2\x08http/1.1";
  /* our order first: h2 when the client offers it (--no-http2: skip it) */
  const unsigned char *offer = atomic_load(&f->s->no_http2) ? ours + 3 : ours;
  unsigned olen = (unsigned)(sizeof(ours) - 1 - (size_t)(offer - ours));
  unsigned char *sel;
  if(SSL_select_next_proto(&sel, outlen, offer, olen, in, inlen) !=
     OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK; /* no ALPN: HTTP/1.1 */
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *tls_context(struct emu_front *f, const char *cert_pem,
                            const char *key_pem, char *err, size_t errlen)
{
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  BIO *b = NULL;
  X509 *x = NULL;
  EVP_PKEY *key = NULL;
  if(!ctx)
    goto fail;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, f);
  b = BIO_new_mem_buf(cert_pem, -1);
  if(!b || !(x = PEM_read_bio_X509(b, NULL, NULL, NULL)) ||
     SSL_CTX_use_certificate(ctx, x) != 1)
    goto fail;
  X509_free(x);
  while((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) /* the chain */
    if(SSL_CTX_add0_chain_cert(ctx, x) != 1)
      goto fail;
  ERR_clear_error(); /* the end of the PEM data */
  BIO_free(b);
  /* OpenSSL 3's key decoders stop at text before the PEM block (which
   * libmicrohttpd's GnuTLS skipped): start at the block */
  const char *block = strstr(key_pem, "-----BEGIN");
  b = BIO_new_mem_buf(block ? block : key_pem, -1);
  if(!b || !(key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) ||
     SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
     SSL_CTX_check_private_key(ctx) != 1)
    goto fail;
  EVP_PKEY_free(key);
  BIO_free(b);
  return ctx;
fail:
  snprintf(err, errlen, "cannot use the TLS certificate and key: %s",
           ERR_reason_error_string(ERR_peek_last_error())
               ? ERR_reason_error_string(ERR_peek_last_error())
               : "not PEM");
  ERR_clear_error();
  X509_free(x);
  EVP_PKEY_free(key);
  BIO_free(b);
  SSL_CTX_free(ctx);
  return NULL;
}

/* ---- start and stop
 * ---------------------------------------------------------- */

struct emu_front *emu_front_start(struct emu_server *s, int listen_fd,
                                  const char *cert_pem, const char *key_pem,
                                  int *code, char *err, size_t errlen)
{
  *code = -1;
  struct emu_front *f = calloc(1, sizeof(*f));
  if(!f) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  f->s = s;
  f->listen_fd = listen_fd;
  for(int i = 0; i < FRONT_LOOPS; i++)
    f->loops[i].ep = f->loops[i].wake = -1;
  if(cert_pem && !(f->ctx = tls_context(f, cert_pem, key_pem, err, errlen))) {
    *code = -2;
    f->listen_fd = -1; /* still the caller's */
    emu_front_free(f);
    return NULL;
  }
  int fl = fcntl(listen_fd, F_GETFL);
  if(fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK))
    goto fail;
  for(int i = 0; i < FRONT_LOOPS; i++) {
    struct loop *l = &f->loops[i];
    l->f = f;
    l->hlisten = (struct handle){NULL, K_LISTEN};
    l->hwake = (struct handle){NULL, K_WAKE};
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if(l->ep < 0 || l->wake < 0)
      goto fail;
    /* each connection is accepted by one loop */
    struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE,
                            .data.ptr = &l->hlisten};
    struct epoll_event w = {.events = EPOLLIN, .data.ptr = &l->hwake};
    if(epoll_ctl(l->ep, EPOLL_CTL_ADD, listen_fd, &e) ||
       epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake, &w))
      goto fail;
  }
  for(int i = 0; i < FRONT_LOOPS; i++) {
    if(pthread_create(&f->loops[i].thread, NULL, loop_main, &f->loops[i])) {
      atomic_store(&f->stopping, 1);
      for(int k = 0; k < i; k++)
        pthread_join(f->loops[k].thread, NULL);
      goto fail;
    }
  }
  f->started = 1;
  return f;
fail:
  snprintf(err, errlen, "cannot start the listener: %s", strerror(errno));
  f->listen_fd = -1; /* still the caller's */
  emu_front_free(f);
  return NULL;
}

void emu_front_stop(struct emu_front *f)
{
  if(!f || !f->started)
    return;
  atomic_store(&f->stopping, 1);
  for(int i = 0; i < FRONT_LOOPS; i++) {
    uint64_t one = 1;
    if(write(f->loops[i].wake, &one, sizeof(one)) < 0) {
      /* the loop sees stopping within 200 ms anyway */
    }
  }
  for(int i = 0; i < FRONT_LOOPS; i++)
    pthread_join(f->loops[i].thread, NULL);
  f->started = 0;
}

void emu_front_free(struct emu_front *f)
{
  if(!f)
    return;
  emu_front_stop(f);
  for(int i = 0; i < FRONT_LOOPS; i++) {
    if(f->loops[i].ep >= 0)
      close(f->loops[i].ep);
    if(f->loops[i].wake >= 0)
      close(f->loops[i].wake);
  }
  if(f->listen_fd >= 0)
    close(f->listen_fd);
  SSL_CTX_free(f->ctx);
  free(f);
}
