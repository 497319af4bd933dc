/* SPDX-License-Identifier: MIT */
/* route.c - map a request's method and path to an endpoint (see route.h). */
#include "route.h"

#include "mgcx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is(const char *method, const char *m)
{
  return !strcmp(method, m);
}

/* rest: what follows "/v1.0" or "/beta". */
static void graph(const char *method, const char *rest, struct emu_route *out)
{
  static const char prefix[] = "/communications/calls";
  if(strncasecmp(rest, prefix, sizeof(prefix) - 1) ||
     (rest[sizeof(prefix) - 1] && rest[sizeof(prefix) - 1] != '/')) {
    out->segment = rest;
    return;
  }
  const char *tail = rest + sizeof(prefix) - 1;
  if(*tail != '/' || !tail[1]) {
    if(*tail == '/') { /* ".../calls/": an empty call id */
      out->ep = EMU_EP_GRAPH_NO_CALL;
      return;
    }
    out->ep = EMU_EP_GRAPH_CALLS;
    if(!is(method, "POST"))
      out->allow = "POST";
    return;
  }
  const char *idp = tail + 1;
  const char *slash = strchr(idp, '/');
  size_t n = slash ? (size_t)(slash - idp) : strlen(idp);
  char *decoded = n && n < sizeof(out->id) ? mgcx_pct_decode(idp, n, 0) : NULL;
  if(!decoded) {
    out->ep = EMU_EP_GRAPH_NO_CALL;
    return;
  }
  snprintf(out->id, sizeof(out->id), "%s", decoded);
  free(decoded);
  if(slash) {
    if(strcasecmp(slash, "/keepAlive")) {
      out->segment = slash + 1;
      return;
    }
    out->ep = EMU_EP_GRAPH_KEEPALIVE;
    if(!is(method, "POST"))
      out->allow = "POST";
    return;
  }
  out->ep = EMU_EP_GRAPH_CALL;
  if(!is(method, "GET") && !is(method, "DELETE"))
    out->allow = "GET, DELETE";
}

/* rest: what follows "/_emulator". */
static void operations(const char *method, const char *rest,
                       struct emu_route *out)
{
  static const struct {
    const char *path;
    enum emu_endpoint ep;
    const char *m1, *m2, *allow;
  } table[] = {{"/calls", EMU_EP_EMU_CALLS, "GET", "POST", "GET, POST"},
               {"/stats", EMU_EP_EMU_STATS, "GET", NULL, "GET"},
               {"/faults", EMU_EP_EMU_FAULTS, "GET", "PUT", "GET, PUT"},
               {"/health", EMU_EP_EMU_HEALTH, "GET", NULL, "GET"}};
  for(size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if(!strcmp(rest, table[i].path)) {
      out->ep = table[i].ep;
      if(!is(method, table[i].m1) && !(table[i].m2 && is(method, table[i].m2)))
        out->allow = table[i].allow;
      return;
    }
  if(!strncmp(rest, "/calls/", 7)) {
    out->ep = EMU_EP_EMU_CALL;
    out->raw_id = rest + 7;
    if(!is(method, "GET") && !is(method, "DELETE"))
      out->allow = "GET, DELETE";
    return;
  }
  out->segment = rest;
}

/* /{tenant}/... identity paths. */
static void identity(const char *method, const char *p, struct emu_route *out)
{
  out->segment = p;
  if(*p != '/') /* "" or "*": nothing to search past the end */
    return;
  const char *slash = strchr(p + 1, '/');
  size_t n = slash ? (size_t)(slash - p - 1) : 0;
  if(!n || n >= sizeof(out->tenant))
    return;
  enum emu_endpoint ep = EMU_EP_NONE;
  if(!strcmp(slash, "/oauth2/v2.0/token"))
    ep = EMU_EP_TOKEN; /* answers other methods itself, like Entra ID */
  else if(!strcmp(slash, "/v2.0/.well-known/openid-configuration"))
    ep = EMU_EP_OPENID;
  else if(!strcmp(slash, "/discovery/v2.0/keys") ||
          !strcmp(slash, "/discovery/keys"))
    ep = EMU_EP_JWKS;
  if(ep == EMU_EP_NONE)
    return;
  char *t = mgcx_pct_decode(p + 1, n, 0);
  snprintf(out->tenant, sizeof(out->tenant), "%s", t ? t : "");
  free(t);
  out->ep = ep;
  out->segment = NULL;
  if(ep != EMU_EP_TOKEN && !is(method, "GET"))
    out->allow = "GET";
}

void emu_route_match(const char *method, const char *path,
                     struct emu_route *out)
{
  memset(out, 0, sizeof(*out));
  out->segment = path;
  if(!strncmp(path, "/v1.0/", 6) || !strcmp(path, "/v1.0")) {
    out->api = "v1.0";
    graph(method, path + 5, out);
  }
  else if(!strncmp(path, "/beta/", 6) || !strcmp(path, "/beta")) {
    out->api = "beta";
    graph(method, path + 5, out);
  }
  else if(!strncmp(path, "/_emulator/", 11))
    operations(method, path + 10, out);
  else if(!strcmp(path, "/metadata/identity/oauth2/token")) {
    out->ep = EMU_EP_IMDS;
    if(!is(method, "GET"))
      out->allow = "GET";
  }
  else if(!strcmp(path, "/common/discovery/instance") && is(method, "GET"))
    out->ep = EMU_EP_INSTANCE;
  else if(!strcmp(path, "/v1/.well-known/OpenIdConfiguration") ||
          !strcmp(path, "/v1/keys")) {
    out->ep = path[4] == 'k' ? EMU_EP_NOTIFY_KEYS : EMU_EP_NOTIFY_OPENID;
    if(!is(method, "GET"))
      out->allow = "GET";
  }
  else
    identity(method, path, out);
  if(out->ep != EMU_EP_NONE)
    out->segment = NULL;
}
