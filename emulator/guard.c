/* SPDX-License-Identifier: MIT */
/* guard.c - see guard.h.  The keeper's control API has its own rules
 * (keeper/api_guard.c: --allowed-host, the listen address); the emulator,
 * a test tool without that option, checks what a browser cannot fake. */
#include "guard.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* len bytes at s: "" or ":" and 1 to 5 digits. */
static int port_ok(const char *s, size_t len)
{
  if(!len)
    return 1;
  if(*s != ':' || len < 2 || len > 6)
    return 0;
  for(size_t i = 1; i < len; i++)
    if(s[i] < '0' || s[i] > '9')
      return 0;
  return 1;
}

/* host[:port] or [v6][:port] naming loopback. */
static int loopback_host(const char *host)
{
  char buf[64];
  size_t len = strlen(host), n;
  const char *rest;
  if(*host == '[') {
    const char *end = memchr(host, ']', len);
    if(!end || (n = (size_t)(end - host - 1)) >= sizeof(buf))
      return 0;
    memcpy(buf, host + 1, n);
    buf[n] = '\0';
    rest = end + 1;
    struct in6_addr a6;
    return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6) &&
           port_ok(rest, strlen(rest));
  }
  const char *colon = memchr(host, ':', len);
  n = colon ? (size_t)(colon - host) : len;
  if(!n || n >= sizeof(buf))
    return 0;
  memcpy(buf, host, n);
  buf[n] = '\0';
  rest = host + n;
  if(!port_ok(rest, strlen(rest)))
    return 0;
  if(buf[n - 1] == '.') /* "localhost." is "localhost" */
    buf[--n] = '\0';
  if(!strcasecmp(buf, "localhost"))
    return 1;
  struct in_addr a4;
  return inet_pton(AF_INET, buf, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

const char *emu_guard_refuse(int loopback_listener, const char *host,
                             const char *origin)
{
  if(host && loopback_listener && !loopback_host(host))
    return "the Host header does not name this loopback emulator "
           "(localhost, 127.0.0.1 or [::1]): a web page on another name "
           "may not drive /_emulator/*";
  if(!origin)
    return NULL;
  const char *rest = NULL;
  if(!strncasecmp(origin, "http://", 7))
    rest = origin + 7;
  else if(!strncasecmp(origin, "https://", 8))
    rest = origin + 8;
  if(!rest || !host || strcasecmp(rest, host))
    return "requests from web pages of another origin may not drive "
           "/_emulator/*";
  return NULL;
}
