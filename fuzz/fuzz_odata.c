/* SPDX-License-Identifier: MIT */
/* fuzz_odata.c - mgc__odata_parse() on arbitrary bytes: no crash, every
 * field NUL-terminated within its buffer. */
#include "odata.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct mgc_odata_error e;
  mgc__odata_parse((const char *)data, size, &e);
  if(strnlen(e.code, sizeof(e.code)) == sizeof(e.code) ||
     strnlen(e.message, sizeof(e.message)) == sizeof(e.message) ||
     strnlen(e.request_id, sizeof(e.request_id)) == sizeof(e.request_id) ||
     strnlen(e.date, sizeof(e.date)) == sizeof(e.date))
    abort();
  return 0;
}
