/* SPDX-License-Identifier: MIT */
/* api.c - control API handlers on libmicrohttpd. */
#include "api.h"

#include "listen.h"

#include "api_guard.h"
#include "ids.h"
#include "log.h"
#include "mgcx.h"
#include "notify.h"
#include "notify_auth.h"
#include "page.h"
#include "regs.h"
#include "status.h"

#include <malloc.h>
#include <stdatomic.h>

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

/* POST /notifications jobs waiting for the worker at most; more are
 * answered 503 "busy". */
#define KAPI_MAX_QUEUED_JOBS 1024

struct kapi {
  struct MHD_Daemon *daemon;
  struct kcore *core;
  char *token;
  struct mgcx_jobs *work; /* POST /notifications runs there (mgcx.h) */
  struct kguard *guard;
  atomic_uint pages; /* GET /calls pages being built */
  struct kna *nauth; /* --notification-app-id, or NULL (borrowed) */
};

/* docs/openapi/keeper.yaml, built in (keeper/embed.cmake). */
extern const unsigned char kapi_openapi_yaml[];

/* Per request: made by uri_seen() when the request line arrives. */
struct upload {
  char *raw_uri;        /* as sent, before percent-decoding */
  struct mgcx_buf body; /* max: the request's limit */
  size_t limit;
  size_t reserved; /* bytes of the guard's budget this request holds */
  struct kguard *guard;
  int started;  /* the handler saw the headers */
  int fixed;    /* a Content-Length was given (and reserved whole) */
  int answered; /* answered from the headers: ignore the rest */
  int refused;  /* 413 or 503 found while the body came */
  int waited;   /* resumed after waiting for notification keys */
  /* the answer of a job done off this thread (post_notifications) */
  json_t *reply;
  unsigned reply_status;
};

/* The budget a response of n bytes takes (given back when the request
 * ends), so clients that do not read their answers are bounded too. */
static int reserve_response(struct MHD_Connection *con, size_t n);

/* ---- responses ---- */

