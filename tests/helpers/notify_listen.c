/* SPDX-License-Identifier: MIT */
/* notify_listen.c - mgcall-test-notify SOCKET OUT: a stand-in for systemd's
 * notification socket.  Binds the AF_UNIX datagram socket SOCKET, prints
 * "listening" on stdout, then appends every datagram received (sd_notify()
 * messages such as READY=1) to OUT, one line each, until killed. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
  if(argc != 3) {
    fprintf(stderr, "usage: mgcall-test-notify SOCKET OUT\n");
    return 2;
  }
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if(strlen(argv[1]) >= sizeof(sa.sun_path)) {
    fprintf(stderr, "socket path too long\n");
    return 2;
  }
  strcpy(sa.sun_path, argv[1]);
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  unlink(argv[1]);
  if(fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
    perror("bind");
    return 1;
  }
  printf("listening\n");
  fflush(stdout);
  char buf[4096];
  for(;;) {
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    if(n < 0)
      continue;
    buf[n] = '\0';
    FILE *f = fopen(argv[2], "a");
    if(f) {
      fprintf(f, "%s\n", buf);
      fclose(f);
    }
  }
}
