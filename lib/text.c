/* SPDX-License-Identifier: MIT */
/* text.c - escape untrusted text for one line, cut on character
 * boundaries. */
#include "text.h"

#include "mgcx.h"

#include <stdlib.h>
#include <string.h>

size_t mgc__text_cut(const char *s, size_t len, size_t max)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while(i < len) {
    size_t k = mgcx_utf8_seq(u + i, len - i);
    if(!k)
      k = 1;
    if(i + k > max)
      break;
    i += k;
  }
  return i;
}

static const char hexdigits[] = "0123456789abcdef";

/* The escaped form of the character at s (k bytes) into out (at most 6
 * bytes); returns its length. */
static size_t escape_one(const unsigned char *s, size_t k, char *out)
{
  if(k == 0) { /* not UTF-8 */
    out[0] = '\\';
    out[1] = 'x';
    out[2] = hexdigits[s[0] >> 4];
    out[3] = hexdigits[s[0] & 15];
    return 4;
  }
  unsigned c = s[0];
  if(k == 1) {
    if(c == '\\' || c == '\n' || c == '\r' || c == '\t') {
      out[0] = '\\';
      out[1] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
      return 2;
    }
    if(c < 0x20 || c == 0x7F) {
      out[0] = '\\';
      out[1] = 'x';
      out[2] = hexdigits[c >> 4];
      out[3] = hexdigits[c & 15];
      return 4;
    }
  }
  else if(k == 2 && c == 0xC2 && s[1] < 0xA0) { /* C1: U+0080..U+009F */
    memcpy(out, "\\u00", 4);
    out[4] = hexdigits[s[1] >> 4];
    out[5] = hexdigits[s[1] & 15];
    return 6;
  }
  memcpy(out, s, k);
  return k;
}

/* Bytes of the escaped form of s. */
static size_t escaped_len(const unsigned char *u, size_t len)
{
  size_t n = 0;
  for(size_t i = 0; i < len;) {
    size_t k = mgcx_utf8_seq(u + i, len - i);
    char esc[6];
    n += escape_one(u + i, k, esc);
    i += k ? k : 1;
  }
  return n;
}

size_t mgc__text_escape(char *dst, size_t cap, const char *s, size_t len)
{
  if(!cap)
    return 0;
  const unsigned char *u = (const unsigned char *)s;
  /* when all does not fit, keep room for "..." */
  size_t room = cap - 1;
  int cut = escaped_len(u, len) > room;
  if(cut)
    room = room > 3 ? room - 3 : 0;
  size_t o = 0;
  for(size_t i = 0; i < len;) {
    size_t k = mgcx_utf8_seq(u + i, len - i);
    char esc[6];
    size_t m = escape_one(u + i, k, esc);
    if(o + m > room)
      break; /* between two characters or escapes */
    memcpy(dst + o, esc, m);
    o += m;
    i += k ? k : 1;
  }
  if(cut)
    for(int d = 0; d < 3 && o < cap - 1; d++)
      dst[o++] = '.';
  dst[o] = '\0';
  return o;
}

char *mgc__text_escape_dup(const char *s)
{
  if(!s)
    return NULL;
  size_t len = strlen(s);
  if(len > (((size_t)-1) - 1) / 6)
    return NULL;
  size_t cap = 6 * len + 1; /* an escape is at most 6 bytes a byte */
  char *out = malloc(cap);
  if(out)
    mgc__text_escape(out, cap, s, len);
  return out;
}