static mhd_result send_text(struct MHD_Connection *con, unsigned status,
                            const char *type, const char *body)
{
  size_t n = strlen(body);
  if(n > 4096 && reserve_response(con, n)) {
    status = 503;
    type = "application/json";
    body = "{\"error\":{\"code\":\"busy\",\"message\":\"too many large "
           "answers in flight: retry later\"}}\n";
    n = strlen(body);
  }
  struct MHD_Response *r = MHD_create_response_from_buffer(
      n, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
  if(!r)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  if(!strncmp(type, "text/html", 9)) { /* the status page */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; style-src 'unsafe-inline'; "
                            "base-uri 'none'; form-action 'none'; "
                            "frame-ancestors 'none'");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  }
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

static mhd_result post_calls(struct kapi *api, struct MHD_Connection *con,
                             const struct upload *up)
{
  struct kregs regs;
  char why[300];
  int st = kregs_parse(up->body.data ? up->body.data : "", up->body.len,
                       KAPI_MAX_BULK, &regs, why, sizeof(why));
  if(st)
    return send_error(con, (unsigned)st,
                      st == 413   ? "payloadTooLarge"
                      : st == 503 ? "internal"
                                  : "badRequest",
                      why);
  size_t n = regs.n;
  int *created = calloc(n, sizeof(*created));
  if(!created) {
    kregs_release(&regs);
    return send_error(con, 503, "internal", "out of memory");
  }
  struct mgc_err err = {0};
  int rc = kcore_add(api->core, regs.v, n, created, &err);
  mhd_result res;
  if(rc)
    res = send_error(con, 503, "storeUnavailable", err.msg);
  else if(!regs.bulk) {
    json_t *o = kcore_call_json(api->core, regs.v[0].call_id);
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
  free(created);
  kregs_release(&regs);
  return res;
}

/* POST /notifications after parsing, on the worker (api->work), so that
 * the API thread never waits for the disk: consecutive events of the same
 * kind are applied together, each run in ONE durable transaction
 * (kcore_add, kcore_end_many), in the body's order; then the suspended
 * connection is resumed with the answer. */
struct notif_job {
  struct kapi *api;
  struct MHD_Connection *con;
  struct upload *up;
  struct kn_event *ev;
  size_t n;
  char tenant[KS_ID_MAX + 1]; /* the verified tid ("" = none): wins */
};

static void notif_run(void *arg)
{
  struct notif_job *j = arg;
  size_t tracked = 0, ended = 0, n = j->n ? j->n : 1;
  struct mgc_err err = {0};
  struct kcore_reg *regs = calloc(n, sizeof(*regs));
  int *created = calloc(n, sizeof(*created));
  const char **ids = calloc(n, sizeof(*ids));
  int failed = !regs || !created || !ids;
  if(failed)
    mgc__err_set(&err, MGCALL_E_INTERNAL, "out of memory");
  for(size_t i = 0, k; i < j->n && !failed; i = k) {
    enum kn_action a = j->ev[i].action;
    for(k = i; k < j->n && j->ev[k].action == a; k++) {
      const struct kn_event *e = &j->ev[k];
      regs[k - i] = (struct kcore_reg){e->call_id,
                                       j->tenant[0]      ? j->tenant
                                       : e->tenant_id[0] ? e->tenant_id
                                                         : NULL,
                                       0};
      ids[k - i] = e->call_id;
    }
    size_t m = k - i, e = 0;
    if(a == KN_TRACK) {
      failed = kcore_add(j->api->core, regs, m, created, &err) != MGCALL_OK;
      for(size_t x = 0; !failed && x < m; x++)
        tracked += (size_t)created[x];
    }
    else {
      failed = kcore_end_many(j->api->core, ids, m, KS_REASON_TERMINATED, &e,
                              &err) != MGCALL_OK;
      ended += e;
    }
  }
  free(regs);
  free(created);
  free(ids);
  j->up->reply_status = failed ? 503 : 202;
  j->up->reply = failed
                     ? json_pack("{s:{s:s, s:s}}", "error", "code",
                                 "storeUnavailable", "message", err.msg)
                     : json_pack("{s:I, s:I}", "tracked", (json_int_t)tracked,
                                 "ended", (json_int_t)ended);
  MHD_resume_connection(j->con);
  free(j->ev);
  free(j);
}

/* A page thread (GET /calls, GET /): 1, or 0 when KAPI_THREADS - 1 are
 * building pages already (one thread always stays free for /healthz).
 * Given back with atomic_fetch_sub(&api->pages, 1). */
static int page_slot_take(struct kapi *api)
{
  if(atomic_fetch_add(&api->pages, 1) < KAPI_THREADS - 1)
    return 1;
  atomic_fetch_sub(&api->pages, 1);
  return 0;
}

static mhd_result get_calls(struct kapi *api, struct MHD_Connection *con)
{
  const char *after = NULL;
  size_t after_len = 0;
  if(MHD_lookup_connection_value_n(con, MHD_GET_ARGUMENT_KIND, "after", 5,
                                   &after, &after_len) != MHD_YES)
    after = NULL;
  struct kpage_query q;
  char why[200];
  if(kpage_parse(
         MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "state"),
         MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "limit"),
         after, after_len, &q, why, sizeof(why)))
    return send_error(con, 400, "badRequest", why);
  /* shed before building when the answers in flight already fill the
   * budget (a call is a few hundred bytes of JSON) */
  if(kguard_in_use(api->guard) + q.limit * 256 > KGUARD_BODY_BUDGET)
    return send_error(con, 503, "busy",
                      "too many large answers in flight: retry later");
  if(!page_slot_take(api))
    return send_error(con, 503, "busy",
                      "too many pages being built: retry later");
  struct mgc_err err = {0};
  json_t *page = kpage_calls(api->core, &q, &err);
  atomic_fetch_sub(&api->pages, 1);
  if(!page)
    return send_error(con, 503, "storeUnavailable", err.msg);
  return send_json(con, 200, page);
}

/* GET /: the status page (keeper/status.h gathers, status_page.h renders
 * with no lock held), built in one of the page threads like GET /calls. */
static mhd_result get_status_page(struct kapi *api, struct MHD_Connection *con)
{
  if(!page_slot_take(api))
    return send_error(con, 503, "busy",
                      "too many pages being built: retry later");
  struct ksp_snapshot snap;
  char *html = NULL;
  if(!kstat_collect(api->core, &snap)) {
    html = ksp_render(&snap);
    ksp_release(&snap);
  }
  atomic_fetch_sub(&api->pages, 1);
  if(!html)
    return send_error(con, 500, "internal", "out of memory");
  mhd_result rc = send_text(con, 200, "text/html; charset=utf-8", html);
  free(html);
  return rc;
}

