/* SPDX-License-Identifier: MIT */
/* fuzz_rfc3339.c - mgcx_rfc3339_parse() on arbitrary bytes; what it accepts,
 * formatted and parsed again, gives the same instant. */
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
  int64_t ms, back;
  if(!mgcx_rfc3339_parse(s, &ms)) {
    char buf[64];
    mgcx_rfc3339_format(ms, 1, buf, sizeof(buf));
    if(mgcx_rfc3339_parse(buf, &back) || back != ms)
      abort();
  }
  free(s);
  return 0;
}
