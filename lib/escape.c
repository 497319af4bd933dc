/* SPDX-License-Identifier: MIT */
/* escape.c - printable, one-line text from untrusted strings. */
#include "escape.h"

#include "ids.h"
#include "utf8.h"

#include <stdio.h>
#include <string.h>

char *mgc__escape_text(const char *s, char *out, size_t outlen)
{
  size_t o = 0;
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  size_t left = strlen((const char *)p);
  while(left) {
    char esc[16];
    const char *piece = esc;
    size_t len = mgc__utf8_seq(p, left);
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
    else if(len == 1 && mgc__char_unsafe(p, 1))
      snprintf(esc, sizeof(esc), "\\x%02X", (unsigned)*p);
    else if(mgc__char_unsafe(p, len)) /* C1, bidi, separators */
      snprintf(esc, sizeof(esc), "\\u{%04X}", (unsigned)mgc__char_code(p, len));
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
