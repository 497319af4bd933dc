/* SPDX-License-Identifier: MIT */
/* router.c - the emulator's request handling, whatever the transport:
 * routing, the common response headers, recording and statistics.  The
 * endpoints' logic lives in identity*.c, calls.c, faults.c and
 * graph_json.c; the transports are http1.c and h2.c. */
#include "router.h"

#include "server.h"

#include "notify_sign.h"

#include "form.h"
#include "mgc_internal.h"
#include "graph_json.h"
#include "guard.h"
#include "record.h"
#include "route.h"
#include "mgcx.h"

#include <ctype.h>
#include <malloc.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_BODY EMU_MAX_BODY
/* Request bodies held in memory at once, across all connections (each at
 * most MAX_BODY); past it requests get 503 + Retry-After. */
#define EMU_BODY_BUDGET ((size_t)16 * 1024 * 1024)

/* One dispatch. */
struct hctx {
  struct emu_server *srv;
  struct emu_exchange *x;
  struct emu_response *out;
  const char *method;
  const char *path;
  char request_id[37];
  const char *client_request_id;
  char base[320];
  struct emu_form query; /* the target's query, decoded */
  json_t *form_record;   /* redacted form fields for --record */
  int64_t latency_ms;
  int early;     /* deciding from the headers, before any body byte */
  int wait_body; /* early: nothing to answer yet, read the body */
  int answered;  /* out is filled */
};

static int64_t unix_now(void)
{
  return (int64_t)time(NULL);
}

const char *emu_exchange_header(const struct emu_exchange *x, const char *name)
{
  for(size_t i = 0; i < x->nheaders; i++)
    if(!strcasecmp(x->headers[i].name, name))
      return x->headers[i].value;
  return NULL;
}

static const char *header(struct hctx *h, const char *name)
{
  return emu_exchange_header(h->x, name);
}

/* ---- responses under construction ---------------------------------------- */

static struct emu_response *resp_new(void)
{
  return calloc(1, sizeof(struct emu_response));
}

/* Add a header (copied; silently dropped past EMU_RESPONSE_MAX_HEADERS,
 * which the router never reaches). */
static void resp_header(struct emu_response *r, const char *name,
                        const char *value)
{
  if(r->nheaders == EMU_RESPONSE_MAX_HEADERS)
    return;
  char *n = strdup(name), *v = strdup(value);
  if(!n || !v) {
    free(n);
    free(v);
    return;
  }
  r->headers[r->nheaders].name = n;
  r->headers[r->nheaders].value = v;
  r->nheaders++;
}

void emu_response_release(struct emu_response *r)
{
  for(size_t i = 0; i < r->nheaders; i++) {
    free(r->headers[i].name);
    free(r->headers[i].value);
  }
  free(r->body);
  if(r->reader.release)
    r->reader.release(r->reader.cls);
  memset(r, 0, sizeof(*r));
}

/* The answer is a connection-level fault (or the server ran out of
 * memory): the transport closes the connection. */
static int fail(struct hctx *h)
{
  emu_response_release(h->out);
  h->out->action = EMU_ACT_RESET;
  h->answered = 1;
  return 0;
}

/* Fault "goaway", or "rst_stream" with REFUSED_STREAM: the request is not
 * processed and not answered (HTTP/1.1: the connection closes). */
static int refuse(struct hctx *h, const struct emu_fault_decision *d)
{
  fail(h);
  h->out->action = d->goaway ? EMU_ACT_GOAWAY : EMU_ACT_RST_STREAM;
  h->out->h2_error = d->h2_error;
  return 0;
}

/* ---- recording ----------------------------------------------------------- */

static void add_kv(json_t *obj, const char *key, const char *value, int lower)
{
  char name[128];
  size_t i;
  for(i = 0; key[i] && i < sizeof(name) - 1; i++)
    name[i] = lower ? (char)tolower((unsigned char)key[i]) : key[i];
  name[i] = '\0';
  const char *v = value ? value : "";
  if(emu_record_is_secret(name))
    v = EMU_REDACTED;
  char clean_name[sizeof(name) * 4];
  mgcx_utf8_clean(clean_name, sizeof(clean_name), name, strlen(name));
  json_t *old = json_object_get(obj, clean_name);
  if(old && json_is_string(old)) {
    size_t n = strlen(json_string_value(old)) + strlen(v) + 3;
    char *joined = malloc(n);
    if(joined) {
      snprintf(joined, n, "%s, %s", json_string_value(old), v);
      json_object_set_new(obj, clean_name,
                          emu_json_text(joined, strlen(joined)));
      free(joined);
    }
  }
  else
    json_object_set_new(obj, clean_name, emu_json_text(v, strlen(v)));
}

static void record(struct hctx *h, int status)
{
  struct emu_record *rec = h->srv->record;
  if(!rec)
    return;
  json_t *hk = json_object(), *qk = json_object();
  for(size_t i = 0; i < h->x->nheaders; i++)
    add_kv(hk, h->x->headers[i].name, h->x->headers[i].value, 1);
  for(size_t i = 0; i < h->query.n; i++)
    add_kv(qk, h->query.f[i].name, h->query.f[i].value, 0);
  char t[40];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  emu_format_time((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, t,
                  sizeof(t), 1);
  /* path as sent (percent-encoding kept), without the query string */
  const char *target = h->x->target;
  size_t plen = strcspn(target, "?#");

  json_t *line =
      json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:i,s:s,s:s,s:I}", "time", t,
                "method", emu_json_text(h->method, strlen(h->method)), "path",
                emu_json_text(target, plen), "target",
                emu_json_text(target, strlen(target)), "query", qk, "headers",
                hk, "status", status, "requestId", h->request_id, "protocol",
                h->x->proto == EMU_PROTO_H2 ? "HTTP/2" : "HTTP/1.1",
                "connection", (json_int_t)h->x->conn_id);
  if(line && h->x->proto == EMU_PROTO_H2)
    json_object_set_new(line, "stream", json_integer(h->x->stream_id));
  if(line && h->form_record)
    json_object_set(line, "form", h->form_record);
  if(line)
    emu_record_write(rec, line);
  json_decref(line);
}

