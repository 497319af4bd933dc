/* SPDX-License-Identifier: MIT */
/* fuzz_rfc3339.c - kt_parse_rfc3339() on arbitrary bytes; what it accepts,
 * formatted and parsed again, gives the same instant. */
#include "keeper/timefmt.h"

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
  if(!kt_parse_rfc3339(s, &ms)) {
    char buf[64];
    kt_format_rfc3339(ms, buf, sizeof(buf));
    if(kt_parse_rfc3339(buf, &back) || back != ms)
      abort();
  }
  free(s);
  return 0;
}
