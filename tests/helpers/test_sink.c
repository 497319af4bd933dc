/* SPDX-License-Identifier: MIT */
/* test_sink.c - mgcall-test-sink: a tiny HTTP server for system tests that
 * receive callbacks (the emulator's commsNotifications, the keeper's
 * --on-ended-url).  It appends one JSON line per request to FILE:
 *   {"method":"POST","path":"/cb","contentType":"...","body":"<text>"}
 * and answers 200 (or 500 to the first N requests with --fail N).
 *
 *   mgcall-test-sink [--fail N] FILE
 * prints "listening on http://127.0.0.1:PORT" and runs until SIGTERM. */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (1024 * 1024)

struct body {
  char *data;
  size_t len;
};

static FILE *out;
static long fail_left;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
  (void)cls;
  (void)version;
  struct body *b = *con_cls;
  if(!b) {
    b = calloc(1, sizeof(*b));
    *con_cls = b;
    return b ? MHD_YES : MHD_NO;
  }
  if(*upload_size) {
    if(b->len + *upload_size <= MAX_BODY) {
      char *d = realloc(b->data, b->len + *upload_size + 1);
      if(!d)
        return MHD_NO;
      memcpy(d + b->len, upload, *upload_size);
      b->data = d;
      b->len += *upload_size;
      b->data[b->len] = '\0';
    }
    *upload_size = 0;
    return MHD_YES;
  }
  const char *ct =
      MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
  json_t *line =
      json_pack("{s:s,s:s,s:s?,s:s#}", "method", method, "path", url,
                "contentType", ct, "body", b->data ? b->data : "", b->len);
  char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
  json_decref(line);
  unsigned status = 200;
  pthread_mutex_lock(&lock);
  if(fail_left > 0) {
    fail_left--;
    status = 500;
  }
  if(text) {
    fprintf(out, "%s\n", text);
    fflush(out);
  }
  pthread_mutex_unlock(&lock);
  free(text);
  struct MHD_Response *r =
      MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  enum MHD_Result res = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return res;
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)c;
  (void)toe;
  struct body *b = *con_cls;
  if(b) {
    free(b->data);
    free(b);
  }
}

int main(int argc, char **argv)
{
  int i = 1;
  if(argc > 3 && !strcmp(argv[1], "--fail")) {
    fail_left = strtol(argv[2], NULL, 10);
    i = 3;
  }
  if(i != argc - 1) {
    fprintf(stderr, "usage: mgcall-test-sink [--fail N] FILE\n");
    return 2;
  }
  out = fopen(argv[i], "a");
  if(!out) {
    perror(argv[i]);
    return 1;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d =
      MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle,
                       NULL, MHD_OPTION_SOCK_ADDR, &sa,
                       MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
  if(!d) {
    fprintf(stderr, "mgcall-test-sink: cannot listen\n");
    return 1;
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("listening on http://127.0.0.1:%u\n", info ? info->port : 0);
  fflush(stdout);
  int sig;
  sigwait(&set, &sig);
  MHD_stop_daemon(d);
  fclose(out);
  return 0;
}