/* ---- responses ------------------------------------------------------------
 */

static int finish(struct hctx *h, struct emu_response *resp, int status)
{
  if(!resp)
    return fail(h);
  resp_header(resp, "request-id", h->request_id);
  resp_header(resp, "client-request-id",
              h->client_request_id ? h->client_request_id : h->request_id);
  resp_header(resp, "x-ms-ags-diagnostic",
              "{\"ServerInfo\":{\"DataCenter\":\"Emulator\",\"Slice\":\"E\","
              "\"Ring\":\"0\",\"ScaleUnit\":\"000\",\"RoleInstance\":"
              "\"mgcall-emulator\"}}");
  resp_header(resp, "Cache-Control", "no-store, no-cache");
  if(h->srv->tls)
    resp_header(resp, "Strict-Transport-Security", "max-age=31536000");
  if(h->x->keep_alive_closes && h->x->proto == EMU_PROTO_H1)
    resp_header(resp, "Connection", "close");
  if(status >= 100 && status < 600)
    atomic_fetch_add(&h->srv->by_status[status], 1);
  atomic_fetch_add(&h->srv->requests, 1);
  atomic_fetch_add(&h->srv->requests_by_proto[h->x->proto], 1);
  record(h, status);
  emu_response_release(h->out);
  *h->out = *resp;
  free(resp);
  h->out->status = status;
  h->out->latency_ms = h->latency_ms;
  h->answered = 1;
  return 0;
}

static struct emu_response *json_response(json_t *body)
{
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if(!text)
    return NULL;
  struct emu_response *r = resp_new();
  if(!r) {
    free(text);
    return NULL;
  }
  r->body = text;
  r->len = strlen(text);
  resp_header(r, "Content-Type", "application/json; charset=utf-8");
  return r;
}

static int reply_json(struct hctx *h, int status, json_t *body)
{
  return finish(h, json_response(body), status);
}

static int reply_empty(struct hctx *h, int status)
{
  struct emu_response *r = resp_new();
  return finish(h, r, status);
}

static int odata_error(struct hctx *h, int status, const char *code,
                       const char *inner, const char *fmt, ...)
    MGCX_PRINTF(5, 6);

static int odata_error(struct hctx *h, int status, const char *code,
                       const char *inner, const char *fmt, ...)
{
  char wide[1024], msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(wide, sizeof(wide), fmt, ap);
  va_end(ap);
  /* Request bytes may be quoted: valid UTF-8, cut between characters. */
  mgcx_utf8_clean(msg, sizeof(msg), wide, strlen(wide));
  json_t *body = emu_odata_error(code, msg, inner, h->request_id,
                                 h->client_request_id ? h->client_request_id
                                                      : h->request_id);
  return reply_json(h, status, body);
}

/* 404 quoting the first 64 bytes of a path segment as sent. */
static int segment_not_found(struct hctx *h, const char *segment)
{
  char quoted[65];
  mgcx_utf8_clean(quoted, sizeof(quoted), segment, strlen(segment));
  return odata_error(h, 404, "BadRequest", NULL,
                     "Resource not found for the segment '%s'.", quoted);
}

static int method_not_allowed(struct hctx *h, const char *allow)
{
  json_t *body = emu_odata_error(
      "BadRequest", "The HTTP method is not allowed for this resource.", NULL,
      h->request_id,
      h->client_request_id ? h->client_request_id : h->request_id);
  struct emu_response *r = json_response(body);
  if(r)
    resp_header(r, "Allow", allow);
  return finish(h, r, 405);
}

static int fault_reply(struct hctx *h, const struct emu_fault_decision *d,
                       int aad)
{
  json_t *body;
  if(aad)
    body = emu_aad_error("temporarily_unavailable", 90033,
                         "A transient error has occurred (injected by the "
                         "emulator). Please try again.",
                         h->client_request_id, unix_now());
  else if(d->status == 429)
    body = emu_odata_error(
        "TooManyRequests",
        d->throttled ? "Application is over its request limit (emulator "
                       "--throttle). Please retry later."
                     : "Please retry again later. (injected by the emulator)",
        "429", h->request_id,
        h->client_request_id ? h->client_request_id : h->request_id);
  else
    body = emu_odata_error(
        d->status == 503   ? "serviceNotAvailable"
        : d->status == 504 ? "gatewayTimeout"
                           : "generalException",
        "The service is temporarily unavailable (injected by the emulator).",
        NULL, h->request_id,
        h->client_request_id ? h->client_request_id : h->request_id);
  struct emu_response *r = json_response(body);
  if(r && d->retry_after > 0) {
    char ra[16];
    snprintf(ra, sizeof(ra), "%d", d->retry_after);
    resp_header(r, "Retry-After", ra);
  }
  return finish(h, r, d->status);
}

/* ---- identity endpoints
 * ------------------------------------------------------ */

static int is_form(const char *ct)
{
  return ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33);
}

