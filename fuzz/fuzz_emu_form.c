/* SPDX-License-Identifier: MIT */
/* fuzz_emu_form.c - the emulator's form-body / query parser and HTTP Basic
 * credentials parser on arbitrary bytes. */
#include "form.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct emu_form f;
  if(emu_form_parse((const char *)data, size, &f) == EMU_FORM_OK) {
    for(size_t i = 0; i < f.n; i++)
      if(emu_form_get(&f, f.f[i].name) == NULL)
        abort();
  }
  emu_form_release(&f);
  char *s = malloc(size + 1);
  if(!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  char *u, *p;
  if(!emu_basic_parse(s, &u, &p)) {
    if(!u || !p)
      abort();
    free(u);
    free(p);
  }
  free(s);
  return 0;
}
