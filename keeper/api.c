/* SPDX-License-Identifier: MIT */
/* api.c - control API handlers on libmicrohttpd. */
#include "api.h"

#include "listen.h"

#include "log.h"
#include "notify.h"
#include "notify_auth.h"
#include "mgcx.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

struct kapi {
  struct MHD_Daemon *daemon;
  struct kcore *core;
  char *token;
  struct kna *nauth; /* --notification-app-id, or NULL (borrowed) */
};

/* Per-request upload buffer. */
struct upload {
  char *buf;
  size_t len, cap, limit;
  int too_large;
  int waited; /* resumed after waiting for notification keys */
};

/* ---- responses ---- */

static mhd_result send_text(struct MHD_Connection *con, unsigned status,
                            const char *type, const char *body)
{
  struct MHD_Response *r = MHD_create_response_from_buffer(
      strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
  if(!r)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  if(status == 401)
    MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"mgcall\"");
  mhd_result rc = MHD_queue_response(con, status, r);
  MHD_destroy_response(r);
  return rc;
}

static mhd_result send_json(struct MHD_Connection *con, unsigned status,
                            json_t *o)
{
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if(!s)
    return send_text(con, 500, "application/json",
                     "{\"error\":{\"code\":\"internal\",\"message\":\"out "
                     "of memory\"}}");
  size_t n = strlen(s);
  s[n] = '\0';
  char *body = realloc(s, n + 2);
  if(body) {
    body[n] = '\n';
    body[n + 1] = '\0';
    s = body;
  }
  mhd_result rc = send_text(con, status, "application/json", s);
  free(s);
  return rc;
}

static mhd_result send_error(struct MHD_Connection *con, unsigned status,
                             const char *code, const char *message)
{
  return send_json(
      con, status,
      json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message));
}

static mhd_result send_empty(struct MHD_Connection *con, unsigned status)
{
  struct MHD_Response *r =
      MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
  if(!r)
    return MHD_NO;
  mhd_result rc = MHD_queue_response(con, status, r);
  MHD_destroy_response(r);
  return rc;
}

/* ---- handlers ---- */