static json_t *redacted_form(const struct emu_form *f)
{
  json_t *o = json_object();
  for(size_t i = 0; o && i < f->n; i++) {
    char name[256];
    const char *v =
        emu_record_is_secret(f->f[i].name) ? EMU_REDACTED : f->f[i].value;
    mgcx_utf8_clean(name, sizeof(name), f->f[i].name, strlen(f->f[i].name));
    json_object_set_new(o, name, emu_json_text(v, strlen(v)));
  }
  return o;
}

static int token_endpoint(struct hctx *h, const char *tenant)
{
  struct emu_server *s = h->srv;
  if(strcmp(h->method, "POST")) {
    json_t *b = emu_aad_error("invalid_request", 900561,
                              "The endpoint only accepts POST requests.",
                              h->client_request_id, unix_now());
    return reply_json(h, 400, b);
  }
  struct emu_fault_decision d;
  emu_faults_decide(s->faults, EMU_SCOPE_TOKEN, NULL, emu_now_ms(), &d);
  emu_faults_tenant(s->faults, tenant, &d); /* tenantFault */
  h->latency_ms = d.latency_ms;
  if(d.status)
    return fault_reply(h, &d, 1);
  struct emu_form form = {0};
  enum emu_form_error fe = EMU_FORM_OK;
  if(is_form(header(h, "Content-Type")))
    fe = emu_form_parse(h->x->body.data ? h->x->body.data : "", h->x->body.len,
                        &form);
  h->form_record = redacted_form(&form);
  if(fe) {
    emu_form_release(&form);
    json_t *b = emu_aad_error("invalid_request", 9002313,
                              "Invalid request. Request is malformed or "
                              "invalid.",
                              h->client_request_id, unix_now());
    return reply_json(h, 400, b);
  }
  char *user = NULL, *pass = NULL;
  const char *auth = header(h, "Authorization");
  if(auth && emu_basic_parse(auth, &user, &pass)) {
    emu_form_release(&form);
    json_t *b = emu_aad_error("invalid_client", 7000216,
                              "The Authorization header is not valid HTTP "
                              "Basic client authentication.",
                              h->client_request_id, unix_now());
    return reply_json(h, 401, b);
  }
  char url[512];
  snprintf(url, sizeof(url), "%s/%s/oauth2/v2.0/token", h->base, tenant);
  struct emu_token_request tr = {
      tenant,    &form, user, pass, url, h->base, h->client_request_id,
      unix_now()};
  struct emu_token_response out;
  emu_identity_token(s->identity, &tr, &out);
  emu_form_release(&form);
  free(user);
  if(pass) {
    memset(pass, 0, strlen(pass));
    free(pass);
  }
  if(out.status == 200)
    atomic_fetch_add(&s->tokens_issued, 1);
  return reply_json(h, out.status, out.body);
}

static int imds_endpoint(struct hctx *h)
{
  struct emu_server *s = h->srv;
  struct emu_fault_decision d;
  emu_faults_decide(s->faults, EMU_SCOPE_TOKEN, NULL, emu_now_ms(), &d);
  h->latency_ms = d.latency_ms;
  if(d.status)
    return fault_reply(h, &d, 1);
  const char *idh = header(h, "X-IDENTITY-HEADER");
  struct emu_token_response out;
  emu_identity_imds(s->identity, &h->query, header(h, "Metadata"), idh && *idh,
                    h->base, unix_now(), &out);
  if(out.status == 200)
    atomic_fetch_add(&s->tokens_issued, 1);
  return reply_json(h, out.status, out.body);
}

static int openid_config(struct hctx *h, const char *tenant)
{
  char t[512], a[512], j[512], i[512], e[512], d[512];
  snprintf(t, sizeof(t), "%s/%s/oauth2/v2.0/token", h->base, tenant);
  snprintf(a, sizeof(a), "%s/%s/oauth2/v2.0/authorize", h->base, tenant);
  snprintf(j, sizeof(j), "%s/%s/discovery/v2.0/keys", h->base, tenant);
  snprintf(i, sizeof(i), "%s/%s/v2.0", h->base, tenant);
  snprintf(e, sizeof(e), "%s/%s/oauth2/v2.0/logout", h->base, tenant);
  snprintf(d, sizeof(d), "%s/%s/oauth2/v2.0/devicecode", h->base, tenant);
  char u[512];
  snprintf(u, sizeof(u), "%s/oidc/userinfo", h->base);
  const char *host = strstr(h->base, "://");
  host = host ? host + 3 : h->base;
  json_t *doc = json_pack(
      "{s:s,s:[sss],s:s,s:[sss],s:[s],s:[s],s:[ssss],s:[ssss],s:s,s:b,"
      "s:s,s:s,s:s,s:b,s:b,s:s,s:s,s:n,s:s,s:s,s:s}",
      "token_endpoint", t, "token_endpoint_auth_methods_supported",
      "client_secret_post", "private_key_jwt", "client_secret_basic",
      "jwks_uri", j, "response_modes_supported", "query", "fragment",
      "form_post", "subject_types_supported", "pairwise",
      "id_token_signing_alg_values_supported", "RS256",
      "response_types_supported", "code", "id_token", "code id_token",
      "id_token token", "scopes_supported", "openid", "profile", "email",
      "offline_access", "issuer", i, "request_uri_parameter_supported", 0,
      "authorization_endpoint", a, "device_authorization_endpoint", d,
      "end_session_endpoint", e, "http_logout_supported", 1,
      "frontchannel_logout_supported", 1, "cloud_instance_name", host,
      "cloud_graph_host_name", host, "tenant_region_scope", "msgraph_host",
      host, "kerberos_endpoint", t, "userinfo_endpoint", u);
  return reply_json(h, 200, doc);
}

