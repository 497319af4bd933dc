/* SPDX-License-Identifier: MIT */
/* utf8.c - UTF-8 validation and the cleaning copy (see utf8.h). */
#include "utf8.h"

size_t mgc__utf8_seq(const unsigned char *s, size_t n)
{
  if(!n)
    return 0;
  unsigned char c = s[0];
  if(c < 0x80)
    return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
  if(c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if(c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if(c == 0xE0)
      lo = 0xA0; /* overlong */
    else if(c == 0xED)
      hi = 0x9F; /* surrogates */
  }
  else if(c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if(c == 0xF0)
      lo = 0x90; /* overlong */
    else if(c == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  }
  else
    return 0;
  if(n < len || s[1] < lo || s[1] > hi)
    return 0;
  for(size_t i = 2; i < len; i++)
    if(s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  return len;
}

size_t mgc__utf8_clean(char *dst, size_t dstlen, const char *src, size_t srclen)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)src;
  size_t o = 0, i = 0;
  if(!dstlen)
    return 0;
  while(i < srclen) {
    size_t n = s[i] ? mgc__utf8_seq(s + i, srclen - i) : 0;
    if(n) {
      if(o + n >= dstlen)
        break;
      for(size_t k = 0; k < n; k++)
        dst[o++] = (char)s[i + k];
      i += n;
      continue;
    }
    if(o + 4 >= dstlen)
      break;
    dst[o++] = '\\';
    dst[o++] = 'x';
    dst[o++] = hex[s[i] >> 4];
    dst[o++] = hex[s[i] & 15];
    i++;
  }
  dst[o] = '\0';
  return o;
}
