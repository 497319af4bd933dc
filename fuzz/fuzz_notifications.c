/* SPDX-License-Identifier: MIT */
/* fuzz_notifications.c - kn_parse() on arbitrary bytes: never crashes, and
 * every event it returns has a non-empty, bounded call id and an action. */
#include "keeper/notify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct kn_event ev[16];
  size_t n = 99;
  char err[128];
  int rc = kn_parse((const char *)data, size, ev, 16, &n, err, sizeof(err));
  if(rc != 0 && rc != -1 && rc != KN_TOO_MANY)
    abort();
  if(rc && (n != 0 || !err[0]))
    abort();
  if(n > 16)
    abort();
  for(size_t i = 0; i < n; i++) {
    size_t len = strlen(ev[i].call_id);
    if(!len || len > KS_ID_MAX || strchr(ev[i].call_id, '/'))
      abort();
    if(ev[i].action != KN_TRACK && ev[i].action != KN_END)
      abort();
  }
  return 0;
}