static int instance_discovery(struct hctx *h)
{
  const char *host = strstr(h->base, "://");
  host = host ? host + 3 : h->base;
  char tde[512];
  snprintf(tde, sizeof(tde),
           "%s/{tenant}/v2.0/.well-known/openid-configuration", h->base);
  json_t *doc =
      json_pack("{s:s,s:s,s:[{s:s,s:s,s:[s]}]}", "tenant_discovery_endpoint",
                tde, "api-version", "1.1", "metadata", "preferred_network",
                host, "preferred_cache", host, "aliases", host);
  return reply_json(h, 200, doc);
}

/* ---- Graph endpoints --------------------------------------------------------
 */

static int unauthorized(struct hctx *h, enum emu_verify_result v)
{
  const char *msg = emu_verify_message(v);
  json_t *body = emu_odata_error(
      "InvalidAuthenticationToken", msg, NULL, h->request_id,
      h->client_request_id ? h->client_request_id : h->request_id);
  struct emu_response *r = json_response(body);
  if(r) {
    char www[1024];
    snprintf(www, sizeof(www),
             "Bearer realm=\"\", authorization_uri=\"%s/common/oauth2/"
             "authorize\", client_id=\"00000003-0000-0000-c000-"
             "000000000000\", error=\"invalid_token\", "
             "error_description=\"%s\"",
             h->base, msg);
    resp_header(r, "WWW-Authenticate", www);
  }
  return finish(h, r, 401);
}

static int call_not_found(struct hctx *h)
{
  return odata_error(h, 404, "itemNotFound", "8522", "Call not found.");
}

/* 401 for a token of another tenant than the call's. */
static int wrong_tenant(struct hctx *h, const struct emu_principal *who)
{
  char tenant[129], msg[256];
  mgcx_utf8_clean(tenant, sizeof(tenant), who->tenant, strlen(who->tenant));
  snprintf(msg, sizeof(msg),
           "Access token validation failure. The token's tenant '%s' "
           "does not own this call.",
           tenant);
  json_t *body = emu_odata_error(
      "InvalidAuthenticationToken", msg, NULL, h->request_id,
      h->client_request_id ? h->client_request_id : h->request_id);
  struct emu_response *r = json_response(body);
  if(r)
    resp_header(r, "WWW-Authenticate",
                "Bearer realm=\"\", error=\"invalid_token\", "
                "error_description=\"wrong tenant\"");
  return finish(h, r, 401);
}

static void event_notify(void *ctx, enum emu_call_event ev,
                         const struct emu_call_info *call)
{
  struct emu_server *s = ctx;
  emu_notify_event(s->notify, ev, call);
}

static int graph_serve(struct hctx *h, const struct emu_route *rt,
                       struct emu_principal *who);

static int graph(struct hctx *h, const struct emu_route *rt)
{
  struct emu_server *s = h->srv;
  if(rt->ep == EMU_EP_NONE)
    return segment_not_found(h, rt->segment);
  if(rt->ep == EMU_EP_GRAPH_NO_CALL)
    return call_not_found(h);
  /* Method check before authentication, like Graph's router. */
  if(rt->allow)
    return method_not_allowed(h, rt->allow);

  /* The token is checked from the headers, before the body is read. */
  struct emu_principal *who = &h->x->who;
  if(!h->x->authorized) {
    enum emu_verify_result v = emu_identity_verify(
        s->identity, header(h, "Authorization"), h->base, unix_now(), who);
    if(v != EMU_TOKEN_OK)
      return unauthorized(h, v);
    if(!who->has_calls_role)
      return odata_error(h, 403, "Forbidden", NULL,
                         "Application is not authorized to perform this "
                         "operation. The application needs the permission "
                         "Calls.Initiate.All or Calls.AccessMedia.All; the "
                         "token has roles: %s.",
                         *who->roles ? who->roles : "(none)");
    h->x->authorized = 1;
  }
  if(h->early) {
    h->wait_body = 1;
    return 0;
  }
  struct emu_fault_decision d;
  emu_faults_decide(s->faults, EMU_SCOPE_GRAPH, who->app, emu_now_ms(), &d);
  h->latency_ms = d.latency_ms;
  if(d.reset) /* fault "reset": the connection closes without an answer */
    return fail(h);
  if(d.goaway || (d.rst_stream && d.h2_error == EMU_H2_REFUSED_STREAM))
    return refuse(h, &d); /* not processed */
  if(d.status)
    return fault_reply(h, &d, 0);
  if(d.rst_stream) { /* processed, then reset: the outcome is unknown */
    graph_serve(h, rt, who);
    h->out->action = EMU_ACT_RST_STREAM;
    h->out->h2_error = d.h2_error;
    return 0;
  }
  return graph_serve(h, rt, who);
}

/* A Graph request past its checks and faults. */
static int graph_serve(struct hctx *h, const struct emu_route *rt,
                       struct emu_principal *who)
{
  struct emu_server *s = h->srv;
  const char *api = rt->api, *id = rt->id;

