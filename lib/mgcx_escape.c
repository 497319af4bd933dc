/* SPDX-License-Identifier: MIT */
/* mgcx_escape.c - printable, one-line text from untrusted strings. */
#include "mgcx.h"

#include <stdio.h>
#include <string.h>

char *mgcx_escape_text(const char *s, char *out, size_t outlen)
{
  size_t o = 0;
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  size_t left = strlen((const char *)p);
  while(left) {
    char esc[16];
    const char *piece = esc;
    size_t len = mgcx_utf8_seq(p, left);
    if(!len) {
      snprintf(esc, sizeof(esc), "\\x%02X", (unsigned)*p);
      len = 1;
    }
    else if(*p == '\n')
      snprintf(esc, sizeof(esc), "\\n");
    else if(*p == '\r')
      snprintf(esc, sizeof(esc), "\\r");
    else if(*p == '\t')
      snprintf(esc, sizeof(esc), "\\t");
    else if(*p == '\\')
      snprintf(esc, sizeof(esc), "\\\\");
    else if(len == 1 && mgcx_char_unsafe(p, 1))
      snprintf(esc, sizeof(esc), "\\x%02X", (unsigned)*p);
    else if(mgcx_char_unsafe(p, len)) /* C1, bidi, separators */
      snprintf(esc, sizeof(esc), "\\u{%04X}", (unsigned)mgcx_char_code(p, len));
    else
      piece = (const char *)p;
    size_t n = piece == esc ? strlen(esc) : len;
    if(o + n + 1 > outlen)
      break;
    memcpy(out + o, piece, n);
    o += n;
    p += len;
    left -= len;
  }
  if(outlen)
    out[o < outlen ? o : outlen - 1] = '\0';
  return out;
}
