/* SPDX-License-Identifier: MIT */
/* fuzz_pg_mask.c - kpg_mask_password() (the --store URL on the command
 * line) on arbitrary bytes: never crashes, never changes the length, only
 * ever writes '*'. */
#include "keeper/pg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1), *orig = malloc(size + 1);
  if(!s || !orig) {
    free(s);
    free(orig);
    return 0;
  }
  memcpy(s, data, size);
  s[size] = '\0';
  memcpy(orig, s, size + 1);
  size_t len = strlen(s);
  if(kpg_mask_password(s) < 0 || strlen(s) != len)
    abort();
  for(size_t i = 0; i < len; i++)
    if(s[i] != orig[i] && s[i] != '*')
      abort();
  free(s);
  free(orig);
  return 0;
}