  struct emu_call_info info;
  enum emu_call_result rc;
  if(rt->ep == EMU_EP_GRAPH_CALLS) { /* create */
    char err[512];
    struct emu_call_request cr;
    if(emu_call_request_parse(h->x->body.data ? h->x->body.data : "",
                              h->x->body.len, &cr, err, sizeof(err)))
      return odata_error(h, 400, "BadRequest", NULL, "%s", err);
    rc = emu_calls_create(s->calls, who->tenant, who->app, cr.callback,
                          cr.modalities, cr.media, &info);
    if(rc != EMU_CALLS_OK) {
      emu_call_request_release(&cr);
      return odata_error(h, 507, "quotaLimitReached", NULL,
                         "The emulator holds its maximum number of calls.");
    }
    event_notify(s, EMU_EVENT_CREATED, &info);
    json_t *body = emu_call_json(&info, h->base, api, &cr);
    emu_calls_info_release(&info);
    emu_call_request_release(&cr);
    struct emu_response *r = json_response(body);
    if(r) {
      char loc[512];
      snprintf(loc, sizeof(loc), "%s/%s/communications/calls/%s", h->base, api,
               info.id);
      resp_header(r, "Location", loc);
    }
    return finish(h, r, 201);
  }
  if(rt->ep == EMU_EP_GRAPH_KEEPALIVE) {
    if(h->x->has_body)
      return odata_error(h, 400, "BadRequest", NULL,
                         "Do not supply a request body for this method.");
    rc = emu_calls_keepalive(s->calls, id, who->tenant, NULL);
    if(rc == EMU_CALLS_WRONG_TENANT)
      return wrong_tenant(h, who);
    if(rc != EMU_CALLS_OK) {
      atomic_fetch_add(&s->keepalives_404, 1);
      return call_not_found(h);
    }
    struct emu_response *r = resp_new();
    if(r)
      resp_header(r, "Content-Type", "text/plain");
    return finish(h, r, 200);
  }
  if(!strcmp(h->method, "GET")) {
    rc = emu_calls_get(s->calls, id, &info);
    int ended = rc != EMU_CALLS_OK || info.state == EMU_CALL_TERMINATED;
    int foreign = !ended && strcmp(info.tenant, who->tenant);
    json_t *body =
        ended || foreign ? NULL : emu_call_json(&info, h->base, api, NULL);
    emu_calls_info_release(&info);
    if(ended)
      return call_not_found(h);
    if(foreign)
      return wrong_tenant(h, who);
    return reply_json(h, 200, body);
  }
  /* DELETE */
  rc = emu_calls_end(s->calls, id, who->tenant, EMU_END_DELETED, NULL);
  if(rc == EMU_CALLS_WRONG_TENANT)
    return wrong_tenant(h, who);
  if(rc != EMU_CALLS_OK)
    return call_not_found(h);
  return reply_empty(h, 204);
}

/* ---- /_emulator ------------------------------------------------------------
 */

struct list_stream {
  struct emu_calls *calls;
  size_t pos;
  int phase; /* 0 start, 1 items, 2 end, 3 done */
  int first;
  int filter; /* -1 all, 0 live, 1 ended */
  char *pending;
  size_t plen, poff;
};

static ssize_t list_reader(void *cls, char *buf, size_t max)
{
  struct list_stream *ls = cls;
  for(;;) {
    if(ls->pending && ls->poff < ls->plen) {
      size_t n = ls->plen - ls->poff;
      if(n > max)
        n = max;
      memcpy(buf, ls->pending + ls->poff, n);
      ls->poff += n;
      return (ssize_t)n;
    }
    free(ls->pending);
    ls->pending = NULL;
    ls->plen = ls->poff = 0;
    if(ls->phase == 0) {
      ls->pending = strdup("{\"value\":[");
      ls->phase = 1;
    }
    else if(ls->phase == 1) {
      struct emu_call_info info[64];
      size_t n = emu_calls_list(ls->calls, &ls->pos, info, 64);
      if(!n) {
        ls->phase = 2;
        continue;
      }
      size_t cap = 64 * 1024, len = 0;
      char *out = malloc(cap);
      if(!out) {
        for(size_t i = 0; i < n; i++)
          emu_calls_info_release(&info[i]);
        return -1;
      }
      for(size_t i = 0; i < n; i++) {
        int ended = info[i].state == EMU_CALL_TERMINATED;
        if(ls->filter >= 0 && ended != ls->filter)
          continue;
        json_t *o = emu_call_inspect_json(&info[i]);
        char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if(!t)
          continue;
        size_t tl = strlen(t);
        if(len + tl + 2 > cap) {
          char *bigger = realloc(out, cap * 2 + tl);
          if(!bigger) {
            free(t);
            break;
          }
          out = bigger;
          cap = cap * 2 + tl;
        }
        if(!ls->first)
          out[len++] = ',';
        ls->first = 0;
        memcpy(out + len, t, tl);
        len += tl;
        free(t);
      }
      for(size_t i = 0; i < n; i++)
        emu_calls_info_release(&info[i]);
      ls->pending = out;
      ls->plen = len;
      continue;
    }
    else if(ls->phase == 2) {
      ls->pending = strdup("]}");
      ls->phase = 3;
    }
    else
      return 0;
    if(!ls->pending)
      return -1;
    ls->plen = strlen(ls->pending);
  }
}

static void list_free(void *cls)
{
  struct list_stream *ls = cls;
  free(ls->pending);
  free(ls);
}

