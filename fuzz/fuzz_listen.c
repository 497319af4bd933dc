/* SPDX-License-Identifier: MIT */
/* fuzz_listen.c - mgc__listen_parse() (--listen ADDR:PORT) on arbitrary
 * bytes: never crashes; what it accepts is IPv4 or IPv6 with a sane length. */
#include "listen.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  if(!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  struct sockaddr_storage ss;
  socklen_t len = 0;
  int loopback = -1;
  if(!mgc__listen_parse(s, &ss, &len, &loopback)) {
    if(ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
      abort();
    if(!len || len > sizeof(ss) || (loopback != 0 && loopback != 1))
      abort();
  }
  free(s);
  return 0;
}
