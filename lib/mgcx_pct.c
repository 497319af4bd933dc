/* SPDX-License-Identifier: MIT */
/* mgcx_pct.c - percent-decoding (URL paths, query strings, form bodies). */
#include "mgcx.h"

#include <stdlib.h>

int mgcx_hexval(char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if(c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

char *mgcx_pct_decode(const char *s, size_t len, int plus)
{
  char *out = malloc(len + 1);
  if(!out)
    return NULL;
  size_t o = 0;
  for(size_t i = 0; i < len; i++) {
    char c = s[i];
    if(c == '%') {
      int hi = i + 2 < len ? mgcx_hexval(s[i + 1]) : -1;
      int lo = i + 2 < len ? mgcx_hexval(s[i + 2]) : -1;
      if(hi < 0 || lo < 0) {
        free(out);
        return NULL;
      }
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    else if(c == '+' && plus)
      c = ' ';
    if(c == '\0') {
      free(out);
      return NULL;
    }
    out[o++] = c;
  }
  out[o] = '\0';
  return out;
}
