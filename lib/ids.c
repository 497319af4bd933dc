/* SPDX-License-Identifier: MIT */
/* ids.c - call id and tenant id rules. */
#include "ids.h"

#include "mgcx.h"

#include <stdint.h>
#include <string.h>

int mgc__call_id_ok(const char *s)
{
  size_t n = s ? strlen(s) : 0;
  if(!n || n > MGC_ID_MAX)
    return 0;
  const unsigned char *p = (const unsigned char *)s;
  while(n) {
    size_t len = mgcx_utf8_seq(p, n);
    if(!len || mgcx_char_unsafe(p, len))
      return 0;
    p += len;
    n -= len;
  }
  return 1;
}

int mgc__tenant_id_ok(const char *s)
{
  if(!s || !*s || strlen(s) > MGC_ID_MAX)
    return 0;
  for(const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
      return 0;
  }
  return strcmp(s, ".") && strcmp(s, "..");
}
