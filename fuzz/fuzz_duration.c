/* SPDX-License-Identifier: MIT */
/* fuzz_duration.c - mgcx_duration_parse() on arbitrary bytes; whatever it
 * accepts must format and parse back to the same value. */
#include "mgcx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  if(!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  uint64_t ms, back;
  if(!mgcx_duration_parse(s, &ms)) {
    char buf[64];
    mgcx_duration_format(ms, buf, sizeof(buf));
    if(mgcx_duration_parse(buf, &back) || back != ms)
      abort();
  }
  free(s);
  return 0;
}
