/* SPDX-License-Identifier: MIT */
/* mgcx_utf8.c - UTF-8 validation, code points, the characters unsafe to
 * show, and the cleaning copy. */
#include "mgcx.h"

size_t mgcx_utf8_seq(const unsigned char *s, size_t n)
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

size_t mgcx_utf8_clean(char *dst, size_t dstlen, const char *src, size_t srclen)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)src;
  size_t o = 0, i = 0;
  if(!dstlen)
    return 0;
  while(i < srclen) {
    size_t n = s[i] ? mgcx_utf8_seq(s + i, srclen - i) : 0;
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

uint32_t mgcx_char_code(const unsigned char *s, size_t len)
{
  if(len <= 1)
    return s[0];
  uint32_t cp = s[0] & (0x7fu >> len); /* the lead byte's payload */
  for(size_t i = 1; i < len; i++)
    cp = (cp << 6) | (s[i] & 0x3fu);
  return cp;
}

int mgcx_char_unsafe(const unsigned char *s, size_t len)
{
  uint32_t cp = mgcx_char_code(s, len);
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
         cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}
