/* SPDX-License-Identifier: MIT */
/* slowloris.c - mgcall-test-slowloris PORT SOURCE_ADDR N SECONDS: a
 * slowloris attacker for the system tests, on loopback only.  Keeps N
 * connections from SOURCE_ADDR (an address of 127.0.0.0/8, so tests can
 * tell the attacker from their own probes) to 127.0.0.1:PORT, each sending
 * a request's headers one byte a second and never finishing them; a
 * connection the server closes is opened again a second later.  Stops after
 * SECONDS and prints, one "key=value" a line:
 *   opened=   connections opened in all
 *   closed=   connections the server closed (refused at once or cut later)
 *   longest_ms=  the longest time one connection stayed open
 *   open_at_end= connections still open when it stopped */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct slot {
  int fd;
  int64_t opened, next_byte, reopen_at;
  size_t sent;
};

static const char request[] = "GET /calls HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static int open_one(const struct sockaddr_in *src,
                    const struct sockaddr_in *dst)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if(fd < 0)
    return -1;
  if(bind(fd, (const struct sockaddr *)src, sizeof(*src)) ||
     (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) &&
      errno != EINPROGRESS)) {
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char **argv)
{
  if(argc != 5) {
    fprintf(stderr,
            "usage: mgcall-test-slowloris PORT SOURCE_ADDR N SECONDS\n");
    return 2;
  }
  long port = strtol(argv[1], NULL, 10), n = strtol(argv[3], NULL, 10),
       secs = strtol(argv[4], NULL, 10);
  struct sockaddr_in src = {0}, dst = {0};
  src.sin_family = dst.sin_family = AF_INET;
  dst.sin_port = htons((uint16_t)port);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if(port <= 0 || port > 65535 || n <= 0 || n > 5000 || secs <= 0 ||
     secs > 120 || inet_pton(AF_INET, argv[2], &src.sin_addr) != 1 ||
     (ntohl(src.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "mgcall-test-slowloris: bad arguments (loopback only)\n");
    return 2;
  }
  struct slot *s = calloc((size_t)n, sizeof(*s));
  struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
  if(!s || !pf)
    return 1;
  long opened = 0, closed = 0;
  int64_t longest = 0, start = now_ms(), end = start + secs * 1000;
  for(long i = 0; i < n; i++)
    s[i].fd = -1;
  while(now_ms() < end) {
    int64_t t = now_ms();
    for(long i = 0; i < n; i++) {
      struct slot *c = &s[i];
      if(c->fd < 0 && t >= c->reopen_at) {
        c->fd = open_one(&src, &dst);
        if(c->fd >= 0) {
          opened++;
          c->opened = t;
          c->next_byte = t;
          c->sent = 0;
        }
        else
          c->reopen_at = t + 1000;
      }
      if(c->fd >= 0 && t >= c->next_byte) {
        char b = request[c->sent % (sizeof(request) - 1)];
        ssize_t w = send(c->fd, &b, 1, MSG_NOSIGNAL);
        if(w == 1) {
          c->sent++;
          c->next_byte = t + 1000;
        }
        else if(w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                errno != ENOTCONN) {
          if(t - c->opened > longest)
            longest = t - c->opened;
          close(c->fd);
          c->fd = -1;
          closed++;
          c->reopen_at = t + 1000;
        }
        else
          c->next_byte = t + 50; /* still connecting */
      }
      pf[i].fd = c->fd;
      pf[i].events = POLLIN;
      pf[i].revents = 0;
    }
    if(poll(pf, (nfds_t)n, 50) < 0 && errno != EINTR)
      break;
    t = now_ms();
    for(long i = 0; i < n; i++) {
      struct slot *c = &s[i];
      if(c->fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char buf[512];
      ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
      if(r > 0)
        continue; /* an answer (408/400): the close follows */
      if(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        continue;
      if(t - c->opened > longest)
        longest = t - c->opened;
      close(c->fd);
      c->fd = -1;
      closed++;
      c->reopen_at = t + 1000;
    }
  }
  long open_at_end = 0;
  int64_t t = now_ms();
  for(long i = 0; i < n; i++)
    if(s[i].fd >= 0) {
      open_at_end++;
      if(t - s[i].opened > longest)
        longest = t - s[i].opened;
      close(s[i].fd);
    }
  printf("opened=%ld\nclosed=%ld\nlongest_ms=%lld\nopen_at_end=%ld\n", opened,
         closed, (long long)longest, open_at_end);
  free(s);
  free(pf);
  return 0;
}
