/* SPDX-License-Identifier: MIT */
/* fuzz_input.c - keep-alive input lines and path-segment encoding on
 * arbitrary bytes: no crash; an accepted id encodes to one segment (no '/',
 * '?', '#', and not "." or ".."). */
#include "input.h"
#include "url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *id = NULL, err[256];
  enum mgc_input_kind k =
      mgc__input_parse_line((const char *)data, size, &id, err, sizeof(err));
  if(k == MGC_INPUT_ID) {
    if(!id || !*id)
      abort();
    char *seg = mgc__url_segment(id, strlen(id));
    if(!seg || strpbrk(seg, "/?# ") || !strcmp(seg, ".") || !strcmp(seg, ".."))
      abort();
    free(seg);
  }
  else if(id) {
    abort();
  }
  free(id);
  k = mgc__input_parse_object((const char *)data, size, &id, err, sizeof(err));
  free(id);
  return 0;
}
