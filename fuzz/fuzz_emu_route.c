/* SPDX-License-Identifier: MIT */
/* fuzz_emu_route.c - the emulator's request routing (emu_route_match) on
 * arbitrary bytes: the input is "METHOD\nPATH" (a NUL ends either).  Checks
 * what router.c relies on: an endpoint from the enum, a segment to quote
 * (inside the path) exactly when no endpoint matched, NUL-terminated ids and
 * tenants, Graph endpoints only under /v1.0 and /beta. */
#include "route.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *buf = malloc(size + 1);
  if(!buf)
    return 0;
  memcpy(buf, data, size);
  buf[size] = '\0';
  char *nl = memchr(buf, '\n', size);
  const char *method = nl ? buf : "GET";
  const char *path = nl ? nl + 1 : buf;
  if(nl)
    *nl = '\0';
  struct emu_route rt;
  emu_route_match(method, path, &rt);
  size_t plen = strlen(path);
  if(rt.ep > EMU_EP_EMU_HEALTH)
    abort();
  if((rt.ep == EMU_EP_NONE) != (rt.segment != NULL))
    abort();
  if(rt.segment && (rt.segment < path || rt.segment > path + plen))
    abort();
  if(!memchr(rt.id, '\0', sizeof(rt.id)) ||
     !memchr(rt.tenant, '\0', sizeof(rt.tenant)))
    abort();
  int graph_ep = rt.ep >= EMU_EP_GRAPH_CALLS && rt.ep <= EMU_EP_GRAPH_NO_CALL;
  if(graph_ep && !rt.api)
    abort();
  if(rt.api && strcmp(rt.api, "v1.0") && strcmp(rt.api, "beta"))
    abort();
  if(rt.api && strncmp(path + 1, rt.api, 4))
    abort();
  if((rt.ep == EMU_EP_GRAPH_CALL || rt.ep == EMU_EP_GRAPH_KEEPALIVE) &&
     !rt.id[0])
    abort();
  if(rt.ep == EMU_EP_EMU_CALL &&
     (rt.raw_id < path || rt.raw_id > path + plen))
    abort();
  if(rt.allow && !strcmp(method, "GET") && rt.ep != EMU_EP_GRAPH_CALLS &&
     rt.ep != EMU_EP_GRAPH_KEEPALIVE)
    abort(); /* GET is allowed wherever it is not a POST-only endpoint */
  free(buf);
  return 0;
}