static int valid_id(const char *s)
{
  size_t n = s ? strlen(s) : 0;
  if(!n || n > KS_ID_MAX)
    return 0;
  for(size_t i = 0; i < n; i++)
    if((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return 0;
  return 1;
}

/* Fill reg from one {"callId", "tenantId"?, "startedAt"?} object. */
static int parse_reg(json_t *o, struct kcore_reg *reg, char *why, size_t n)
{
  if(!json_is_object(o)) {
    snprintf(why, n, "each registration must be a JSON object");
    return -1;
  }
  json_t *id = json_object_get(o, "callId");
  json_t *tenant = json_object_get(o, "tenantId");
  json_t *started = json_object_get(o, "startedAt");
  if(!json_is_string(id) || !valid_id(json_string_value(id))) {
    snprintf(why, n,
             "\"callId\" must be a non-empty string of at most %d "
             "printable characters",
             KS_ID_MAX);
    return -1;
  }
  if(tenant && !json_is_null(tenant) &&
     (!json_is_string(tenant) || !valid_id(json_string_value(tenant)))) {
    snprintf(why, n, "\"tenantId\" must be a non-empty string");
    return -1;
  }
  reg->call_id = json_string_value(id);
  reg->tenant_id = json_is_string(tenant) ? json_string_value(tenant) : NULL;
  reg->started_ms = 0;
  if(started && !json_is_null(started)) {
    int64_t ms;
    if(!json_is_string(started) ||
       mgcx_rfc3339_parse(json_string_value(started), &ms)) {
      snprintf(why, n,
               "\"startedAt\" must be an RFC 3339 time such as "
               "2026-01-31T12:00:00Z");
      return -1;
    }
    reg->started_ms = ms ? ms : 1;
  }
  return 0;
}

static mhd_result post_calls(struct kapi *api, struct MHD_Connection *con,
                             const struct upload *up)
{
  json_error_t jerr;
  json_t *root = json_loadb(up->buf ? up->buf : "", up->len,
                            JSON_REJECT_DUPLICATES, &jerr);
  if(!root) {
    char msg[300];
    snprintf(msg, sizeof(msg), "body is not JSON: %s (line %d)", jerr.text,
             jerr.line);
    return send_error(con, 400, "badRequest", msg);
  }
  int bulk = json_is_array(root);
  size_t n = bulk ? json_array_size(root) : 1;
  if(bulk && (n == 0 || n > KAPI_MAX_BULK)) {
    json_decref(root);
    return send_error(con, n ? 413 : 400, "badRequest",
                      n ? "too many registrations in one request"
                        : "empty array");
  }
  struct kcore_reg *regs = calloc(n, sizeof(*regs));
  int *created = calloc(n, sizeof(*created));
  if(!regs || !created) {
    free(regs);
    free(created);
    json_decref(root);
    return send_error(con, 500, "internal", "out of memory");
  }
  char why[200];
  for(size_t i = 0; i < n; i++)
    if(parse_reg(bulk ? json_array_get(root, i) : root, &regs[i], why,
                 sizeof(why))) {
      free(regs);
      free(created);
      json_decref(root);
      return send_error(con, 400, "badRequest", why);
    }
  struct mgc_err err = {0};
  int rc = kcore_add(api->core, regs, n, created, &err);
  mhd_result res;
  if(rc)
    res = send_error(con, 503, "storeUnavailable", err.msg);
  else if(!bulk) {
    json_t *o = kcore_call_json(api->core, regs[0].call_id);
    res = send_json(con, created[0] ? 201 : 200, o);
  }
  else {
    size_t made = 0;
    for(size_t i = 0; i < n; i++)
      made += (size_t)created[i];
    res = send_json(con, made ? 201 : 200,
                    json_pack("{s:I, s:I}", "created", (json_int_t)made,
                              "existing", (json_int_t)(n - made)));
  }
  free(regs);
  free(created);
  json_decref(root);
  return res;
}

static mhd_result post_notifications(struct kapi *api,
                                     struct MHD_Connection *con,
                                     const struct upload *up,
                                     const char *tenant)
{
  const char *validation = MHD_lookup_connection_value(
      con, MHD_GET_ARGUMENT_KIND, "validationToken");
  if(validation) /* subscription validation handshake */
    return send_text(con, 200, "text/plain", validation);
  static struct kn_event ev[KN_MAX_EVENTS];
  static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
  char why[128];
  size_t n = 0;
  pthread_mutex_lock(&ev_lock);
  if(kn_parse(up->buf ? up->buf : "", up->len, ev, KN_MAX_EVENTS, &n, why,
              sizeof(why))) {
    pthread_mutex_unlock(&ev_lock);
    return send_error(con, 400, "badRequest", why);
  }
  size_t tracked = 0, ended = 0;
  int failed = 0;
  struct mgc_err err = {0};
  for(size_t i = 0; i < n && !failed; i++) {
    if(ev[i].action == KN_TRACK) {
      struct kcore_reg reg = {ev[i].call_id,
                              tenant               ? tenant
                              : ev[i].tenant_id[0] ? ev[i].tenant_id
                                                   : NULL,
                              0};
      int created = 0;
      if(kcore_add(api->core, &reg, 1, &created, &err))
        failed = 1;
      else
        tracked += (size_t)created;
    }
    else {
      int live = 0;
      int rc = kcore_end(api->core, ev[i].call_id, KS_REASON_TERMINATED, &live,
                         &err);
      if(rc == MGCALL_E_INTERNAL)
        failed = 1;
      else if(!rc && live)
        ended++;
    }
  }
  pthread_mutex_unlock(&ev_lock);
  if(failed)
    return send_error(con, 503, "storeUnavailable", err.msg);
  return send_json(con, 202,
                   json_pack("{s:I, s:I}", "tracked", (json_int_t)tracked,
                             "ended", (json_int_t)ended));
}

/* "/calls/<id>" -> the decoded id, or NULL. */
static char *id_of(const char *url)
{
  if(strncmp(url, "/calls/", 7) || !url[7])
    return NULL;
  char *id = strdup(url + 7);
  if(!id)
    return NULL;
  /* MHD already percent-decoded the path */
  if(!valid_id(id)) { /* "/" is allowed: ids are opaque */
    free(id);
    return NULL;
  }
  return id;
}

static int authorized(struct kapi *api, struct MHD_Connection *con)
{
  if(!api->token)
    return 1;
  const char *h =
      MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
  if(!h || strncasecmp(h, "Bearer ", 7))
    return 0;
  const char *got = h + 7;
  size_t a = strlen(got), b = strlen(api->token);
  unsigned char diff = (unsigned char)(a != b);
  for(size_t i = 0; i < b; i++)
    diff |= (unsigned char)(got[i < a ? i : 0] ^ api->token[i]);
  return diff == 0;
}

static void resume_con(void *con)
{
  MHD_resume_connection(con);
}

/* POST /notifications with --notification-app-id: the control API token
 * (a bot that verified the notification forwards it) or Graph's own bearer
 * JWT (keeper/notify_auth.h), never an anonymous body.  Returns 1 to go on
 * (*tenant: the verified tid or NULL), 0 when answered or suspended with
 * *res set.  A token of an unknown key suspends the request until the key
 * thread fetched the keys once more (never this thread), then it is
 * checked again. */
static int notification_auth(struct kapi *api, struct MHD_Connection *con,
                             struct upload *up, char tid[KS_ID_MAX + 1],
                             const char **tenant, mhd_result *res)
{
  *tenant = NULL;
  if(api->token && authorized(api, con))
    return 1;
  char why[128];
  enum kna_result r = kna_verify(
      api->nauth,
      MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization"),
      (int64_t)time(NULL), tid, why, sizeof(why));
  if(r == KNA_OK) {
    *tenant = tid;
    return 1;
  }
  if(r == KNA_UNKNOWN_KID && !up->waited) {
    up->waited = 1;
    MHD_suspend_connection(con); /* before the key thread may resume it */
    if(kna_wait_keys(api->nauth, resume_con, con))
      MHD_resume_connection(con); /* no refresh allowed now: answer */
    *res = MHD_YES;
    return 0;
  }
  klog(KLOG_WARN, NULL, NULL, "POST /notifications refused (403): %s", why);
  *res = send_error(con, 403, "forbidden",
                    "the notification's bearer token was not accepted");
  return 0;
}

static mhd_result handle(void *cls, struct MHD_Connection *con, const char *url,
                         const char *method, const char *version,
                         const char *upload_data, size_t *upload_data_size,
                         void **con_cls)
{
  (void)version;
  struct kapi *api = cls;
  int is_post = !strcmp(method, "POST");
  if(!*con_cls) {
    struct upload *up = calloc(1, sizeof(*up));
    if(!up)
      return MHD_NO;
    up->limit = !strcmp(url, "/calls") ? KAPI_MAX_CALLS_BODY : KN_MAX_BODY;
    *con_cls = up;
    return MHD_YES;
  }
  struct upload *up = *con_cls;
  if(*upload_data_size) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if(up->too_large || up->len + n > up->limit) {
      up->too_large = 1;
      return MHD_YES;
    }
    if(up->len + n + 1 > up->cap) {
      size_t cap = up->cap ? up->cap : 4096;
      while(cap < up->len + n + 1)
        cap *= 2;
      char *b = realloc(up->buf, cap);
      if(!b) {
        up->too_large = 1;
        return MHD_YES;
      }
      up->buf = b;
      up->cap = cap;
    }
    memcpy(up->buf + up->len, upload_data, n);
    up->len += n;
    up->buf[up->len] = '\0';
    return MHD_YES;
  }
  /* the whole request is here */
  if(!strcmp(url, "/healthz")) {
    if(strcmp(method, "GET") && strcmp(method, "HEAD"))
      return send_error(con, 405, "methodNotAllowed", "use GET");
    return send_json(con, 200, json_pack("{s:s}", "status", "ok"));
  }
  const char *tenant = NULL;
  char tid[KS_ID_MAX + 1];
  mhd_result res;
  if(!strcmp(url, "/notifications") && is_post && api->nauth) {
    if(!notification_auth(api, con, up, tid, &tenant, &res))
      return res;
  }
  else if(!authorized(api, con))
    return send_error(con, 401, "unauthorized",
                      "a valid 'Authorization: Bearer <token>' is required");
  if(up->too_large)
    return send_error(con, 413, "payloadTooLarge", "request body too large");
  if(!strcmp(url, "/calls")) {
    if(is_post)
      return post_calls(api, con, up);
    if(!strcmp(method, "GET"))
      return send_json(con, 200, kcore_list_json(api->core));
    return send_error(con, 405, "methodNotAllowed", "use GET or POST");
  }
  if(!strncmp(url, "/calls/", 7)) {
    char *id = id_of(url);
    if(!id)
      return send_error(con, 400, "badRequest", "bad call id in the path");
    mhd_result rc;
    if(!strcmp(method, "GET")) {
      json_t *o = kcore_call_json(api->core, id);
      rc = o ? send_json(con, 200, o)
             : send_error(con, 404, "notFound", "call is not tracked");
    }
    else if(!strcmp(method, "DELETE")) {
      struct mgc_err err = {0};
      int r = kcore_end(api->core, id, KS_REASON_REMOVED, NULL, &err);
      if(r == MGCALL_E_NOT_FOUND)
        rc = send_error(con, 404, "notFound", "call is not tracked");
      else if(r)
        rc = send_error(con, 503, "storeUnavailable", err.msg);
      else
        rc = send_empty(con, 204);
    }
    else
      rc = send_error(con, 405, "methodNotAllowed", "use GET or DELETE");
    free(id);
    return rc;
  }
  if(!strcmp(url, "/notifications")) {
    if(!is_post)
      return send_error(con, 405, "methodNotAllowed", "use POST");
    return post_notifications(api, con, up, tenant);
  }
  if(!strcmp(url, "/fleet")) {
    if(strcmp(method, "GET"))
      return send_error(con, 405, "methodNotAllowed", "use GET");
    return send_json(con, 200, kcore_fleet_json(api->core));
  }
  if(!strcmp(url, "/metrics")) {
    if(strcmp(method, "GET"))
      return send_error(con, 405, "methodNotAllowed", "use GET");
    char *text = kcore_metrics_text(api->core);
    if(!text)
      return send_error(con, 500, "internal", "out of memory");
    mhd_result rc =
        send_text(con, 200, "text/plain; version=0.0.4; charset=utf-8", text);
    free(text);
    return rc;
  }
  return send_error(con, 404, "notFound", "no such endpoint");
}

static void completed(void *cls, struct MHD_Connection *con, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)con;
  (void)toe;
  struct upload *up = *con_cls;
  if(up) {
    free(up->buf);
    free(up);
  }
  *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  msg[strcspn(msg, "\n")] = '\0';
  klog(KLOG_WARN, NULL, NULL, "control API: %s", msg);
}

