/* SPDX-License-Identifier: MIT */
/* fuzz_token_response.c - mgc__token_response_parse() and
 * mgc__aad_error_parse() on arbitrary bytes.  The first byte picks the HTTP
 * status class. */
#include "auth/aad_error.h"
#include "auth/token_response.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const long statuses[] = {200, 400, 401, 500, 503, 0, 302, 204};
  long status = size ? statuses[data[0] % 8] : 200;
  const char *body = size ? (const char *)data + 1 : "";
  size_t len = size ? size - 1 : 0;
  struct mgc_token_response r;
  struct mgc_err err;
  int rc = mgc__token_response_parse(body, len, status, 1700000000,
                                     "token endpoint", &r, &err);
  if(rc == MGCALL_OK) {
    if(!r.access_token || r.expires_at <= 1700000000)
      abort();
  }
  else if(r.access_token || !err.msg[0] || strchr(err.msg, '\n')) {
    abort();
  }
  mgc__token_response_release(&r);
  struct mgc_aad_error e;
  if(mgc__aad_error_parse(body, len, &e)) {
    char line[1600];
    mgc__aad_error_format(&e, line, sizeof(line));
    if(strchr(line, '\n') || strchr(line, '\r'))
      abort();
  }
  return 0;
}
