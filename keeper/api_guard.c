/* SPDX-License-Identifier: MIT */
/* api_guard.c - Host/Origin/Content-Type rules, the body budget, the
 * header-time watchdog and the log rate limit of the control API. */
#include "api_guard.h"

#include "ids.h"
#include "log.h"
#include "mgcx.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

struct conn {
  int fd;
  int receiving; /* 1: headers (or a body) are still arriving */
  int in_body;   /* headers done, body arriving */
  int cut;       /* shut down by the watchdog */
  int64_t since; /* monotonic ms the current phase began */
  struct conn *prev, *next;
};

struct kguard {
  struct sockaddr_storage listen;
  int wildcard, loopback;
  char **allowed;
  size_t nallowed;
  atomic_size_t in_use;
  atomic_uint_fast64_t cut_total;
  pthread_mutex_t lock; /* conns, stop, the log window */
  pthread_cond_t wake;
  struct conn *conns;
  int stop, running;
  pthread_t thread;
  int64_t log_window_start;
  unsigned log_in_window;
  uint64_t log_dropped;
};

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct kguard *kguard_new(const struct sockaddr *listen, socklen_t len,
                          const char *const *allowed)
{
  struct kguard *g = calloc(1, sizeof(*g));
  if(!g)
    return NULL;
  if(len > sizeof(g->listen))
    len = sizeof(g->listen);
  memcpy(&g->listen, listen, len);
  if(g->listen.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&g->listen;
    uint32_t ip = ntohl(a->sin_addr.s_addr);
    g->wildcard = ip == INADDR_ANY;
    g->loopback = (ip >> 24) == 127;
  }
  else if(g->listen.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&g->listen;
    g->wildcard = IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
    g->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
  }
  size_t n = 0;
  while(allowed && allowed[n])
    n++;
  g->allowed = calloc(n + 1, sizeof(char *));
  if(!g->allowed) {
    free(g);
    return NULL;
  }
  for(size_t i = 0; i < n; i++)
    if(!(g->allowed[g->nallowed++] = strdup(allowed[i]))) {
      kguard_free(g);
      return NULL;
    }
  atomic_init(&g->in_use, 0);
  atomic_init(&g->cut_total, 0);
  pthread_mutex_init(&g->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g->wake, &ca);
  pthread_condattr_destroy(&ca);
  return g;
}

void kguard_free(struct kguard *g)
{
  if(!g)
    return;
  kguard_stop(g);
  for(size_t i = 0; i < g->nallowed; i++)
    free(g->allowed[i]);
  free(g->allowed);
  while(g->conns) { /* none left once the server stopped */
    struct conn *c = g->conns;
    g->conns = c->next;
    free(c);
  }
  pthread_cond_destroy(&g->wake);
  pthread_mutex_destroy(&g->lock);
  free(g);
}

/* ---- header rules ---- */

/* Is name (len bytes, no port, no brackets) an acceptable host name? */
static int name_ok(const struct kguard *g, const char *name, size_t len,
                   int bracketed)
{
  char buf[256];
  if(!len || len >= sizeof(buf))
    return 0;
  memcpy(buf, name, len);
  buf[len] = '\0';
  unsigned char bin[16];
  if(bracketed ? inet_pton(AF_INET6, buf, bin) == 1
               : inet_pton(AF_INET, buf, bin) == 1) {
    if(g->wildcard)
      return 1;
    if(bracketed && g->listen.ss_family == AF_INET6)
      return !memcmp(bin, &((const struct sockaddr_in6 *)&g->listen)->sin6_addr,
                     16);
    if(!bracketed && g->listen.ss_family == AF_INET)
      return !memcmp(bin, &((const struct sockaddr_in *)&g->listen)->sin_addr,
                     4);
    return 0;
  }
  if(bracketed)
    return 0;
  if(buf[len - 1] == '.') /* "localhost." is "localhost" */
    buf[--len] = '\0';
  if(g->loopback && !strcasecmp(buf, "localhost"))
    return 1;
  for(size_t i = 0; i < g->nallowed; i++)
    if(!strcasecmp(buf, g->allowed[i]))
      return 1;
  return 0;
}

/* host[:port] or [v6][:port], exactly len bytes. */
static int hostport_ok(const struct kguard *g, const char *s, size_t len)
{
  const char *end = s + len, *name = s, *name_end;
  int bracketed = 0;
  if(len && *s == '[') {
    bracketed = 1;
    name = s + 1;
    name_end = memchr(name, ']', (size_t)(end - name));
    if(!name_end)
      return 0;
    s = name_end + 1;
  }
  else {
    name_end = memchr(s, ':', len);
    if(!name_end)
      name_end = end;
    s = name_end;
  }
  if(s < end) { /* :port, digits only */
    if(*s != ':' || s + 1 == end || end - s > 6)
      return 0;
    for(const char *p = s + 1; p < end; p++)
      if(*p < '0' || *p > '9')
        return 0;
  }
  return name_ok(g, name, (size_t)(name_end - name), bracketed);
}

int kguard_host_ok(const struct kguard *g, const char *host)
{
  if(!host)
    return 1;
  return hostport_ok(g, host, strlen(host));
}

int kguard_origin_ok(const struct kguard *g, const char *origin)
{
  if(!origin)
    return 1;
  const char *rest;
  if(!strncasecmp(origin, "http://", 7))
    rest = origin + 7;
  else if(!strncasecmp(origin, "https://", 8))
    rest = origin + 8;
  else
    return 0; /* "null", other schemes */
  size_t len = strlen(rest);
  if(len && rest[len - 1] == '/')
    len--;
  if(memchr(rest, '/', len) || memchr(rest, '@', len))
    return 0;
  return hostport_ok(g, rest, len);
}

