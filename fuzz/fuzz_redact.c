/* SPDX-License-Identifier: MIT */
/* fuzz_redact.c - mgc__redact() on arbitrary bytes: no crash, and a secret
 * value planted after a known prefix never survives. */
#include "redact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *out = mgc__redact((const char *)data, size);
  free(out);
  /* Planted: "\nAuthorization: Bearer SECRETVALUE" appended to the input. */
  static const char tail[] = "\nAuthorization: Bearer SECRETVALUE";
  char *in = malloc(size + sizeof(tail));
  if(!in)
    return 0;
  /* NUL bytes are kept by mgc__redact(); make them spaces here so strlen()
   * of the output finds the planted line at its end. */
  for(size_t i = 0; i < size; i++)
    in[i] = data[i] ? (char)data[i] : ' ';
  memcpy(in + size, tail, sizeof(tail) - 1);
  out = mgc__redact(in, size + sizeof(tail) - 1);
  if(out && strstr(out + strlen(out) - strlen("Authorization: [REDACTED]"),
                   "SECRETVALUE"))
    abort();
  free(out);
  free(in);
  return 0;
}
