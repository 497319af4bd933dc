/* SPDX-License-Identifier: MIT */
/* listen.c - see listen.h. */
#include "listen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

int mgc__listen_parse(const char *s, struct sockaddr_storage *ss,
                      socklen_t *len, int *loopback)
{
  char host[64];
  const char *port;
  int bracketed = s && s[0] == '[';
  if(!s || !*s)
    return -1;
  if(bracketed) {
    const char *end = strchr(s, ']');
    if(!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
      return -1;
    memcpy(host, s + 1, (size_t)(end - s - 1));
    host[end - s - 1] = '\0';
    port = end + 2;
  }
  else {
    const char *colon = strrchr(s, ':');
    if(!colon || (size_t)(colon - s) >= sizeof(host) ||
       memchr(s, ':', (size_t)(colon - s)))
      return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port = colon + 1;
    if(!*host || !strcmp(host, "localhost"))
      strcpy(host, "127.0.0.1");
  }
  if(!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
    return -1;
  unsigned long p = 0;
  for(const char *d = port; *d; d++)
    p = p * 10 + (unsigned long)(*d - '0');
  if(p > 65535)
    return -1;
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  int lo;
  if(!bracketed && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)p);
    *len = sizeof(*v4);
    lo = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  else if(bracketed && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)p);
    *len = sizeof(*v6);
    lo = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
  }
  else {
    return -1;
  }
  if(loopback)
    *loopback = lo;
  return 0;
}