int kapi_start(const char *listen, const char *token, struct kna *nauth,
               struct kcore *core, struct kapi **out, unsigned *port,
               struct mgc_err *err)
{
  *out = NULL;
  struct sockaddr_storage ss;
  socklen_t sslen;
  int loopback;
  if(!listen)
    listen = "127.0.0.1:8787";
  if(mgc__listen_parse(listen, &ss, &sslen, &loopback))
    return mgc__err_set(err, MGCALL_E_USAGE,
                        "--listen '%s': want ADDR:PORT such as "
                        "127.0.0.1:8787 or [::1]:8787",
                        listen);
  if(!loopback && !token)
    return mgc__err_set(err, MGCALL_E_USAGE,
                        "--listen '%s' is not loopback: --api-token-file is "
                        "required",
                        listen);
  struct kapi *api = calloc(1, sizeof(*api));
  if(!api || (token && !(api->token = strdup(token)))) {
    free(api);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  }
  api->core = core;
  api->nauth = nauth;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                   MHD_ALLOW_SUSPEND_RESUME;
#ifdef MHD_USE_AUTO
  flags |= MHD_USE_AUTO;
#endif
  if(ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  api->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, handle, api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
      NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)256, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
  if(!api->daemon) {
    free(api->token);
    free(api);
    return mgc__err_set(err, MGCALL_E_INTERNAL,
                        "control API: cannot listen on %s (in use?)", listen);
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
  if(port)
    *port = info ? info->port : 0;
  *out = api;
  return MGCALL_OK;
}

void kapi_stop(struct kapi *api)
{
  if(!api)
    return;
  kna_close(api->nauth); /* resume requests waiting for keys first */
  MHD_stop_daemon(api->daemon);
  if(api->token) {
    volatile char *p = api->token;
    while(*p)
      *p++ = 0;
  }
  free(api->token);
  free(api);
}
