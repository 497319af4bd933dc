/* SPDX-License-Identifier: MIT */
/* h2trace.c - see h2trace.h.  libcurl 7.88 fails the first stream of a
 * connection that a GOAWAY closed with CURLE_HTTP2 instead of sending it
 * again as it does the other refused streams, and CURLE_HTTP2 with no
 * answer is also what other session failures give: only the trace tells
 * which stream the GOAWAY refused.  A line in another form (another
 * libcurl) proves nothing, and the failure goes the retry policy's way. */
#include "h2trace.h"

#include <string.h>

/* The length of lit when text starts with it, else 0. */
static size_t lit_at(const char *text, size_t len, const char *lit)
{
  size_t n = strlen(lit);
  return len >= n && !memcmp(text, lit, n) ? n : 0;
}

/* A decimal number of at most 10 digits at text[*i] (no sign), at most
 * max; moves *i past it.  Returns 0 when there is none. */
static int number_at(const char *text, size_t len, size_t *i, uint32_t max,
                     uint32_t *out)
{
  uint64_t v = 0;
  size_t start = *i, k = *i;
  while(k < len && k - start < 10 && text[k] >= '0' && text[k] <= '9')
    v = v * 10 + (uint64_t)(text[k++] - '0');
  if(k == start || (k < len && text[k] >= '0' && text[k] <= '9') || v > max)
    return 0;
  *i = k;
  *out = (uint32_t)v;
  return 1;
}

/* The line ends at i (nothing or one "\n", "\r\n" left). */
static int end_at(const char *text, size_t len, size_t i)
{
  if(i < len && text[i] == '\r')
    i++;
  if(i < len && text[i] == '\n')
    i++;
  return i == len;
}

static enum mgc_h2t_kind parse_conn(const char *text, size_t len,
                                    struct mgc_h2t_line *out)
{
  uint32_t n;
  size_t i;
  if((i = lit_at(text, len, "Re-using existing connection"))) {
    /* 7.88: "... connection #N with host H"; older: "! (#N) with ..." */
    if(i < len && text[i] == '!')
      i++;
    size_t k = lit_at(text + i, len - i, " #");
    if(!k)
      k = lit_at(text + i, len - i, " (#");
    if(!k)
      return MGC_H2T_NONE;
    i += k;
    if(!number_at(text, len, &i, INT32_MAX, &n) || i >= len ||
       (text[i] != ' ' && text[i] != ')'))
      return MGC_H2T_NONE;
    out->conn = (long)n;
    return out->kind = MGC_H2T_CONN;
  }
  if(lit_at(text, len, "Connected to ")) {
    /* "Connected to H (IP) port P (#N)": the last "(#" of the line */
    size_t end = len;
    while(end && (text[end - 1] == '\n' || text[end - 1] == '\r'))
      end--;
    if(!end || text[end - 1] != ')')
      return MGC_H2T_NONE;
    size_t j = end - 1;
    while(j > 13 && text[j - 1] >= '0' && text[j - 1] <= '9')
      j--;
    if(j < 15 || text[j - 1] != '#' || text[j - 2] != '(')
      return MGC_H2T_NONE;
    i = j;
    if(!number_at(text, end, &i, INT32_MAX, &n) || i != end - 1)
      return MGC_H2T_NONE;
    out->conn = (long)n;
    return out->kind = MGC_H2T_CONN;
  }
  return MGC_H2T_NONE;
}

enum mgc_h2t_kind mgc__h2trace_parse(const char *text, size_t len,
                                     struct mgc_h2t_line *out)
{
  uint32_t n, err;
  size_t i;
  memset(out, 0, sizeof(*out));
  out->kind = MGC_H2T_NONE;
  if(!text)
    return MGC_H2T_NONE;
  if((i = lit_at(text, len, "Using Stream ID: "))) {
    if(!number_at(text, len, &i, INT32_MAX, &n) || !n ||
       (!end_at(text, len, i) && !lit_at(text + i, len - i, " (")))
      return MGC_H2T_NONE;
    out->id = n;
    return out->kind = MGC_H2T_STREAM;
  }
  if((i = lit_at(text, len, "recveived GOAWAY, error=")) ||
     (i = lit_at(text, len, "received GOAWAY, error="))) {
    size_t k;
    if(!number_at(text, len, &i, UINT32_MAX, &err) ||
       !(k = lit_at(text + i, len - i, ", last_stream=")))
      return MGC_H2T_NONE;
    i += k;
    if(!number_at(text, len, &i, INT32_MAX, &n) || !end_at(text, len, i))
      return MGC_H2T_NONE;
    out->id = n;
    return out->kind = MGC_H2T_GOAWAY;
  }
  if((i = lit_at(text, len, "using HTTP/2")) && end_at(text, len, i))
    return out->kind = MGC_H2T_H2;
  return parse_conn(text, len, out);
}

void mgc__h2trace_start(struct mgc_h2t_stream *s)
{
  s->conn = -1;
  s->id = 0;
  s->refused = 0;
}

void mgc__h2trace_own(struct mgc_h2t_stream *s, const struct mgc_h2t_line *l)
{
  if(l->kind == MGC_H2T_CONN) {
    s->conn = l->conn;
    s->id = 0;
    s->refused = 0;
  }
  else if(l->kind == MGC_H2T_STREAM) {
    s->id = l->id;
    s->refused = 0;
  }
}

void mgc__h2trace_goaway(struct mgc_h2t_stream *s, long conn, uint32_t last)
{
  if(conn >= 0 && s->conn == conn && s->id && s->id > last)
    s->refused = 1;
}

int mgc__h2trace_unprocessed(CURLcode rc, long status,
                             const struct mgc_h2t_stream *s)
{
  return rc != CURLE_OK && !status && s->refused;
}
