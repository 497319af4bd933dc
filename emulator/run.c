/* SPDX-License-Identifier: MIT */
/* run.c - emu_run(): wire the modules together, bind, print the listening
 * line, wait for SIGINT/SIGTERM (saving --state as calls change), shut down
 * cleanly. */
#include "listen.h"
#include "emulator.h"

#include "mgc_internal.h"
#include "notify_sign.h"
#include "record.h"
#include "server.h"
#include "state.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_SAVE_INTERVAL_MS 2000

void emu_options_default(struct emu_options *o)
{
  memset(o, 0, sizeof(*o));
  o->listen = "127.0.0.1:8443";
  o->inactivity_ms = 45LL * 60 * 1000;
  o->establish_ms = 500;
  o->retention_ms = 10LL * 60 * 1000;
  o->token_lifetime_s = 3600;
  o->max_concurrent_streams = 100;
  emu_faults_config_default(&o->faults);
}

int emu_parse_listen(const char *s, struct sockaddr_storage *addr,
                     socklen_t *addrlen, char *url_host, size_t hostlen)
{
  if(mgc__listen_parse(s, addr, addrlen, NULL))
    return -1;
  char ip[INET6_ADDRSTRLEN];
  if(addr->ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)addr)->sin6_addr, ip,
              sizeof(ip));
    snprintf(url_host, hostlen, "[%s]", ip);
  }
  else {
    inet_ntop(AF_INET, &((struct sockaddr_in *)addr)->sin_addr, ip, sizeof(ip));
    snprintf(url_host, hostlen, "%s", ip);
  }
  return 0;
}

