/* SPDX-License-Identifier: MIT */
/* server.c - the emulator's HTTP(S) front: libmicrohttpd (internal thread
 * pool, epoll), request routing, the common response headers, recording and
 * statistics.  The endpoints' logic lives in identity.c, calls.c, faults.c
 * and graph_json.c. */
#include "server.h"

#include "notify_sign.h"

#include "form.h"
#include "mgc_internal.h"
#include "graph_json.h"
#include "record.h"
#include "route.h"
#include "utf8.h"

#include <ctype.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_BODY EMU_MAX_BODY
/* Per-connection memory of libmicrohttpd: bounds the request headers (431
 * beyond) and is cleared for every request, so not larger than needed. */
#define EMU_CONNECTION_MEMORY (24 * 1024)
/* A connection that sends nothing for this long is closed: one that has
 * not completed its request, or an idle keep-alive one (a few seconds, so
 * idle connections cannot hold the connection slots). */
#define EMU_IDLE_TIMEOUT_S 5
#define EMU_MAX_CONNECTIONS 32768
#define EMU_FD_RESERVE 256
/* Request bodies held in memory at once, across all connections (each at
 * most MAX_BODY); past it requests get 503 + Retry-After. */
#define EMU_BODY_BUDGET ((size_t)16 * 1024 * 1024)
/* A certificate chain or key file larger than this is refused at start. */
#define EMU_PEM_FILE_MAX (4 * 1024 * 1024)

/* Per request: the body as it arrives. */
struct req {
  int started;
  char *target; /* the request target as sent (for --record), or NULL */
  char *body;
  size_t len, cap;
  size_t reserved; /* bytes of the server's body budget held (>= cap) */
  int too_big;
  int over_budget; /* the body budget ran out while reading: 503 */
  int has_body;
  int authorized; /* the Graph token was checked from the headers */
  struct emu_principal who;
  struct MHD_Response *pending; /* answer held back by --latency */
  unsigned pending_status;
};

/* One dispatch. */
struct hctx {
  struct emu_server *srv;
  struct MHD_Connection *conn;
  const char *method;
  const char *path;
  char request_id[37];
  const char *client_request_id;
  char base[320];
  struct req *req;
  json_t *form_record; /* redacted form fields for --record */
  int64_t latency_ms;
  int early;     /* deciding from the headers, before any body byte */
  int wait_body; /* early: nothing to answer yet, read the body */
};

static int64_t unix_now(void)
{
  return (int64_t)time(NULL);
}

static const char *header(struct hctx *h, const char *name)
{
  return MHD_lookup_connection_value(h->conn, MHD_HEADER_KIND, name);
}

/* ---- recording ----------------------------------------------------------- */

struct kv_ctx {
  json_t *obj;
  int lower;
};

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
  (void)kind;
  struct kv_ctx *k = cls;
  char name[128];
  size_t i;
  for(i = 0; key[i] && i < sizeof(name) - 1; i++)
    name[i] = k->lower ? (char)tolower((unsigned char)key[i]) : key[i];
  name[i] = '\0';
  const char *v = value ? value : "";
  if(emu_record_is_secret(name))
    v = EMU_REDACTED;
  char clean_name[sizeof(name) * 4];
  mgc__utf8_clean(clean_name, sizeof(clean_name), name, strlen(name));
  json_t *old = json_object_get(k->obj, clean_name);
  if(old && json_is_string(old)) {
    size_t n = strlen(json_string_value(old)) + strlen(v) + 3;
    char *joined = malloc(n);
    if(joined) {
      snprintf(joined, n, "%s, %s", json_string_value(old), v);
      json_object_set_new(k->obj, clean_name,
                          emu_json_text(joined, strlen(joined)));
      free(joined);
    }
  }
  else
    json_object_set_new(k->obj, clean_name, emu_json_text(v, strlen(v)));
  return MHD_YES;
}