static mhd_result post_notifications(struct kapi *api,
                                     struct MHD_Connection *con,
                                     struct upload *up, const char *tenant)
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
  int parsed = kn_parse(up->body.data ? up->body.data : "", up->body.len, ev,
                        KN_MAX_EVENTS, &n, why, sizeof(why));
  if(parsed) {
    pthread_mutex_unlock(&ev_lock);
    return send_error(con, parsed == KN_TOO_MANY ? 413 : 400,
                      parsed == KN_TOO_MANY ? "payloadTooLarge" : "badRequest",
                      why);
  }
  struct notif_job *j = calloc(1, sizeof(*j));
  struct kn_event *copy = malloc((n ? n : 1) * sizeof(*copy));
  if(j && copy)
    memcpy(copy, ev, n * sizeof(*copy));
  pthread_mutex_unlock(&ev_lock);
  if(!j || !copy) {
    free(j);
    free(copy);
    return send_error(con, 500, "internal", "out of memory");
  }
  *j = (struct notif_job){api, con, up, copy, n, ""};
  if(tenant)
    snprintf(j->tenant, sizeof(j->tenant), "%s", tenant);
  /* suspended first: the job may resume it at once */
  MHD_suspend_connection(con);
  if(mgcx_jobs_submit(api->work, notif_run, j)) {
    MHD_resume_connection(con);
    free(copy);
    free(j);
    up->reply_status = 503;
    up->reply = json_pack("{s:{s:s, s:s}}", "error", "code", "busy", "message",
                          "too many notifications waiting for the store");
  }
  return MHD_YES; /* answered when resumed (handle: up->reply) */
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

static struct upload *upload_of(void **con_cls)
{
  if(!*con_cls) /* no uri_seen() (out of memory there) */
    *con_cls = calloc(1, sizeof(struct upload));
  return *con_cls;
}

/* The request being answered on this thread (libmicrohttpd's one). */
static _Thread_local struct upload *answering;

static int reserve_response(struct MHD_Connection *con, size_t n)
{
  (void)con;
  struct upload *up = answering;
  if(!up || !up->guard)
    return 0;
  if(kguard_reserve(up->guard, n))
    return -1;
  up->reserved += n;
  return 0;
}

