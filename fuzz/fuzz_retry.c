/* SPDX-License-Identifier: MIT */
/* fuzz_retry.c - Retry-After parsing on arbitrary bytes, and the retry
 * decision on values taken from them: no crash, a wait never beyond the
 * bounds. */
#include "retry.h"

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
  uint64_t ms = 0;
  int rc = mgc__retry_after_parse(s, 1700000000, &ms);
  free(s);
  uint32_t r = 0;
  for(size_t i = 0; i < size && i < 4; i++)
    r = r << 8 | data[i];
  struct mgc_retry_policy p = {(int)(r % 11), (uint64_t)(r % 100000)};
  int64_t d = mgc__retry_next_delay(&p, (int)(r % 13), r % 50000,
                                    rc ? -1 : (int64_t)ms, r);
  if(d > (int64_t)MGC_RETRY_AFTER_MAX_MS)
    abort();
  if(d >= 0 && rc && (uint64_t)d > MGC_RETRY_CAP_MS)
    abort();
  if(d >= 0 && p.max_time_ms && (uint64_t)d + r % 50000 > p.max_time_ms)
    abort();
  return 0;
}