static void record(struct hctx *h, int status)
{
  struct emu_record *rec = h->srv->record;
  if(!rec)
    return;
  struct kv_ctx hk = {json_object(), 1}, qk = {json_object(), 0};
  MHD_get_connection_values(h->conn, MHD_HEADER_KIND, collect_kv, &hk);
  MHD_get_connection_values(h->conn, MHD_GET_ARGUMENT_KIND, collect_kv, &qk);
  char t[40];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  emu_format_time((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, t,
                  sizeof(t), 1);
  /* path as sent (percent-encoding kept), without the query string */
  const char *target = h->req->target ? h->req->target : h->path;
  size_t plen = strcspn(target, "?#");

  json_t *line = json_pack(
      "{s:s,s:o,s:o,s:o,s:o,s:o,s:i,s:s}", "time", t, "method",
      emu_json_text(h->method, strlen(h->method)), "path",
      emu_json_text(target, plen), "target",
      emu_json_text(target, strlen(target)), "query", qk.obj, "headers", hk.obj,
      "status", status, "requestId", h->request_id);
  if(line && h->form_record)
    json_object_set(line, "form", h->form_record);
  if(line)
    emu_record_write(rec, line);
  json_decref(line);
}

/* ---- responses ------------------------------------------------------------
 */

static enum MHD_Result finish(struct hctx *h, struct MHD_Response *resp,
                              int status)
{
  if(!resp)
    return MHD_NO;
  MHD_add_response_header(resp, "request-id", h->request_id);
  MHD_add_response_header(resp, "client-request-id",
                          h->client_request_id ? h->client_request_id
                                               : h->request_id);
  MHD_add_response_header(
      resp, "x-ms-ags-diagnostic",
      "{\"ServerInfo\":{\"DataCenter\":\"Emulator\",\"Slice\":\"E\","
      "\"Ring\":\"0\",\"ScaleUnit\":\"000\",\"RoleInstance\":"
      "\"mgcall-emulator\"}}");
  MHD_add_response_header(resp, "Cache-Control", "no-store, no-cache");
  if(h->srv->tls)
    MHD_add_response_header(resp, "Strict-Transport-Security",
                            "max-age=31536000");
  if(status >= 100 && status < 600)
    atomic_fetch_add(&h->srv->by_status[status], 1);
  atomic_fetch_add(&h->srv->requests, 1);
  record(h, status);
  if(h->latency_ms > 0 && h->srv->delay) {
    /* Hold the answer; the delay thread resumes the connection and
     * on_request() queues it then.  No worker thread waits. */
    h->req->pending = resp;
    h->req->pending_status = (unsigned)status;
    MHD_suspend_connection(h->conn);
    /* +1: the clock is in whole ms; never answer early */
    emu_delay_add(h->srv->delay, h->conn, emu_now_ms() + h->latency_ms + 1);
    return MHD_YES;
  }
  enum MHD_Result r = MHD_queue_response(h->conn, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return r;
}

static struct MHD_Response *json_response(json_t *body)
{
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if(!text)
    return NULL;
  struct MHD_Response *r = MHD_create_response_from_buffer(
      strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if(!r) {
    free(text);
    return NULL;
  }
  MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
  return r;
}

static enum MHD_Result reply_json(struct hctx *h, int status, json_t *body)
{
  return finish(h, json_response(body), status);
}

static enum MHD_Result reply_empty(struct hctx *h, int status)
{
  struct MHD_Response *r =
      MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  return finish(h, r, status);
}

static enum MHD_Result odata_error(struct hctx *h, int status, const char *code,
                                   const char *inner, const char *fmt, ...)
    MGC_PRINTF(5, 6);

static enum MHD_Result odata_error(struct hctx *h, int status, const char *code,
                                   const char *inner, const char *fmt, ...)
{
  char wide[1024], msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(wide, sizeof(wide), fmt, ap);
  va_end(ap);
  /* Request bytes may be quoted: valid UTF-8, cut between characters. */
  mgc__utf8_clean(msg, sizeof(msg), wide, strlen(wide));
  json_t *body = emu_odata_error(code, msg, inner, h->request_id,
                                 h->client_request_id ? h->client_request_id
                                                      : h->request_id);
  return reply_json(h, status, body);
}

/* 404 quoting the first 64 bytes of a path segment as sent. */
static enum MHD_Result segment_not_found(struct hctx *h, const char *segment)
{
  char quoted[65];
  mgc__utf8_clean(quoted, sizeof(quoted), segment, strlen(segment));
  return odata_error(h, 404, "BadRequest", NULL,
                     "Resource not found for the segment '%s'.", quoted);
}

static enum MHD_Result method_not_allowed(struct hctx *h, const char *allow)
{
  json_t *body = emu_odata_error(
      "BadRequest", "The HTTP method is not allowed for this resource.", NULL,
      h->request_id,
      h->client_request_id ? h->client_request_id : h->request_id);
  struct MHD_Response *r = json_response(body);
  if(r)
    MHD_add_response_header(r, "Allow", allow);
  return finish(h, r, 405);
}

static enum MHD_Result fault_reply(struct hctx *h,
                                   const struct emu_fault_decision *d, int aad)
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
  struct MHD_Response *r = json_response(body);
  if(r && d->retry_after > 0) {
    char ra[16];
    snprintf(ra, sizeof(ra), "%d", d->retry_after);
    MHD_add_response_header(r, "Retry-After", ra);
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
    mgc__utf8_clean(name, sizeof(name), f->f[i].name, strlen(f->f[i].name));
    json_object_set_new(o, name, emu_json_text(v, strlen(v)));
  }
  return o;
}

static enum MHD_Result token_endpoint(struct hctx *h, const char *tenant)
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
    fe = emu_form_parse(h->req->body ? h->req->body : "", h->req->len, &form);
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

static enum MHD_Result imds_endpoint(struct hctx *h)
{
  struct emu_server *s = h->srv;
  struct emu_fault_decision d;
  emu_faults_decide(s->faults, EMU_SCOPE_TOKEN, NULL, emu_now_ms(), &d);
  h->latency_ms = d.latency_ms;
  if(d.status)
    return fault_reply(h, &d, 1);
  struct emu_form q = {0};
  /* Rebuild the query from MHD's decoded arguments. */
  struct kv_ctx qk = {json_object(), 0};
  MHD_get_connection_values(h->conn, MHD_GET_ARGUMENT_KIND, collect_kv, &qk);
  const char *key;
  json_t *v;
  json_object_foreach(qk.obj, key, v)
  {
    if(q.n == EMU_FORM_MAX_FIELDS)
      break;
    q.f[q.n].name = strdup(key);
    q.f[q.n].value = strdup(json_string_value(v));
    if(!q.f[q.n].name || !q.f[q.n].value) {
      free(q.f[q.n].name);
      free(q.f[q.n].value);
      break;
    }
    q.n++;
  }
  json_decref(qk.obj);
  const char *idh = header(h, "X-IDENTITY-HEADER");
  struct emu_token_response out;
  emu_identity_imds(s->identity, &q, header(h, "Metadata"), idh && *idh,
                    h->base, unix_now(), &out);
  emu_form_release(&q);
  if(out.status == 200)
    atomic_fetch_add(&s->tokens_issued, 1);
  return reply_json(h, out.status, out.body);
}

static enum MHD_Result openid_config(struct hctx *h, const char *tenant)
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

static enum MHD_Result instance_discovery(struct hctx *h)
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

static enum MHD_Result unauthorized(struct hctx *h, enum emu_verify_result v)
{
  const char *msg = emu_verify_message(v);
  json_t *body = emu_odata_error(
      "InvalidAuthenticationToken", msg, NULL, h->request_id,
      h->client_request_id ? h->client_request_id : h->request_id);
  struct MHD_Response *r = json_response(body);
  if(r) {
    char www[1024];
    snprintf(www, sizeof(www),
             "Bearer realm=\"\", authorization_uri=\"%s/common/oauth2/"
             "authorize\", client_id=\"00000003-0000-0000-c000-"
             "000000000000\", error=\"invalid_token\", "
             "error_description=\"%s\"",
             h->base, msg);
    MHD_add_response_header(r, "WWW-Authenticate", www);
  }
  return finish(h, r, 401);
}

static enum MHD_Result call_not_found(struct hctx *h)
{
  return odata_error(h, 404, "itemNotFound", "8522", "Call not found.");
}

/* 401 for a token of another tenant than the call's. */
static enum MHD_Result wrong_tenant(struct hctx *h,
                                    const struct emu_principal *who)
{
  char tenant[129], msg[256];
  mgc__utf8_clean(tenant, sizeof(tenant), who->tenant, strlen(who->tenant));
  snprintf(msg, sizeof(msg),
           "Access token validation failure. The token's tenant '%s' "
           "does not own this call.",
           tenant);
  json_t *body = emu_odata_error(
      "InvalidAuthenticationToken", msg, NULL, h->request_id,
      h->client_request_id ? h->client_request_id : h->request_id);
  struct MHD_Response *r = json_response(body);
  if(r)
    MHD_add_response_header(r, "WWW-Authenticate",
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

static enum MHD_Result graph(struct hctx *h, const struct emu_route *rt)
{
  struct emu_server *s = h->srv;
  const char *api = rt->api, *id = rt->id;
  if(rt->ep == EMU_EP_NONE)
    return segment_not_found(h, rt->segment);
  if(rt->ep == EMU_EP_GRAPH_NO_CALL)
    return call_not_found(h);
  /* Method check before authentication, like Graph's router. */
  if(rt->allow)
    return method_not_allowed(h, rt->allow);

  /* The token is checked from the headers, before the body is read. */
  struct emu_principal *who = &h->req->who;
  if(!h->req->authorized) {
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
    h->req->authorized = 1;
  }
  if(h->early) {
    h->wait_body = 1;
    return MHD_YES;
  }
  struct emu_fault_decision d;
  emu_faults_decide(s->faults, EMU_SCOPE_GRAPH, who->app, emu_now_ms(), &d);
  h->latency_ms = d.latency_ms;
  if(d.status)
    return fault_reply(h, &d, 0);

  struct emu_call_info info;
  enum emu_call_result rc;
  if(rt->ep == EMU_EP_GRAPH_CALLS) { /* create */
    char err[512];
    struct emu_call_request cr;
    if(emu_call_request_parse(h->req->body ? h->req->body : "", h->req->len,
                              &cr, err, sizeof(err)))
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
    struct MHD_Response *r = json_response(body);
    if(r) {
      char loc[512];
      snprintf(loc, sizeof(loc), "%s/%s/communications/calls/%s", h->base, api,
               info.id);
      MHD_add_response_header(r, "Location", loc);
    }
    return finish(h, r, 201);
  }
  if(rt->ep == EMU_EP_GRAPH_KEEPALIVE) {
    if(h->req->has_body)
      return odata_error(h, 400, "BadRequest", NULL,
                         "Do not supply a request body for this method.");
    rc = emu_calls_keepalive(s->calls, id, who->tenant, NULL);
    if(rc == EMU_CALLS_WRONG_TENANT)
      return wrong_tenant(h, who);
    if(rc != EMU_CALLS_OK) {
      atomic_fetch_add(&s->keepalives_404, 1);
      return call_not_found(h);
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if(r)
      MHD_add_response_header(r, "Content-Type", "text/plain");
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

static ssize_t list_reader(void *cls, uint64_t off, char *buf, size_t max)
{
  (void)off;
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
        return MHD_CONTENT_READER_END_WITH_ERROR;
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
      return MHD_CONTENT_READER_END_OF_STREAM;
    if(!ls->pending)
      return MHD_CONTENT_READER_END_WITH_ERROR;
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
  return o;
}

/* POST /_emulator/calls {"count":N,"tenantId","appId","callbackUri"}:
 * create N calls at once without a token (benchmarks, demos).  Answers 201
 * {"created":N,"ids":[...]}. */
static enum MHD_Result bulk_create(struct hctx *h)
{
  json_error_t jerr;
  json_t *o = json_loadb(h->req->body ? h->req->body : "", h->req->len,
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
  enum MHD_Result r = reply_json(
      h, made ? 201 : 507, json_pack("{s:I,s:o}", "created", made, "ids", ids));
  malloc_trim(0); /* give the transient id list back to the system */
  return r;
}

static enum MHD_Result emulator_api(struct hctx *h, const struct emu_route *rt)
{
  struct emu_server *s = h->srv;
  if(rt->allow)
    return method_not_allowed(h, rt->allow);
  if(rt->ep == EMU_EP_EMU_CALLS) {
    if(!strcmp(h->method, "POST"))
      return bulk_create(h);
    struct list_stream *ls = calloc(1, sizeof(*ls));
    if(!ls)
      return MHD_NO;
    ls->calls = s->calls;
    ls->first = 1;
    ls->filter = -1;
    const char *st =
        MHD_lookup_connection_value(h->conn, MHD_GET_ARGUMENT_KIND, "state");
    if(st && !strcmp(st, "active"))
      ls->filter = 0;
    else if(st && !strcmp(st, "ended"))
      ls->filter = 1;
    else if(st) {
      free(ls);
      return odata_error(h, 400, "BadRequest", NULL,
                         "state must be active or ended");
    }
    struct MHD_Response *r = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 64 * 1024, list_reader, ls, list_free);
    if(!r) {
      free(ls);
      return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type",
                            "application/json; charset=utf-8");
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
      return reply_json(h, 200, emu_faults_to_json(s->faults));
    json_error_t jerr;
    json_t *obj = json_loadb(h->req->body ? h->req->body : "", h->req->len,
                             JSON_REJECT_DUPLICATES, &jerr);
    char err[256];
    if(!obj)
      return odata_error(h, 400, "BadRequest", NULL, "bad JSON: %s", jerr.text);
    int rc = emu_faults_from_json(s->faults, obj, err, sizeof(err));
    json_decref(obj);
    if(rc)
      return odata_error(h, 400, "BadRequest", NULL, "%s", err);
    return reply_json(h, 200, emu_faults_to_json(s->faults));
  }
  /* EMU_EP_EMU_HEALTH */
  return reply_json(h, 200, json_pack("{s:s}", "status", "ok"));
}

/* ---- routing
 * ------------------------------------------------------------------ */

static enum MHD_Result route(struct hctx *h)
{
  struct emu_route rt;
  emu_route_match(h->method, h->path, &rt);
  if(rt.api)
    return graph(h, &rt);
  if(h->early) { /* the other endpoints decide with the body */
    h->wait_body = 1;
    return MHD_YES;
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

/* Called once per request with the request target as sent: makes the
 * per-request state, keeping the raw target when recording. */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
  (void)conn;
  struct emu_server *s = cls;
  struct req *r = calloc(1, sizeof(*r));
  if(!r)
    return NULL;
  if(uri)
    r->target = strndup(uri, 8192);
  atomic_fetch_add(&s->inflight, 1);
  return r;
}

/* Hold want bytes of the server-wide body budget for r (in total, not more);
 * 0, or -1 when the bodies in flight would pass EMU_BODY_BUDGET. */
static int body_reserve(struct emu_server *s, struct req *r, size_t want)
{
  if(want <= r->reserved)
    return 0;
  size_t more = want - r->reserved;
  if(atomic_fetch_add(&s->body_bytes, more) + more > EMU_BODY_BUDGET) {
    atomic_fetch_sub(&s->body_bytes, more);
    return -1;
  }
  r->reserved = want;
  return 0;
}

/* Append a piece of the body (beyond MAX_BODY or the budget it is dropped
 * and the request marked; the answer comes when the body has been read).
 * -1 when out of memory. */
static int body_append(struct emu_server *s, struct req *r, const char *data,
                       size_t n)
{
  r->has_body = 1;
  if(r->too_big || r->over_budget)
    return 0;
  if(r->len + n > MAX_BODY) {
    r->too_big = 1;
    return 0;
  }
  if(r->len + n + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 1024;
    while(cap < r->len + n + 1)
      cap *= 2;
    if(body_reserve(s, r, cap)) {
      r->over_budget = 1;
      return 0;
    }
    char *b = realloc(r->body, cap);
    if(!b)
      return -1;
    r->body = b;
    r->cap = cap;
  }
  memcpy(r->body + r->len, data, n);
  r->len += n;
  r->body[r->len] = '\0';
  return 0;
}

struct framing {
  int lengths;  /* Content-Length headers */
  int conflict; /* two that differ, or one that is not a number */
  uint64_t length;
  const char *te; /* a Transfer-Encoding other than chunked, or NULL */
  int chunked;
};

static enum MHD_Result scan_framing(void *cls, enum MHD_ValueKind kind,
                                    const char *key, const char *value)
{
  (void)kind;
  struct framing *f = cls;
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
  return MHD_YES;
}

static enum MHD_Result busy(struct hctx *h)
{
  json_t *body = emu_odata_error(
      "serviceNotAvailable",
      "The emulator holds as many request bodies as it will; retry later.",
      NULL, h->request_id,
      h->client_request_id ? h->client_request_id : h->request_id);
  struct MHD_Response *r = json_response(body);
  if(r)
    MHD_add_response_header(r, "Retry-After", "1");
  return finish(h, r, 503);
}

/* What can be answered from the request line and headers alone, before a
 * body byte is read or held: framing errors (two different Content-Length
 * headers, a Transfer-Encoding other than chunked), a body too large, the
 * body budget, and for Graph a bad path, method or token.  Otherwise sets
 * h->wait_body. */
static enum MHD_Result early_answer(struct hctx *h)
{
  struct framing f = {0};
  MHD_get_connection_values(h->conn, MHD_HEADER_KIND, scan_framing, &f);
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
  struct req *r = h->req;
  if(f.lengths && f.length) {
    /* The whole body at once: held against the budget before it comes. */
    if(body_reserve(h->srv, r, (size_t)f.length + 1))
      return busy(h);
    r->body = malloc((size_t)f.length + 1);
    if(!r->body)
      return MHD_NO;
    r->cap = (size_t)f.length + 1;
  }
  return route(h);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
  (void)version;
  struct emu_server *s = cls;
  struct req *r = *con_cls;
  if(!r) { /* uri_log() could not allocate */
    r = calloc(1, sizeof(*r));
    if(!r)
      return MHD_NO;
    *con_cls = r;
    atomic_fetch_add(&s->inflight, 1);
  }
  if(r->started && *upload_size) {
    int rc = body_append(s, r, upload, *upload_size);
    *upload_size = 0;
    return rc ? MHD_NO : MHD_YES;
  }
  if(r->pending) { /* resumed after --latency */
    struct MHD_Response *resp = r->pending;
    r->pending = NULL;
    enum MHD_Result res = MHD_queue_response(conn, r->pending_status, resp);
    MHD_destroy_response(resp);
    return res;
  }
  struct hctx h;
  memset(&h, 0, sizeof(h));
  h.srv = s;
  h.conn = conn;
  h.method = method;
  /* Route on the path as sent (percent-escapes kept; each segment is
   * decoded where it is used), so "a%2Fb" stays one call id segment. */
  char *raw = r->target ? strndup(r->target, strcspn(r->target, "?#")) : NULL;
  h.path = raw ? raw : url;
  h.req = r;
  emu_uuid_new(h.request_id);
  const char *crid =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "client-request-id");
  if(crid && *crid && strlen(crid) <= 128 &&
     strspn(crid, "!#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "[]^_`abcdefghijklmnopqrstuvwxyz{|}~") == strlen(crid))
    h.client_request_id = crid; /* echoed in headers and JSON: visible ASCII */
  make_base(&h);
  enum MHD_Result res;
  if(!r->started) {
    r->started = 1;
    h.early = 1;
    res = early_answer(&h);
    if(h.wait_body)
      res = MHD_YES;
  }
  else if(r->too_big)
    res = odata_error(&h, 413, "RequestEntityTooLarge", NULL,
                      "The request body is larger than %d bytes.", MAX_BODY);
  else if(r->over_budget)
    res = busy(&h);
  else
    res = route(&h);
  json_decref(h.form_record);
  free(raw);
  return res;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct emu_server *s = cls;
  (void)conn;
  (void)toe;
  struct req *r = *con_cls;
  if(r) {
    if(r->pending)
      MHD_destroy_response(r->pending);
    free(r->target);
    free(r->body);
    atomic_fetch_sub(&s->body_bytes, r->reserved);
    atomic_fetch_sub(&s->inflight, 1);
    free(r);
  }
  *con_cls = NULL;
}

/* ---- lifecycle
 * ---------------------------------------------------------------- */

/* The whole of a certificate or key file, NUL-terminated (caller frees), or
 * NULL with err set: unreadable, a read error, larger than
 * EMU_PEM_FILE_MAX, or out of memory.  Never a silently shortened file. */
static char *read_file(const char *path, char *err, size_t errlen)
{
  FILE *f = fopen(path, "rb");
  if(!f) {
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 16 * 1024, len = 0;
  char *buf = malloc(cap + 1);
  while(buf) {
    len += fread(buf + len, 1, cap - len, f);
    if(len < cap)
      break; /* end of file or an error, told apart below */
    if(cap >= EMU_PEM_FILE_MAX) {
      snprintf(err, errlen, "cannot read %s: %d bytes or more", path,
               EMU_PEM_FILE_MAX);
      free(buf);
      fclose(f);
      return NULL;
    }
    cap *= 2;
    char *bigger = realloc(buf, cap + 1);
    if(!bigger) {
      free(buf);
      buf = NULL;
    }
    else
      buf = bigger;
  }
  int failed = ferror(f);
  int saved = errno;
  fclose(f);
  if(!buf) {
    snprintf(err, errlen, "cannot read %s: out of memory", path);
    return NULL;
  }
  if(failed) {
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(saved));
    free(buf);
    return NULL;
  }
  buf[len] = '\0';
  return buf;
}

/* As many connections as file descriptors allow (the soft limit raised to
 * the hard one first), less EMU_FD_RESERVE for callbacks, files and the
 * server's own; at most EMU_MAX_CONNECTIONS.  Idle ones are closed after
 * EMU_IDLE_TIMEOUT_S, so connections that send nothing cannot hold every
 * slot for long. */
static unsigned connection_limit(void)
{
  struct rlimit rl;
  if(getrlimit(RLIMIT_NOFILE, &rl))
    return 1000;
  if(rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
    struct rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if(raised.rlim_cur == RLIM_INFINITY ||
       raised.rlim_cur > EMU_MAX_CONNECTIONS + EMU_FD_RESERVE)
      raised.rlim_cur = EMU_MAX_CONNECTIONS + EMU_FD_RESERVE;
    if(raised.rlim_cur > rl.rlim_cur && !setrlimit(RLIMIT_NOFILE, &raised))
      rl = raised;
  }
  if(rl.rlim_cur == RLIM_INFINITY ||
     rl.rlim_cur > EMU_MAX_CONNECTIONS + EMU_FD_RESERVE)
    return EMU_MAX_CONNECTIONS;
  if(rl.rlim_cur < EMU_FD_RESERVE + 64)
    return 64;
  return (unsigned)(rl.rlim_cur - EMU_FD_RESERVE);
}

int emu_server_start(struct emu_server *s, const struct emu_options *o,
                     int listen_fd, char *err, size_t errlen)
{
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                   MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
  if(o->tls_cert) {
    if(MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      snprintf(err, errlen, "this libmicrohttpd has no TLS support");
      return -1;
    }
    s->tls_cert_pem = read_file(o->tls_cert, err, errlen);
    if(!s->tls_cert_pem)
      return -2;
    s->tls_key_pem = read_file(o->tls_key, err, errlen);
    if(!s->tls_key_pem)
      return -2;
    flags |= MHD_USE_TLS;
    s->tls = 1;
  }
  if(s->family == AF_INET6)
    flags |= MHD_USE_IPv6;
  unsigned threads = o->threads ? o->threads : 8;
  struct MHD_OptionItem opts[] = {
      {MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL},
      {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
      {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_log, s},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, EMU_CONNECTION_MEMORY, NULL},
      {MHD_OPTION_CONNECTION_TIMEOUT, EMU_IDLE_TIMEOUT_S, NULL},
      {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)connection_limit(), NULL},
      {s->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->tls_cert_pem},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key_pem},
      {MHD_OPTION_END, 0, NULL}};
  s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                               MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
  if(!s->daemon) {
    snprintf(err, errlen, "cannot start the HTTP server%s",
             s->tls ? " (check the TLS certificate and key)" : "");
    return -1;
  }
  return 0;
}

void emu_server_stop(struct emu_server *s)
{
  if(s->daemon)
    MHD_quiesce_daemon(s->daemon); /* no new connections */
  emu_delay_stop(s->delay);        /* suspended connections must be resumed */
  /* Let requests in flight (delayed ones included) finish, 2 s at most. */
  for(int i = 0; s->daemon && i < 200 && atomic_load(&s->inflight) > 0; i++) {
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
  if(s->daemon)
    MHD_stop_daemon(s->daemon);
  s->daemon = NULL;
  free(s->tls_cert_pem);
  if(s->tls_key_pem)
    OPENSSL_cleanse(s->tls_key_pem, strlen(s->tls_key_pem));
  free(s->tls_key_pem);
  s->tls_cert_pem = s->tls_key_pem = NULL;
}

void emu_server_event(void *ctx, enum emu_call_event ev,
                      const struct emu_call_info *call)
{
  event_notify(ctx, ev, call);
}