int kguard_is_json(const char *ct)
{
  if(!ct)
    return 0;
  while(*ct == ' ' || *ct == '\t')
    ct++;
  if(strncasecmp(ct, "application/json", 16))
    return 0;
  ct += 16;
  while(*ct == ' ' || *ct == '\t')
    ct++;
  return !*ct || *ct == ';';
}

char *kguard_path_id(const char *raw)
{
  if(!raw || strncmp(raw, "/calls/", 7))
    return NULL;
  raw += 7;
  char *id = mgcx_pct_decode(raw, strcspn(raw, "?#"), 0);
  if(id && !mgc__call_id_ok(id)) { /* "/" is allowed: ids are opaque */
    free(id);
    id = NULL;
  }
  return id;
}

/* ---- body memory ---- */

int kguard_reserve(struct kguard *g, size_t n)
{
  size_t cur = atomic_load(&g->in_use);
  do {
    if(n > KGUARD_BODY_BUDGET || cur > KGUARD_BODY_BUDGET - n)
      return -1;
  } while(!atomic_compare_exchange_weak(&g->in_use, &cur, cur + n));
  return 0;
}

void kguard_release(struct kguard *g, size_t n)
{
  atomic_fetch_sub(&g->in_use, n);
}

size_t kguard_in_use(const struct kguard *g)
{
  return atomic_load(&((struct kguard *)g)->in_use);
}

/* ---- connections ---- */

void kguard_conn_open(struct kguard *g, int fd, void **ctx)
{
  struct conn *c = calloc(1, sizeof(*c));
  *ctx = c;
  if(!c) /* unguarded: libmicrohttpd's idle timeout still applies */
    return;
  c->fd = fd;
  c->receiving = 1;
  c->since = mono_ms();
  pthread_mutex_lock(&g->lock);
  c->next = g->conns;
  if(g->conns)
    g->conns->prev = c;
  g->conns = c;
  pthread_mutex_unlock(&g->lock);
}

void kguard_conn_headers_done(struct kguard *g, void *ctx)
{
  struct conn *c = ctx;
  if(!c)
    return;
  pthread_mutex_lock(&g->lock);
  c->in_body = 1;
  c->since = mono_ms();
  pthread_mutex_unlock(&g->lock);
}

void kguard_conn_request_done(struct kguard *g, void *ctx)
{
  struct conn *c = ctx;
  if(!c)
    return;
  pthread_mutex_lock(&g->lock);
  c->in_body = 0;
  c->receiving = 1;
  c->since = mono_ms();
  pthread_mutex_unlock(&g->lock);
}

void kguard_conn_closed(struct kguard *g, void **ctx)
{
  struct conn *c = *ctx;
  *ctx = NULL;
  if(!c)
    return;
  pthread_mutex_lock(&g->lock);
  if(c->prev)
    c->prev->next = c->next;
  else
    g->conns = c->next;
  if(c->next)
    c->next->prev = c->prev;
  pthread_mutex_unlock(&g->lock);
  free(c);
}

uint64_t kguard_cut_total(const struct kguard *g)
{
  return atomic_load(&((struct kguard *)g)->cut_total);
}

/* Shut down (not close: libmicrohttpd owns the socket and closes it after
 * telling us, under the same lock) every connection over its time. */
static void *watchdog(void *arg)
{
  struct kguard *g = arg;
  pthread_mutex_lock(&g->lock);
  while(!g->stop) {
    int64_t now = mono_ms();
    unsigned cut = 0;
    for(struct conn *c = g->conns; c; c = c->next) {
      if(c->cut || !c->receiving)
        continue;
      int64_t limit = c->in_body ? KGUARD_BODY_MS : KGUARD_HEADER_MS;
      if(now - c->since > limit) {
        shutdown(c->fd, SHUT_RDWR);
        c->cut = 1;
        cut++;
      }
    }
    if(cut) {
      atomic_fetch_add(&g->cut_total, cut);
      pthread_mutex_unlock(&g->lock);
      uint64_t dropped = 0;
      if(kguard_log_allowed(g, &dropped))
        klog(KLOG_WARN, NULL, NULL,
             "control API: closed %u connection(s) whose request took "
             "too long (headers %d s, body %d s); %llu similar warnings "
             "suppressed before",
             cut, KGUARD_HEADER_MS / 1000, KGUARD_BODY_MS / 1000,
             (unsigned long long)dropped);
      pthread_mutex_lock(&g->lock);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 200 * 1000000L;
    if(ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&g->wake, &g->lock, &ts);
  }
  pthread_mutex_unlock(&g->lock);
  return NULL;
}

int kguard_start(struct kguard *g)
{
  if(pthread_create(&g->thread, NULL, watchdog, g))
    return -1;
  g->running = 1;
  return 0;
}

void kguard_stop(struct kguard *g)
{
  if(!g || !g->running)
    return;
  pthread_mutex_lock(&g->lock);
  g->stop = 1;
  pthread_cond_signal(&g->wake);
  pthread_mutex_unlock(&g->lock);
  pthread_join(g->thread, NULL);
  g->running = 0;
}

/* ---- log rate limit ---- */

int kguard_log_allowed(struct kguard *g, uint64_t *suppressed)
{
  int64_t now = mono_ms();
  int ok;
  pthread_mutex_lock(&g->lock);
  if(now - g->log_window_start >= KGUARD_LOG_WINDOW_MS) {
    g->log_window_start = now;
    g->log_in_window = 0;
  }
  ok = g->log_in_window < KGUARD_LOG_BURST;
  if(ok) {
    g->log_in_window++;
    *suppressed = g->log_dropped;
    g->log_dropped = 0;
  }
  else
    g->log_dropped++;
  pthread_mutex_unlock(&g->lock);
  return ok;
}
