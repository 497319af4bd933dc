/* SPDX-License-Identifier: MIT */
/* attack.c - mgcall-test-attack: hostile HTTP clients for system tests, on
 * 127.0.0.1 only, every wait bounded.
 *
 *   mgcall-test-attack idle PORT N PROBES WAIT_S
 *     opens N TCP connections that send nothing; meanwhile sends PROBES
 *     requests GET /_emulator/health (each on a new connection, 1 s each);
 *     then waits at most WAIT_S seconds for the server to close the idle
 *     ones.  Prints "connected C", "probes OK/PROBES", "closed C/N MS_ms".
 *   mgcall-test-attack raw PORT TIMEOUT_MS
 *     sends stdin as it is, prints what comes back until the server closes
 *     or TIMEOUT_MS pass (the connection stays open for writing), and
 *     "elapsed_ms N" on stderr.
 *   mgcall-test-attack bodies PORT N PATH
 *     N connections each send POST PATH with Content-Length: 65536 and only
 *     1024 body bytes, and hold; prints "status S COUNT" for the answers
 *     that came within 3 s and "pending COUNT" for the others.
 *   mgcall-test-attack fresh PORT N
 *     N requests POST /_emulator/calls on one keep-alive connection, each
 *     with a tenantId, appId and callbackUri never used before; prints
 *     "status S COUNT" (10 s per answer at most). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A socket connecting (non-blocking) to 127.0.0.1:port, or -1. */
static int dial(void)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if(fd < 0)
    return -1;
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if(connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Wait until fd is connected; 0 or -1. */
static int connected(int fd, int timeout_ms)
{
  struct pollfd p = {fd, POLLOUT, 0};
  if(poll(&p, 1, timeout_ms) != 1)
    return -1;
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err ? -1 : 0;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
  while(len) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if(n > 0) {
      buf += n;
      len -= (size_t)n;
      continue;
    }
    if(n < 0 && errno != EAGAIN && errno != EINTR)
      return -1;
    struct pollfd p = {fd, POLLOUT, 0};
    long long left = deadline - now_ms();
    if(left <= 0 || poll(&p, 1, (int)left) < 1)
      return -1;
  }
  return 0;
}

/* Read into buf until it holds cap-1 bytes, the peer closes or the deadline
 * passes (what already arrived is read even then); returns the length
 * (NUL-terminated). */
