/* SPDX-License-Identifier: MIT */
/* ids.c - call id and tenant id rules, and which characters are unsafe to
 * show. */
#include "ids.h"

#include "utf8.h"

#include <stdint.h>
#include <string.h>

uint32_t mgc__char_code(const unsigned char *s, size_t len)
{
  if(len <= 1)
    return s[0];
  uint32_t cp = s[0] & (0x7fu >> len); /* the lead byte's payload */
  for(size_t i = 1; i < len; i++)
    cp = (cp << 6) | (s[i] & 0x3fu);
  return cp;
}

int mgc__char_unsafe(const unsigned char *s, size_t len)
{
  uint32_t cp = mgc__char_code(s, len);
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
         cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

int mgc__call_id_ok(const char *s)
{
  size_t n = s ? strlen(s) : 0;
  if(!n || n > MGC_ID_MAX)
    return 0;
  const unsigned char *p = (const unsigned char *)s;
  while(n) {
    size_t len = mgc__utf8_seq(p, n);
    if(!len || mgc__char_unsafe(p, len))
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