static json_t *stats_json(struct emu_server *s)
{
  struct emu_calls_stats cs;
  emu_calls_get_stats(s->calls, &cs);
  struct emu_notify_stats ns = {0};
  if(s->notify)
    emu_notify_get_stats(s->notify, &ns);
  json_t *by = json_object();
  for(int i = 100; i < 600; i++) {
    uint64_t n = atomic_load(&s->by_status[i]);
    if(n) {
      char k[8];
      snprintf(k, sizeof(k), "%d", i);
      json_object_set_new(by, k, json_integer((json_int_t)n));
    }
  }
  json_t *o = json_pack(
      "{s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,"
      "s:I,s:I,s:I,s:I},s:I,s:I}",
      "requests", (json_int_t)atomic_load(&s->requests), "requestsByStatus", by,
      "keepAlives", (json_int_t)cs.keepalives, "keepAlivesNotFound",
      (json_int_t)atomic_load(&s->keepalives_404), "callsCreated",
      (json_int_t)cs.created, "callsActive", (json_int_t)cs.active,
      "callsEnded", (json_int_t)cs.ended, "endedByTimeout",
      (json_int_t)cs.ended_timeout, "endedByDelete",
      (json_int_t)cs.ended_deleted, "endedByEmulator",
      (json_int_t)cs.ended_emulator, "callsDropped", (json_int_t)cs.dropped,
      "tokensIssued", (json_int_t)atomic_load(&s->tokens_issued),
      "faultsInjected", (json_int_t)emu_faults_injected(s->faults),
      "notifications", "sent", (json_int_t)ns.sent, "failed",
      (json_int_t)ns.failed, "retried", (json_int_t)ns.retried, "skipped",
      (json_int_t)ns.skipped, "dropped", (json_int_t)ns.dropped, "queued",
      (json_int_t)ns.queued, "throttled",
      (json_int_t)emu_faults_throttled(s->faults), "uptimeSeconds",
      (json_int_t)((emu_now_ms() - s->started_ms) / 1000));
  if(o)
    json_object_set_new(o, "maxKeepAliveGapMs", json_integer(cs.max_gap_ms));
  if(o)
    json_object_set_new(o, "openKeepAliveGapMs",
                        json_integer(cs.open_gap_ms));
  if(o)
    json_object_set_new(o, "protocols", emu_server_protocol_stats(s));
  return o;
}

/* GET /_emulator/faults: the faults and the connection limits. */
static json_t *faults_json(struct emu_server *s)
{
  json_t *o = emu_faults_to_json(s->faults);
  json_t *lim = emu_server_limits_json(s);
  if(o && lim)
    json_object_update(o, lim);
  json_decref(lim);
  return o;
}

/* POST /_emulator/calls {"count":N,"tenantId","appId","callbackUri"}:
 * create N calls at once without a token (benchmarks, demos).  Answers 201
 * {"created":N,"ids":[...]}. */
static int bulk_create(struct hctx *h)
{
  json_error_t jerr;
  json_t *o = json_loadb(h->x->body.data ? h->x->body.data : "", h->x->body.len,
                         JSON_REJECT_DUPLICATES, &jerr);
  json_t *jn = json_object_get(o, "count");
  const char *tenant = json_string_value(json_object_get(o, "tenantId"));
  const char *app = json_string_value(json_object_get(o, "appId"));
  const char *cb = json_string_value(json_object_get(o, "callbackUri"));
  json_int_t n = jn ? json_integer_value(jn) : 1;
  if(!json_is_object(o) || (jn && !json_is_integer(jn)) || n < 1 ||
     n > 1000000 || (json_object_get(o, "tenantId") && !tenant) ||
     (json_object_get(o, "appId") && !app) ||
     (json_object_get(o, "callbackUri") && !cb)) {
    json_decref(o);
    return odata_error(h, 400, "BadRequest", NULL,
                       "expected {\"count\": 1..1000000, \"tenantId\"?, "
                       "\"appId\"?, \"callbackUri\"?}");
  }
  json_t *ids = json_array();
  json_int_t made = 0;
  struct emu_call_info info;
  for(; ids && made < n; made++) {
    if(emu_calls_create(h->srv->calls, tenant ? tenant : "emulator-tenant",
                        app ? app : "emulator-app", cb ? cb : "", EMU_MOD_AUDIO,
                        EMU_MEDIA_SERVICE, &info) != EMU_CALLS_OK)
      break;
    json_array_append_new(ids, json_string(info.id));
    emu_calls_info_release(&info);
  }
  json_decref(o);
  int r = reply_json(h, made ? 201 : 507,
                     json_pack("{s:I,s:o}", "created", made, "ids", ids));
  malloc_trim(0); /* give the transient id list back to the system */
  return r;
}

