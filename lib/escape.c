/* SPDX-License-Identifier: MIT */
/* escape.c - printable, one-line text from untrusted strings. */
#include "escape.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1..4) with its code point, or 0. */
static size_t utf8_len(const unsigned char *s, uint32_t *cp)
{
  size_t len;
  uint32_t min;
  if(s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
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
  for(size_t i = 1; i < len; i++) {
    if((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
      return 0;
    *cp = (*cp << 6) | (s[i] & 0x3fu);
  }
  if(*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
    return 0;
  return len;
}

char *mgc__escape_text(const char *s, char *out, size_t outlen)
{
  size_t o = 0;
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while(*p) {
    char esc[16];
    const char *piece = esc;
    size_t n;
    uint32_t cp = 0;
    size_t len = utf8_len(p, &cp);
    if(!len) {
      snprintf(esc, sizeof(esc), "\\x%02X", (unsigned)*p);
      len = 1;
    }
    else if(cp == '\n')
      snprintf(esc, sizeof(esc), "\\n");
    else if(cp == '\r')
      snprintf(esc, sizeof(esc), "\\r");
    else if(cp == '\t')
      snprintf(esc, sizeof(esc), "\\t");
    else if(cp == '\\')
      snprintf(esc, sizeof(esc), "\\\\");
    else if(cp < 0x20 || cp == 0x7f)
      snprintf(esc, sizeof(esc), "\\x%02X", (unsigned)cp);
    else if((cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
            cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
            (cp >= 0x2066 && cp <= 0x2069))
      snprintf(esc, sizeof(esc), "\\u{%04X}", (unsigned)cp);
    else
      piece = (const char *)p;
    n = piece == esc ? strlen(esc) : len;
    if(o + n + 1 > outlen)
      break;
    memcpy(out + o, piece, n);
    o += n;
    p += len;
  }
  if(outlen)
    out[o < outlen ? o : outlen - 1] = '\0';
  return out;
}