static int bind_listen(const struct sockaddr_storage *addr, socklen_t len,
                       unsigned *port, char *err, size_t errlen)
{
  int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if(fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if(addr->ss_family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if(bind(fd, (const struct sockaddr *)addr, len) || listen(fd, 1024)) {
    snprintf(err, errlen, "cannot listen: %s", strerror(errno));
    close(fd);
    return -1;
  }
  struct sockaddr_storage got;
  socklen_t glen = sizeof(got);
  getsockname(fd, (struct sockaddr *)&got, &glen);
  *port = got.ss_family == AF_INET6
              ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
              : ntohs(((struct sockaddr_in *)&got)->sin_port);
  return fd;
}

static void save_state(const struct emu_options *o, struct emu_server *s)
{
  char err[512];
  if(emu_state_save(o->state, s->calls, s->identity, err, sizeof(err)))
    fprintf(stderr, "mgcall: emulator: %s\n", err);
}

int emu_run(const struct emu_options *o)
{
  char err[512] = "";
  int rc = MGCALL_E_INTERNAL;
  struct sockaddr_storage addr;
  socklen_t alen;
  char host[80];
  if(emu_parse_listen(o->listen, &addr, &alen, host, sizeof(host))) {
    fprintf(stderr,
            "mgcall: emulator: bad --listen '%s': expected "
            "ADDR:PORT, e.g. 127.0.0.1:8443 or [::1]:0\n",
            o->listen);
    return MGCALL_E_USAGE;
  }
  struct emu_server *s = calloc(1, sizeof(*s));
  char *key_pem = NULL;
  int fd = -1;
  if(!s)
    goto out;
  s->family = addr.ss_family;
  s->loopback =
      addr.ss_family == AF_INET
          ? (ntohl(((struct sockaddr_in *)&addr)->sin_addr.s_addr) >> 24) == 127
          : IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&addr)->sin6_addr);
  s->started_ms = emu_now_ms();

  struct emu_calls_config cc = {o->inactivity_ms, o->establish_ms,
                                o->retention_ms, o->max_calls, NULL};
  s->calls = emu_calls_new(&cc, emu_server_event, s);
  s->faults = emu_faults_new(&o->faults);
  s->notify = emu_notify_new(o->callback_cacert);
  s->delay = emu_delay_new();
  if(!s->calls || !s->faults || !s->notify || !s->delay) {
    snprintf(err, sizeof(err), "out of memory");
    goto out;
  }
  if(o->state &&
     emu_state_load(o->state, s->calls, &key_pem, err, sizeof(err))) {
    rc = MGCALL_E_USAGE;
    goto out;
  }
  struct emu_identity_config ic = {o->token_lifetime_s, o->roles, key_pem,
                                   o->token_key};
  s->identity = emu_identity_new(&ic, err, sizeof(err));
  if(!s->identity) {
    if(o->token_key)
      rc = MGCALL_E_USAGE; /* a bad --token-key file */
    goto out;
  }
  rc = MGCALL_E_USAGE;
  for(size_t i = 0; i < o->nclients; i++)
    if(emu_identity_add_secret(s->identity, o->clients[i], err, sizeof(err)))
      goto out;
  for(size_t i = 0; i < o->ncerts; i++)
    if(emu_identity_add_cert(s->identity, o->client_certs[i], err, sizeof(err)))
      goto out;
  for(size_t i = 0; i < o->nmanaged; i++)
    if(emu_identity_add_managed(s->identity, o->managed[i], err, sizeof(err)))
      goto out;
  if(o->record && !(s->record = emu_record_open(o->record, err, sizeof(err))))
    goto out;
  if(!(s->nsign = emu_nsign_new(o->notification_key, err, sizeof(err))))
    goto out;
  if(!o->unsigned_callbacks)
    emu_notify_set_signer(s->notify, s->nsign);
  emu_notify_set_reorder(s->notify, o->notification_reorder);

  rc = MGCALL_E_INTERNAL;
  unsigned port = 0;
  fd = bind_listen(&addr, alen, &port, err, sizeof(err));
  if(fd < 0)
    goto out;
  rc = MGCALL_E_INTERNAL;

  /* SIGINT/SIGTERM are taken by sigtimedwait() below; every thread started
   * from here on inherits the mask. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  snprintf(s->base_url, sizeof(s->base_url), "%s://%s:%u",
           o->tls_cert ? "https" : "http", host, port);
  if(emu_notify_start(s->notify) || emu_calls_start(s->calls) ||
     emu_delay_start(s->delay)) {
    snprintf(err, sizeof(err), "cannot start threads");
    goto out;
  }
  int started = emu_server_start(s, o, fd, err, sizeof(err));
  if(started) {
    if(started == -2)
      rc = MGCALL_E_USAGE;
    goto out;
  }
  fd = -1; /* the listener owns it */
  printf("mgcall emulator: listening on %s\n", s->base_url);
  fflush(stdout);
  /* every run can be repeated: the seed of its faults (--seed N) */
  fprintf(stderr, "mgcall emulator: fault seed %llu\n",
          (unsigned long long)emu_faults_seed(s->faults));

  uint64_t saved_gen = o->state ? emu_calls_generation(s->calls) : 0;
  for(;;) {
    struct timespec wait = {0, STATE_SAVE_INTERVAL_MS * 1000000L};
    if(STATE_SAVE_INTERVAL_MS >= 1000) {
      wait.tv_sec = STATE_SAVE_INTERVAL_MS / 1000;
      wait.tv_nsec = (STATE_SAVE_INTERVAL_MS % 1000) * 1000000L;
    }
    int sig = sigtimedwait(&stop, NULL, &wait);
    if(sig == SIGINT || sig == SIGTERM)
      break;
    if(o->state) {
      uint64_t g = emu_calls_generation(s->calls);
      if(g != saved_gen) {
        save_state(o, s);
        saved_gen = g;
      }
    }
  }
  emu_server_stop(s);
  if(o->state)
    save_state(o, s);
  rc = MGCALL_OK;
out:
  if(rc != MGCALL_OK && *err)
    fprintf(stderr, "mgcall: emulator: %s\n", err);
  if(fd >= 0)
    close(fd);
  if(s) {
    emu_server_stop(s);
    emu_delay_free(s->delay);
    emu_calls_free(s->calls); /* stops the timer thread first */
    emu_notify_free(s->notify);
    emu_nsign_free(s->nsign);
    emu_faults_free(s->faults);
    emu_identity_free(s->identity);
    emu_record_close(s->record);
    free(s);
  }
  free(key_pem);
  return rc;
}
