/* SPDX-License-Identifier: MIT */
/* fuzz_input.c - keep-alive input lines and path-segment encoding on
 * arbitrary bytes: no crash; an accepted id encodes to one segment (no '/',
 * '?', '#', and not "." or ".."); an accepted extra header line has no CR,
 * LF or NUL and is not Authorization/Host/Content-Length. */
#include "mgcall/mgcall.h"
#include "src/input.c" /* the tool's parser, compiled in */
#include "url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *id = NULL, err[256];
  enum mgc_input_kind k = mgc_input_parse_line((const char *)data, size, &id,
                                               NULL, err, sizeof(err));
  if(k == MGC_INPUT_ID) {
    if(!id || !*id)
      abort();
    char *seg = mgc__url_segment(id, strlen(id));
    if(!seg || strpbrk(seg, "/?# ") || !strcmp(seg, ".") || !strcmp(seg, ".."))
      abort();
    free(seg);
  }
  else if(id) {
    abort();
  }
  free(id);
  char *tenant = NULL;
  k = mgc_input_parse_object((const char *)data, size, &id, &tenant, err,
                             sizeof(err));
  if(k == MGC_INPUT_ID ? !id || !*id || (tenant && !*tenant) : id || tenant)
    abort(); /* an item has a non-empty id (and tenant); an error neither */
  free(id);
  free(tenant);
  char *line = malloc(size + 1);
  if(!line)
    return 0;
  memcpy(line, data, size);
  line[size] = '\0';
  /* Header lines come from argv, which cannot hold a NUL: only inputs
   * without one say anything about mgcall_header_check(). */
  if(!memchr(data, '\0', size) &&
     !mgcall_header_check(line, err, sizeof(err))) {
    if(strpbrk(line, "\r\n") || !strncasecmp(line, "authorization:", 14) ||
       !strncasecmp(line, "host:", 5) ||
       !strncasecmp(line, "content-length:", 15))
      abort();
  }
  free(line);
  return 0;
}
