/* SPDX-License-Identifier: MIT */
/* fuzz_h2trace.c - mgc__h2trace_parse() on arbitrary bytes (exactly size
 * of them, no NUL: a copy of exactly that length so ASan sees any read
 * past it); what it accepts is in range. */
#include "h2trace.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size ? size : 1);
  if(!s)
    return 0;
  memcpy(s, data, size);
  struct mgc_h2t_line l;
  enum mgc_h2t_kind k = mgc__h2trace_parse(s, size, &l);
  if(k != l.kind || (k == MGC_H2T_STREAM && (!l.id || l.id > INT32_MAX)) ||
     (k == MGC_H2T_GOAWAY && l.id > INT32_MAX) ||
     (k == MGC_H2T_CONN && (l.conn < 0 || l.conn > INT32_MAX)))
    abort();
  struct mgc_h2t_stream st;
  mgc__h2trace_start(&st);
  mgc__h2trace_own(&st, &l);
  if(k == MGC_H2T_GOAWAY)
    mgc__h2trace_goaway(&st, st.conn, l.id);
  free(s);
  return 0;
}
