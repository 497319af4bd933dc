/* SPDX-License-Identifier: MIT */
/* fuzz_hook_argv.c - khooks_split() (the --on-ended word splitting) on
 * arbitrary bytes: never crashes; a result has 1..KHOOKS_MAX_ARGS words,
 * NULL-terminated, none longer than the input. */
#include "keeper/hooks.h"

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
  int argc = -1;
  char err[128];
  char **argv = khooks_split(s, &argc, err, sizeof(err));
  if(argv) {
    if(argc < 1 || argc > KHOOKS_MAX_ARGS || argv[argc])
      abort();
    for(int i = 0; i < argc; i++)
      if(!argv[i] || strlen(argv[i]) > strlen(s))
        abort();
    khooks_argv_free(argv);
  }
  free(s);
  return 0;
}
