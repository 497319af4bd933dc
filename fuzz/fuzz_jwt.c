/* SPDX-License-Identifier: MIT */
/* fuzz_jwt.c - mgc__jwt_decode() and base64url decoding on arbitrary bytes. */
#include "b64url.h"
#include "jwt.h"

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
  json_t *h = NULL, *c = NULL;
  struct mgc_err err;
  if(!mgc__jwt_decode(s, &h, &c, &err)) {
    if(!json_is_object(h) || !json_is_object(c))
      abort();
  }
  json_decref(h);
  json_decref(c);
  unsigned char *raw;
  size_t rawlen;
  if(!mgc__b64url_decode(s, size, &raw, &rawlen)) {
    char *again = mgc__b64url_encode(raw, rawlen);
    free(raw);
    free(again);
  }
  free(s);
  return 0;
}