static int emulator_api(struct hctx *h, const struct emu_route *rt)
{
  struct emu_server *s = h->srv;
  const char *why =
      emu_guard_refuse(s->loopback, header(h, "Host"), header(h, "Origin"));
  if(why)
    return odata_error(h, 403, "Forbidden", NULL, "%s", why);
  if(rt->allow)
    return method_not_allowed(h, rt->allow);
  if(rt->ep == EMU_EP_EMU_CALLS) {
    if(!strcmp(h->method, "POST"))
      return bulk_create(h);
    struct list_stream *ls = calloc(1, sizeof(*ls));
    if(!ls)
      return fail(h);
    ls->calls = s->calls;
    ls->first = 1;
    ls->filter = -1;
    const char *st = emu_form_get(&h->query, "state");
    if(st && !strcmp(st, "active"))
      ls->filter = 0;
    else if(st && !strcmp(st, "ended"))
      ls->filter = 1;
    else if(st) {
      free(ls);
      return odata_error(h, 400, "BadRequest", NULL,
                         "state must be active or ended");
    }
    struct emu_response *r = resp_new();
    if(!r) {
      free(ls);
      return fail(h);
    }
    r->reader.read = list_reader;
    r->reader.release = list_free;
    r->reader.cls = ls;
    resp_header(r, "Content-Type", "application/json; charset=utf-8");
    return finish(h, r, 200);
  }
  if(rt->ep == EMU_EP_EMU_CALL) {
    const char *id = rt->raw_id;
    struct emu_call_info info;
    if(!strcmp(h->method, "GET")) {
      if(emu_calls_get(s->calls, id, &info) != EMU_CALLS_OK)
        return call_not_found(h);
      json_t *body = emu_call_inspect_json(&info);
      emu_calls_info_release(&info);
      return reply_json(h, 200, body);
    }
    /* DELETE */
    if(emu_calls_end(s->calls, id, NULL, EMU_END_EMULATOR, NULL) !=
       EMU_CALLS_OK)
      return call_not_found(h);
    return reply_empty(h, 204);
  }
  if(rt->ep == EMU_EP_EMU_STATS)
    return reply_json(h, 200, stats_json(s));
  if(rt->ep == EMU_EP_EMU_FAULTS) {
    if(!strcmp(h->method, "GET"))
      return reply_json(h, 200, faults_json(s));
    json_error_t jerr;
    json_t *obj = json_loadb(h->x->body.data ? h->x->body.data : "",
                             h->x->body.len, JSON_REJECT_DUPLICATES, &jerr);
    char err[256];
    if(!obj)
      return odata_error(h, 400, "BadRequest", NULL, "bad JSON: %s", jerr.text);
    struct emu_conn_limits lim;
    int rc = emu_server_limits_take(s, obj, &lim, err, sizeof(err));
    if(!rc)
      rc = emu_faults_from_json(s->faults, obj, err, sizeof(err));
    json_decref(obj);
    if(rc)
      return odata_error(h, 400, "BadRequest", NULL, "%s", err);
    emu_server_limits_apply(s, &lim);
    return reply_json(h, 200, faults_json(s));
  }
  /* EMU_EP_EMU_HEALTH */
  return reply_json(h, 200, json_pack("{s:s}", "status", "ok"));
}

/* ---- routing
 * ------------------------------------------------------------------ */

static int route(struct hctx *h)
{
  struct emu_route rt;
  emu_route_match(h->method, h->path, &rt);
  if(rt.api)
    return graph(h, &rt);
  if(h->early) { /* the other endpoints decide with the body */
    h->wait_body = 1;
    return 0;
  }
  switch(rt.ep) {
  case EMU_EP_EMU_CALLS:
  case EMU_EP_EMU_CALL:
  case EMU_EP_EMU_STATS:
  case EMU_EP_EMU_FAULTS:
  case EMU_EP_EMU_HEALTH:
    return emulator_api(h, &rt);
  case EMU_EP_IMDS:
    return rt.allow ? method_not_allowed(h, rt.allow) : imds_endpoint(h);
  case EMU_EP_INSTANCE:
    return instance_discovery(h);
  case EMU_EP_NOTIFY_OPENID: /* the notification key (notify_sign.h) */
    return rt.allow ? method_not_allowed(h, rt.allow)
                    : reply_json(h, 200, emu_nsign_openid_config(h->base));
  case EMU_EP_NOTIFY_KEYS:
    return rt.allow ? method_not_allowed(h, rt.allow)
                    : reply_json(h, 200, emu_nsign_jwks(h->srv->nsign));
  case EMU_EP_TOKEN:
    return token_endpoint(h, rt.tenant);
  case EMU_EP_OPENID:
    return rt.allow ? method_not_allowed(h, rt.allow)
                    : openid_config(h, rt.tenant);
  case EMU_EP_JWKS:
    return rt.allow ? method_not_allowed(h, rt.allow)
                    : reply_json(h, 200, emu_identity_jwks(h->srv->identity));
  default:
    return segment_not_found(h, rt.segment ? rt.segment : h->path);
  }
}

static void make_base(struct hctx *h)
{
  const char *host = header(h, "Host");
  int ok = host && *host && strlen(host) < 256;
  for(const char *c = host; ok && *c; c++)
    if(!isalnum((unsigned char)*c) && !strchr(".-:[]_", *c))
      ok = 0;
  if(ok)
    snprintf(h->base, sizeof(h->base), "%s://%s",
             h->srv->tls ? "https" : "http", host);
  else
    snprintf(h->base, sizeof(h->base), "%s", h->srv->base_url);
}

/* Hold want bytes of the server-wide body budget for x (in total, not more);
 * 0, or -1 when the bodies in flight would pass EMU_BODY_BUDGET. */
static int body_reserve(struct emu_server *s, struct emu_exchange *x,
                        size_t want)
{
  if(want <= x->reserved)
    return 0;
  size_t more = want - x->reserved;
  if(atomic_fetch_add(&s->body_bytes, more) + more > EMU_BODY_BUDGET) {
    atomic_fetch_sub(&s->body_bytes, more);
    return -1;
  }
  x->reserved = want;
  return 0;
}

/* Append a piece of the body (beyond MAX_BODY or the budget it is dropped
 * and the request marked; the answer comes when the body has been read).
 * -1 when out of memory. */
int emu_router_body(struct emu_exchange *x, const char *data, size_t n)
{
  x->has_body = 1;
  if(x->too_big || x->over_budget)
    return 0;
  struct mgcx_buf *b = &x->body;
  if(b->len + n > MAX_BODY) {
    x->too_big = 1;
    return 0;
  }
  if(b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while(cap < b->len + n + 1)
      cap *= 2;
    if(body_reserve(x->srv, x, cap)) {
      x->over_budget = 1;
      return 0;
    }
    if(mgcx_buf_reserve(b, cap - 1))
      return -1;
  }
  return mgcx_buf_add(b, data, n) ? -1 : 0; /* room reserved: cannot fail */
}

