/* SPDX-License-Identifier: MIT */
/* fuzz_emu_guard.c - emu_guard_refuse() on arbitrary Host and Origin
 * values (the input's first line and the rest, NUL-terminated copies; a
 * 0 byte first means "no Origin"): no crash, no read past either, and an
 * Origin that is exactly "http://" + Host never decides alone. */
#include "guard.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *nl = memchr(data, '\n', size);
  size_t hlen = nl ? (size_t)(nl - data) : size;
  char *host = malloc(hlen + 1);
  char *origin = malloc(size - hlen + 8);
  if(!host || !origin)
    goto out;
  memcpy(host, data, hlen);
  host[hlen] = '\0';
  size_t olen = nl ? size - hlen - 1 : 0;
  memcpy(origin, nl ? nl + 1 : data, olen);
  origin[olen] = '\0';
  int no_origin = olen && !origin[0];
  for(int loop = 0; loop < 2; loop++) {
    (void)emu_guard_refuse(loop, host, no_origin ? NULL : origin);
    (void)emu_guard_refuse(loop, NULL, origin);
    /* same origin: refused only for the Host, on a loopback listener */
    char *same = malloc(hlen + 8);
    if(!same)
      break;
    memcpy(same, "http://", 7);
    memcpy(same + 7, host, hlen + 1);
    if(emu_guard_refuse(loop, host, same) &&
       !emu_guard_refuse(loop, host, NULL))
      abort();
    if(!loop && emu_guard_refuse(0, host, same))
      abort();
    free(same);
  }
out:
  free(host);
  free(origin);
  return 0;
}