/* Host, Origin, token: 0, or 1 with the answer queued in *res. */
static int refuse_caller(struct kapi *api, struct MHD_Connection *con,
                         int jwt_checked_later, mhd_result *res)
{
  const char *why = NULL;
  unsigned status = 403;
  if(!kguard_host_ok(api->guard,
                     MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Host")))
    why = "Host does not name this keeper (see --allowed-host)";
  else if(!kguard_origin_ok(api->guard, MHD_lookup_connection_value(
                                            con, MHD_HEADER_KIND, "Origin")))
    why = "requests from web pages of another origin are refused";
  else if(!jwt_checked_later && !authorized(api, con)) {
    *res = send_error(con, 401, "unauthorized",
                      "a valid 'Authorization: Bearer <token>' is required");
    return 1;
  }
  if(!why)
    return 0;
  *res = send_error(con, status, "forbidden", why);
  return 1;
}

/* Content-Type, size and the memory budget of a body: 0, or 1 with the
 * answer queued in *res. */
static int refuse_body(struct kapi *api, struct MHD_Connection *con,
                       const char *method, struct upload *up, mhd_result *res)
{
  const char *cl =
      MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
  const char *te =
      MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Transfer-Encoding");
  unsigned long long length = cl ? strtoull(cl, NULL, 10) : 0;
  if(!length && !te)
    return 0; /* no body */
  if(!kguard_is_json(
         MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type")))
    *res = send_error(con, 415, "unsupportedMediaType",
                      "a request body must be 'Content-Type: "
                      "application/json'");
  else if(strcmp(method, "POST"))
    *res = send_error(con, 405, "methodNotAllowed", "only POST takes a body");
  else if(length > up->limit)
    *res = send_error(con, 413, "payloadTooLarge", "request body too large");
  /* a known length is reserved whole; a chunked body as it grows */
  else if(length && kguard_reserve(api->guard, (size_t)length + 1))
    *res = send_error(con, 503, "busy",
                      "too many request bodies in flight: retry later");
  else {
    up->reserved = length ? (size_t)length + 1 : 0;
    up->fixed = length > 0;
    return 0;
  }
  return 1;
}

/* Decide from the headers alone, before any byte of the body is read:
 * Host/Origin (403), token (401), Content-Type (415), size (413) and the
 * memory budget (503).  0 = go on; 1 = refused, the answer in *res. */
static int refuse_early(struct kapi *api, struct MHD_Connection *con,
                        const char *url, const char *method, struct upload *up,
                        mhd_result *res)
{
  /* /healthz tells nothing: any Host, no token (a liveness probe) */
  /* with --notification-app-id a notification carries Graph's JWT
   * instead of the token: checked by notification_auth() once its body
   * (at most 256 KiB, within the budget) is here */
  int jwt =
      api->nauth && !strcmp(url, "/notifications") && !strcmp(method, "POST");
  if(strcmp(url, "/healthz") && refuse_caller(api, con, jwt, res))
    return 1;
  return refuse_body(api, con, method, up, res);
}

/* Append a piece of the body, within the request's limit and the budget. */
static void take_body(struct kapi *api, struct upload *up, const char *data,
                      size_t n)
{
  if(up->refused)
    return;
  struct mgcx_buf *b = &up->body;
  if(b->len + n > up->limit) {
    up->refused = 413;
    return;
  }
  if(b->len + n + 1 > b->cap) {
    /* a Content-Length is allocated once, whole; a chunked body doubles */
    size_t cap = up->reserved && !b->cap ? up->reserved
                 : b->cap                ? b->cap * 2
                                         : 4096;
    while(cap < b->len + n + 1)
      cap *= 2;
    if(cap > up->limit + 1)
      cap = up->limit + 1;
    if(up->fixed && cap > up->reserved)
      cap = up->reserved; /* Content-Length: exactly that */
    if(cap < b->len + n + 1) {
      up->refused = 413; /* more than its Content-Length */
      return;
    }
    if(!up->fixed && cap > up->reserved) { /* chunked: grow the budget */
      if(kguard_reserve(api->guard, cap - up->reserved)) {
        up->refused = 503;
        return;
      }
      up->reserved = cap;
    }
    if(mgcx_buf_reserve(b, cap - 1)) {
      up->refused = 503;
      return;
    }
  }
  if(mgcx_buf_add(b, data, n)) /* within the room reserved: cannot fail */
    up->refused = 503;
}

static mhd_result dispatch(struct kapi *api, struct MHD_Connection *con,
                           const char *url, const char *method,
                           const char *upload_data, size_t *upload_data_size,
                           struct upload *up)
{
  int is_post = !strcmp(method, "POST");
  if(!up->started) { /* the headers are here, no body byte read yet */
    up->started = 1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if(ci)
      kguard_conn_headers_done(api->guard, ci->socket_context);
    up->limit = !strcmp(url, "/calls") ? KAPI_MAX_CALLS_BODY : KN_MAX_BODY;
    mgcx_buf_init(&up->body, up->limit);
    mhd_result res;
    if(refuse_early(api, con, url, method, up, &res)) {
      up->answered = 1;
      return res;
    }
    return MHD_YES;
  }
  if(up->answered) { /* libmicrohttpd closes the connection, body unread */
    *upload_data_size = 0;
    return MHD_YES;
  }
  if(*upload_data_size) {
    take_body(api, up, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  /* the whole request is here */
  if(up->reply_status) { /* answer of a job done off this thread */
    json_t *o = up->reply;
    up->reply = NULL;
    return send_json(con, up->reply_status, o);
  }
  if(!strcmp(url, "/healthz")) {
    if(strcmp(method, "GET") && strcmp(method, "HEAD"))
      return send_error(con, 405, "methodNotAllowed", "use GET");
    return send_json(con, 200, json_pack("{s:s}", "status", "ok"));
  }
  const char *tenant = NULL;
  char tid[KS_ID_MAX + 1];
  mhd_result res;
  if(!strcmp(url, "/notifications") && is_post && api->nauth &&
     !notification_auth(api, con, up, tid, &tenant, &res))
    return res;
  if(up->refused == 413)
    return send_error(con, 413, "payloadTooLarge", "request body too large");
  if(up->refused)
    return send_error(con, 503, "busy",
                      "too many request bodies in flight: retry later");
  if(!strcmp(url, "/calls")) {
    if(is_post)
      return post_calls(api, con, up);
    if(!strcmp(method, "GET"))
      return get_calls(api, con);
    return send_error(con, 405, "methodNotAllowed", "use GET or POST");
  }
  if(!strncmp(url, "/calls/", 7)) {
    char *id = kguard_path_id(up->raw_uri);
    if(!id)
      return send_error(con, 400, "badRequest",
                        "bad call id in the path (empty, a NUL, a control "
                        "character, a bad %-escape or too long)");
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
  if(!strcmp(url, "/")) {
    if(strcmp(method, "GET"))
      return send_error(con, 405, "methodNotAllowed", "use GET");
    return get_status_page(api, con);
  }
  if(!strcmp(url, "/openapi.yaml")) {
    if(strcmp(method, "GET"))
      return send_error(con, 405, "methodNotAllowed", "use GET");
    return send_text(con, 200, "application/yaml",
                     (const char *)kapi_openapi_yaml);
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

static mhd_result handle(void *cls, struct MHD_Connection *con, const char *url,
                         const char *method, const char *version,
                         const char *upload_data, size_t *upload_data_size,
                         void **con_cls)
{
  (void)version;
  struct kapi *api = cls;
  struct upload *up = upload_of(con_cls);
  if(!up)
    return MHD_NO;
  up->guard = api->guard;
  answering = up;
  mhd_result res =
      dispatch(api, con, url, method, upload_data, upload_data_size, up);
  answering = NULL;
  return res;
}

/* The request line arrived: its per-request state, with the URI as sent. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *con)
{
  (void)cls;
  (void)con;
  struct upload *up = calloc(1, sizeof(*up));
  if(up && uri)
    up->raw_uri = strdup(uri);
  return up;
}

static void completed(void *cls, struct MHD_Connection *con, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
  struct kapi *api = cls;
  (void)toe;
  struct upload *up = *con_cls;
  if(up) {
    json_decref(up->reply);
    if(up->reserved)
      kguard_release(api->guard, up->reserved);
    size_t held = up->body.cap;
    mgcx_buf_release(&up->body);
    if(held > 1024 * 1024 || up->reserved > 1024 * 1024)
      malloc_trim(0); /* give a large body's memory back */
    free(up->raw_uri);
    free(up);
  }
  *con_cls = NULL;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  if(ci)
    kguard_conn_request_done(api->guard, ci->socket_context);
}

static void conn_event(void *cls, struct MHD_Connection *con,
                       void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
  struct kapi *api = cls;
  if(toe == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
    if(ci)
      kguard_conn_open(api->guard, ci->connect_fd, socket_context);
  }
  else
    kguard_conn_closed(api->guard, socket_context);
}

/* libmicrohttpd's messages: its own printf formats */
static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
  struct kapi *api = cls;
  uint64_t dropped = 0;
  /* attackers cause these (refused connections, timeouts): rate-limited */
  if(api->guard && !kguard_log_allowed(api->guard, &dropped))
    return;
  char msg[512];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  msg[strcspn(msg, "\n")] = '\0';
  if(dropped)
    klog(KLOG_WARN, NULL, NULL, "control API: %llu similar warnings suppressed",
         (unsigned long long)dropped);
  klog(KLOG_WARN, NULL, NULL, "control API: %s", msg);
}

int kapi_start(const char *listen, const char *token, struct kna *nauth,
               const char *const *allowed_hosts, struct kcore *core,
               struct kapi **out, unsigned *port, struct mgc_err *err)
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
  api->guard = kguard_new((struct sockaddr *)&ss, sslen, allowed_hosts);
  api->work = mgcx_jobs_new(KAPI_MAX_QUEUED_JOBS);
  if(!api->work || !api->guard || kguard_start(api->guard)) {
    mgcx_jobs_free(api->work);
    kguard_free(api->guard);
    free(api->token);
    free(api);
    return mgc__err_set(err, MGCALL_E_INTERNAL,
                        "control API: out of memory or threads");
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                   MHD_ALLOW_SUSPEND_RESUME; /* POST /notifications */
#ifdef MHD_USE_AUTO
  flags |= MHD_USE_AUTO;
#endif
  if(ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  api->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, handle, api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
      api, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_URI_LOG_CALLBACK, uri_seen, NULL, MHD_OPTION_NOTIFY_COMPLETED,
      completed, api, MHD_OPTION_NOTIFY_CONNECTION, conn_event, api,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned)KAPI_THREADS,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)KGUARD_MAX_CONNECTIONS,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)KGUARD_PER_ADDRESS,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
  if(!api->daemon) {
    mgcx_jobs_free(api->work);
    kguard_free(api->guard);
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
  kna_close(api->nauth);     /* resume requests waiting for keys first */
  mgcx_jobs_free(api->work); /* jobs finish and resume their connections */
  MHD_stop_daemon(api->daemon);
  kguard_free(api->guard);
  if(api->token) {
    volatile char *p = api->token;
    while(*p)
      *p++ = 0;
  }
  free(api->token);
  free(api);
}