struct framing {
  int lengths;  /* Content-Length headers */
  int conflict; /* two that differ, or one that is not a number */
  uint64_t length;
  const char *te; /* a Transfer-Encoding other than chunked, or NULL */
  int chunked;
};

static void scan_framing(struct framing *f, const char *key, const char *value)
{
  if(!value)
    value = "";
  if(!strcasecmp(key, "Content-Length")) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(value, &end, 10);
    if(!isdigit((unsigned char)*value) || *end || errno ||
       (f->lengths && n != f->length))
      f->conflict = 1;
    f->length = n;
    f->lengths++;
  }
  else if(!strcasecmp(key, "Transfer-Encoding")) {
    if(!strcasecmp(value, "chunked") && !f->chunked)
      f->chunked = 1;
    else if(!f->te)
      f->te = value;
  }
}

static int busy(struct hctx *h)
{
  json_t *body = emu_odata_error(
      "serviceNotAvailable",
      "The emulator holds as many request bodies as it will; retry later.",
      NULL, h->request_id,
      h->client_request_id ? h->client_request_id : h->request_id);
  struct emu_response *r = json_response(body);
  if(r)
    resp_header(r, "Retry-After", "1");
  return finish(h, r, 503);
}

/* What can be answered from the request line and headers alone, before a
 * body byte is read or held: framing errors (two different Content-Length
 * headers, a Transfer-Encoding other than chunked), a body too large, the
 * body budget, and for Graph a bad path, method or token.  Otherwise sets
 * h->wait_body. */
static int early_answer(struct hctx *h)
{
  struct framing f = {0};
  for(size_t i = 0; i < h->x->nheaders; i++)
    scan_framing(&f, h->x->headers[i].name, h->x->headers[i].value);
  if(f.te)
    return odata_error(h, 501, "NotImplemented", NULL,
                       "Transfer-Encoding '%.64s' is not supported (only "
                       "chunked).",
                       f.te);
  if(f.conflict || (f.lengths && f.chunked))
    return odata_error(h, 400, "BadRequest", NULL,
                       "Conflicting or malformed Content-Length headers.");
  if(f.lengths && f.length > MAX_BODY)
    return odata_error(h, 413, "RequestEntityTooLarge", NULL,
                       "The request body is larger than %d bytes.", MAX_BODY);
  struct emu_exchange *x = h->x;
  if(f.lengths && f.length && !x->body.data) {
    /* The whole body at once: held against the budget before it comes. */
    if(body_reserve(h->srv, x, (size_t)f.length + 1))
      return busy(h);
    if(mgcx_buf_reserve(&x->body, (size_t)f.length))
      return fail(h);
  }
  return route(h);
}

/* The per-dispatch context of x; release with ctx_release(). */
static int ctx_init(struct hctx *h, struct emu_exchange *x,
                    struct emu_response *out)
{
  memset(h, 0, sizeof(*h));
  memset(out, 0, sizeof(*out));
  h->srv = x->srv;
  h->x = x;
  h->out = out;
  h->method = x->method;
  /* Route on the path as sent (percent-escapes kept; each segment is
   * decoded where it is used), so "a%2Fb" stays one call id segment. */
  size_t plen = strcspn(x->target, "?#");
  char *path = strndup(x->target, plen);
  if(!path)
    return -1;
  h->path = path;
  if(x->target[plen] == '?') {
    const char *q = x->target + plen + 1;
    emu_form_parse(q, strcspn(q, "#"), &h->query); /* what decodes */
  }
  emu_uuid_new(h->request_id);
  const char *crid = header(h, "client-request-id");
  if(crid && *crid && strlen(crid) <= 128 &&
     strspn(crid, "!#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "[]^_`abcdefghijklmnopqrstuvwxyz{|}~") == strlen(crid))
    h->client_request_id = crid; /* echoed in headers and JSON: visible ASCII */
  make_base(h);
  return 0;
}

static void ctx_release(struct hctx *h)
{
  json_decref(h->form_record);
  emu_form_release(&h->query);
  free((char *)h->path);
}

int emu_router_headers(struct emu_exchange *x, struct emu_response *out)
{
  struct hctx h;
  mgcx_buf_init(&x->body, MAX_BODY);
  if(ctx_init(&h, x, out)) {
    out->action = EMU_ACT_RESET;
    return 1;
  }
  x->started = 1;
  h.early = 1;
  early_answer(&h);
  ctx_release(&h);
  return h.answered && !h.wait_body;
}

void emu_router_finish(struct emu_exchange *x, struct emu_response *out)
{
  struct hctx h;
  if(ctx_init(&h, x, out)) {
    out->action = EMU_ACT_RESET;
    return;
  }
  if(x->too_big)
    odata_error(&h, 413, "RequestEntityTooLarge", NULL,
                "The request body is larger than %d bytes.", MAX_BODY);
  else if(x->over_budget)
    busy(&h);
  else
    route(&h);
  if(!h.answered)
    fail(&h);
  ctx_release(&h);
}

void emu_exchange_release(struct emu_exchange *x)
{
  mgcx_buf_release(&x->body);
  atomic_fetch_sub(&x->srv->body_bytes, x->reserved);
  x->reserved = 0;
}

void emu_server_event(void *ctx, enum emu_call_event ev,
                      const struct emu_call_info *call)
{
  event_notify(ctx, ev, call);
}
