/* SPDX-License-Identifier: MIT */
/* mgcx_int.c - bounded decimal integers. */
#include "mgcx.h"

#include <limits.h>

int mgcx_parse_longn(const char *s, size_t len, long lo, long hi, long *out)
{
  if(!s || !len || lo > hi)
    return -1;
  size_t i = 0;
  int neg = s[0] == '-';
  if(neg && ++i == len)
    return -1;
  /* accumulate negatively: LONG_MIN has no positive twin */
  long v = 0;
  for(; i < len; i++) {
    if(s[i] < '0' || s[i] > '9')
      return -1;
    int d = s[i] - '0';
    if(v < (LONG_MIN + d) / 10)
      return -1;
    v = v * 10 - d;
  }
  if(!neg) {
    if(v == LONG_MIN)
      return -1;
    v = -v;
  }
  if(v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

int mgcx_parse_long(const char *s, long lo, long hi, long *out)
{
  size_t len = 0;
  if(!s)
    return -1;
  while(s[len])
    len++;
  return mgcx_parse_longn(s, len, lo, hi, out);
}
