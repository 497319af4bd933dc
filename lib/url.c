/* SPDX-License-Identifier: MIT */
/* url.c - path segment encoding. */
#include "url.h"

#include <stdlib.h>
#include <string.h>

static int unreserved(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

char *mgc__url_segment(const char *s, size_t len)
{
  static const char hex[] = "0123456789ABCDEF";
  if(!s || !len || memchr(s, '\0', len) || len > ((size_t)-1) / 3 - 1)
    return NULL;
  int dots = (len == 1 && s[0] == '.') || (len == 2 && !memcmp(s, "..", 2));
  char *out = malloc(len * 3 + 1);
  if(!out)
    return NULL;
  size_t w = 0;
  for(size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if(unreserved(c) && !dots) {
      out[w++] = (char)c;
    }
    else {
      out[w++] = '%';
      out[w++] = hex[c >> 4];
      out[w++] = hex[c & 0x0f];
    }
  }
  out[w] = '\0';
  return out;
}