static size_t read_until(int fd, char *buf, size_t cap, long long deadline,
                         int *closed)
{
  size_t len = 0;
  *closed = 0;
  for(;;) {
    long long left = deadline - now_ms();
    struct pollfd p = {fd, POLLIN, 0};
    if(poll(&p, 1, left > 0 ? (int)left : 0) < 1)
      break;
    char tmp[4096];
    ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
    if(n < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if(n <= 0) {
      *closed = 1;
      break;
    }
    size_t take = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
    memcpy(buf + len, tmp, take);
    len += take;
    if(len == cap - 1)
      break;
  }
  buf[len] = '\0';
  return len;
}

static int probe(void)
{
  long long deadline = now_ms() + 1000;
  int fd = dial();
  if(fd < 0)
    return 0;
  static const char req[] = "GET /_emulator/health HTTP/1.1\r\n"
                            "Host: 127.0.0.1\r\nConnection: close\r\n\r\n";
  char buf[2048];
  int closed, ok = 0;
  if(!connected(fd, 1000) && !send_all(fd, req, sizeof(req) - 1, deadline)) {
    read_until(fd, buf, sizeof(buf), deadline, &closed);
    ok = !strncmp(buf, "HTTP/1.1 200", 12) && strstr(buf, "\"ok\"");
  }
  close(fd);
  return ok;
}

static void raise_nofile(void)
{
  struct rlimit rl;
  if(!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static int idle(int n, int probes, int wait_s)
{
  raise_nofile();
  int *fds = calloc((size_t)n, sizeof(*fds));
  struct pollfd *p = calloc((size_t)n, sizeof(*p));
  if(!fds || !p)
    return 1;
  int ok = 0, open_n = 0;
  for(int i = 0; i < n; i++)
    fds[i] = dial();
  long long deadline = now_ms() + 10000;
  for(int i = 0; i < n; i++) {
    long long left = deadline - now_ms();
    if(fds[i] >= 0 && connected(fds[i], left > 0 ? (int)left : 0)) {
      close(fds[i]);
      fds[i] = -1;
    }
    open_n += fds[i] >= 0;
  }
  printf("connected %d\n", open_n);
  fflush(stdout);
  for(int i = 0; i < probes; i++) {
    ok += probe();
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
  }
  printf("probes %d/%d\n", ok, probes);
  fflush(stdout);
  /* Count the idle connections the server closes (EOF or reset). */
  long long start = now_ms(), end = start + (long long)wait_s * 1000;
  int closed = 0, live = 0;
  for(int i = 0; i < n; i++) {
    p[i].fd = fds[i];
    p[i].events = POLLIN;
    live += fds[i] >= 0;
  }
  while(closed < live && now_ms() < end) {
    if(poll(p, (nfds_t)n, (int)(end - now_ms())) < 1)
      break;
    for(int i = 0; i < n; i++) {
      if(p[i].fd < 0 || !p[i].revents)
        continue;
      char c;
      ssize_t r = recv(p[i].fd, &c, 1, 0);
      if(r <= 0) {
        close(p[i].fd);
        p[i].fd = -1;
        closed++;
      }
    }
  }
  printf("closed %d/%d %lld_ms\n", closed, live, now_ms() - start);
  for(int i = 0; i < n; i++)
    if(p[i].fd >= 0)
      close(p[i].fd);
  free(fds);
  free(p);
  return 0;
}

static int raw(int timeout_ms)
{
  static char in[1 << 20], out[1 << 20];
  size_t len = fread(in, 1, sizeof(in), stdin);
  long long start = now_ms(), deadline = start + timeout_ms;
  int fd = dial(), closed;
  if(fd < 0 || connected(fd, 2000) || send_all(fd, in, len, deadline)) {
    fprintf(stderr, "cannot connect or send\n");
    return 1;
  }
  size_t n = read_until(fd, out, sizeof(out), deadline, &closed);
  fwrite(out, 1, n, stdout);
  fprintf(stderr, "elapsed_ms %lld\n", now_ms() - start);
  close(fd);
  return 0;
}

static int bodies(int n, const char *path)
{
  raise_nofile();
  int *fds = calloc((size_t)n, sizeof(*fds));
  int counts[600] = {0}, pending = 0;
  if(!fds)
    return 1;
  char head[512], body[1024];
  memset(body, 'x', sizeof(body));
  snprintf(head, sizeof(head),
           "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Content-Type: application/json\r\nContent-Length: 65536\r\n\r\n",
           path);
  long long deadline = now_ms() + 10000;
  for(int i = 0; i < n; i++) {
    fds[i] = dial();
    if(fds[i] >= 0 && (connected(fds[i], 2000) ||
                       send_all(fds[i], head, strlen(head), deadline) ||
                       send_all(fds[i], body, sizeof(body), deadline))) {
      close(fds[i]);
      fds[i] = -1;
    }
  }
  deadline = now_ms() + 3000;
  for(int i = 0; i < n; i++) {
    char buf[4096];
    int closed, status = 0;
    if(fds[i] < 0)
      continue;
    read_until(fds[i], buf, 16, deadline, &closed);
    if(sscanf(buf, "HTTP/1.1 %d", &status) == 1 && status >= 100 &&
       status < 600)
      counts[status]++;
    else
      pending++;
  }
  for(int i = 0; i < 600; i++)
    if(counts[i])
      printf("status %d %d\n", i, counts[i]);
  printf("pending %d\n", pending);
  for(int i = 0; i < n; i++)
    if(fds[i] >= 0)
      close(fds[i]);
  free(fds);
  return 0;
}

static int fresh(int n)
{
  int counts[600] = {0}, fd = -1;
  for(int i = 0; i < n; i++) {
    if(fd < 0 && ((fd = dial()) < 0 || connected(fd, 2000))) {
      fprintf(stderr, "cannot connect\n");
      return 1;
    }
    char body[256], req[512], buf[4096];
    int blen = snprintf(body, sizeof(body),
                        "{\"count\":1,\"tenantId\":\"t-%d\",\"appId\":\"a-%d\","
                        "\"callbackUri\":\"http://127.0.0.1:9/cb/%d\"}",
                        i, i, i);
    int rlen = snprintf(req, sizeof(req),
                        "POST /_emulator/calls HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: %d\r\n\r\n%s",
                        blen, body);
    long long deadline = now_ms() + 10000;
    if(send_all(fd, req, (size_t)rlen, deadline)) {
      close(fd);
      fd = -1;
      i--; /* the server closed an idle connection: again on a new one */
      continue;
    }
    /* one answer: headers, then Content-Length bytes */
    size_t len = 0;
    int status = 0;
    long clen = -1;
    char *eoh = NULL;
    while(now_ms() < deadline) {
      struct pollfd p = {fd, POLLIN, 0};
      if(poll(&p, 1, (int)(deadline - now_ms())) < 1)
        break;
      ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
      if(r <= 0)
        break;
      len += (size_t)r;
      buf[len] = '\0';
      eoh = strstr(buf, "\r\n\r\n");
      if(eoh) {
        char *cl = strcasestr(buf, "\r\nContent-Length:");
        clen = cl ? strtol(cl + 17, NULL, 10) : 0;
        if((long)(len - (size_t)(eoh + 4 - buf)) >= clen)
          break;
      }
      if(len == sizeof(buf) - 1)
        break;
    }
    if(eoh && sscanf(buf, "HTTP/1.1 %d", &status) == 1 && status >= 100 &&
       status < 600)
      counts[status]++;
    else {
      fprintf(stderr, "no answer to request %d\n", i);
      break;
    }
  }
  if(fd >= 0)
    close(fd);
  for(int i = 0; i < 600; i++)
    if(counts[i])
      printf("status %d %d\n", i, counts[i]);
  return 0;
}

int main(int argc, char **argv)
{
  if(argc >= 3)
    port = atoi(argv[2]);
  if(argc == 6 && !strcmp(argv[1], "idle"))
    return idle(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
  if(argc == 4 && !strcmp(argv[1], "raw"))
    return raw(atoi(argv[3]));
  if(argc == 5 && !strcmp(argv[1], "bodies"))
    return bodies(atoi(argv[3]), argv[4]);
  if(argc == 4 && !strcmp(argv[1], "fresh"))
    return fresh(atoi(argv[3]));
  fprintf(stderr, "usage: mgcall-test-attack idle PORT N PROBES WAIT_S | "
                  "raw PORT TIMEOUT_MS | bodies PORT N PATH | fresh PORT N\n");
  return 2;
}
