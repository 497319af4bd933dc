/* SPDX-License-Identifier: MIT */
/* ids.c - call id and tenant id rules. */
#include "ids.h"

#include <stdint.h>
#include <string.h>

/* Decode one UTF-8 sequence at s (n bytes left): its code point and
 * length, or 0 for an invalid one (overlong, surrogate, > U+10FFFF). */
static size_t utf8_one(const unsigned char *s, size_t n, uint32_t *cp)
{
  if(s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  size_t len;
  uint32_t min;
  if((s[0] & 0xe0) == 0xc0) {
    len = 2;
    min = 0x80;
    *cp = s[0] & 0x1fu;
  }
  else if((s[0] & 0xf0) == 0xe0) {
    len = 3;
    min = 0x800;
    *cp = s[0] & 0x0fu;
  }
  else if((s[0] & 0xf8) == 0xf0) {
    len = 4;
    min = 0x10000;
    *cp = s[0] & 0x07u;
  }
  else
    return 0;
  if(len > n)
    return 0;
  for(size_t i = 1; i < len; i++) {
    if((s[i] & 0xc0) != 0x80)
      return 0;
    *cp = (*cp << 6) | (s[i] & 0x3fu);
  }
  if(*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
    return 0;
  return len;
}

static int forbidden(uint32_t cp)
{
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
    uint32_t cp;
    size_t len = utf8_one(p, n, &cp);
    if(!len || forbidden(cp))
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
