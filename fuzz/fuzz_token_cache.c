/* SPDX-License-Identifier: MIT */
/* fuzz_token_cache.c - mgc__token_cache_find() and mgc__token_cache_update()
 * on arbitrary cache text: an update must always be findable afterwards. */
#include "auth/token_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const struct mgc_cache_key key = {"https://login.microsoftonline.com", "t",
                                    "c",
                                    "https://graph.microsoft.com/.default"};
  const char *text = (const char *)data;
  char *tok = NULL;
  time_t exp = 0;
  if(mgc__token_cache_find(text, size, &key, 1700000000, &tok, &exp)) {
    if(!tok || exp <= 1700000000 + MGC_TOKEN_MARGIN)
      abort();
  }
  free(tok);
  char *next = mgc__token_cache_update(text, size, &key, "fresh", 1700003600,
                                       1700000000);
  if(next) {
    tok = NULL;
    if(!mgc__token_cache_find(next, strlen(next), &key, 1700000000, &tok,
                              &exp) ||
       strcmp(tok, "fresh") || exp != 1700003600)
      abort();
    free(tok);
    free(next);
  }
  return 0;
}
