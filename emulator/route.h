/* SPDX-License-Identifier: MIT */
/* route.h - which endpoint a request names, from its method and its path as
 * sent (percent-escapes kept; each segment decoded where it is a value).
 * No socket, no I/O: router.c dispatches on the result and
 * fuzz/fuzz_emu_route.c feeds it arbitrary bytes. */
#ifndef EMU_ROUTE_H
#define EMU_ROUTE_H

enum emu_endpoint {
  EMU_EP_NONE = 0,        /* 404: no such resource; segment names it */
  EMU_EP_GRAPH_CALLS,     /* /{v}/communications/calls */
  EMU_EP_GRAPH_CALL,      /* /{v}/communications/calls/{id} */
  EMU_EP_GRAPH_KEEPALIVE, /* /{v}/communications/calls/{id}/keepAlive */
  EMU_EP_GRAPH_NO_CALL,   /* a call id that is empty, too long or undecodable */
  EMU_EP_TOKEN,           /* /{tenant}/oauth2/v2.0/token (any method) */
  EMU_EP_OPENID,          /* /{tenant}/v2.0/.well-known/openid-configuration */
  EMU_EP_JWKS,            /* /{tenant}/discovery[/v2.0]/keys */
  EMU_EP_IMDS,            /* /metadata/identity/oauth2/token */
  EMU_EP_INSTANCE,        /* GET /common/discovery/instance */
  EMU_EP_NOTIFY_OPENID,   /* /v1/.well-known/OpenIdConfiguration (callbacks) */
  EMU_EP_NOTIFY_KEYS,     /* /v1/keys: the notification signing key */
  EMU_EP_EMU_CALLS,       /* /_emulator/calls */
  EMU_EP_EMU_CALL,        /* /_emulator/calls/{id} */
  EMU_EP_EMU_STATS,       /* /_emulator/stats */
  EMU_EP_EMU_FAULTS,      /* /_emulator/faults */
  EMU_EP_EMU_HEALTH       /* /_emulator/health */
};

struct emu_route {
  enum emu_endpoint ep;
  const char *api;     /* under /v1.0 or /beta: "v1.0" or "beta" (Graph:
                          decided from the headers, token first) */
  const char *allow;   /* set: the method is not allowed (405, Allow: this) */
  const char *segment; /* EMU_EP_NONE: the part of path to quote */
  const char *raw_id;  /* EMU_EP_EMU_CALL: the id as sent (points into path) */
  char id[64];         /* Graph call endpoints: the decoded call id */
  char tenant[128];    /* identity endpoints: the decoded tenant */
};

/* Fill out for method and path (both NUL-terminated, any bytes).  Pointers
 * in out point into path or to constants. */
void emu_route_match(const char *method, const char *path,
                     struct emu_route *out);

#endif
