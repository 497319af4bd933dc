/* SPDX-License-Identifier: MIT */
/* cmd_keeper_client.c - 'mgcall keeper add|remove|list|show|fleet': the
 * keeper's control API over HTTP (libcurl), answers printed escaped. */
#include "cmd_keeper.h"

#include "cli.h"
#include "mgcx.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RESPONSE (256u * 1024 * 1024)
#define BULK_CHUNK 5000

struct client {
  const char *base; /* keeper URL without a trailing slash */
  char *token;      /* bearer, or NULL */
};

struct body {
  char *buf;
  size_t len;
  int too_big;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
  struct body *b = ud;
  size_t n = size * nmemb;
  if(b->len + n > MAX_RESPONSE) {
    b->too_big = 1;
    return 0;
  }
  char *nb = realloc(b->buf, b->len + n + 1);
  if(!nb)
    return 0;
  memcpy(nb + b->len, p, n);
  b->buf = nb;
  b->len += n;
  b->buf[b->len] = '\0';
  return n;
}

/* Append one header line; on failure (out of memory: curl_slist_append
 * returns NULL and keeps the list) free the whole list and return -1, so
 * that no request goes out without a header it needs (Authorization). */
static int add_header(struct curl_slist **list, const char *line)
{
  struct curl_slist *n = curl_slist_append(*list, line);
  if(!n) {
    curl_slist_free_all(*list);
    *list = NULL;
    return -1;
  }
  *list = n;
  return 0;
}

/* One request; returns the HTTP status or -1 (error printed). */
static long request(const struct client *cl, const char *method,
                    const char *path, const char *body, struct body *out)
{
  CURL *curl = curl_easy_init();
  if(!curl) {
    mgc_cli_error("keeper: cannot initialise libcurl");
    return -1;
  }
  size_t ulen = strlen(cl->base) + strlen(path) + 1;
  char *url = malloc(ulen);
  if(!url) {
    curl_easy_cleanup(curl);
    return -1;
  }
  snprintf(url, ulen, "%s%s", cl->base, path);
  struct curl_slist *h = NULL;
  int bad = add_header(&h, "Accept: application/json") ||
            (body && add_header(&h, "Content-Type: application/json"));
  char *auth = NULL;
  if(!bad && cl->token) {
    size_t alen = strlen(cl->token) + 32;
    auth = malloc(alen);
    if(auth)
      snprintf(auth, alen, "Authorization: Bearer %s", cl->token);
    bad = !auth || add_header(&h, auth);
  }
  long status = -1;
  if(bad) {
    mgc_cli_error("keeper at %s: out of memory", cl->base);
    goto done;
  }
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if(body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)strlen(body));
  }
  CURLcode cc = curl_easy_perform(curl);
  if(cc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  else
    mgc_cli_error("keeper at %s: %s", cl->base, curl_easy_strerror(cc));
done:
  curl_slist_free_all(h);
  if(auth) {
    OPENSSL_cleanse(auth, strlen(auth));
    free(auth);
  }
  free(url);
  curl_easy_cleanup(curl);
  return status;
}

/* Map an error answer to a message and an exit code. */
static int api_error(const char *what, long status, const struct body *b)
{
  const char *msg = NULL;
  json_t *o = b->buf ? json_loads(b->buf, 0, NULL) : NULL;
  json_t *m = json_object_get(json_object_get(o, "error"), "message");
  if(json_is_string(m))
    msg = json_string_value(m);
  mgc_cli_error("%s: HTTP %ld%s%s", what, status, msg ? ": " : "",
                msg ? msg : "");
  json_decref(o);
  if(status == 404)
    return MGCALL_E_NOT_FOUND;
  if(status == 401 || status == 403)
    return MGCALL_E_ACCESS_DENIED;
  if(status == 400 || status == 413)
    return MGCALL_E_USAGE;
  return MGCALL_E_HTTP;
}

/* "/calls/<percent-encoded id>" */
static char *call_path(const char *id)
{
  CURL *c = curl_easy_init();
  char *esc = c ? curl_easy_escape(c, id, 0) : NULL;
  char *p = NULL;
  if(esc) {
    size_t n = strlen(esc) + 8;
    p = malloc(n);
    if(p)
      snprintf(p, n, "/calls/%s", esc);
  }
  curl_free(esc);
  curl_easy_cleanup(c);
  return p;
}

static const struct option client_options[] = {
    {"keeper-url", required_argument, NULL, OPT_KEEPER_URL},
    {"api-token-file", required_argument, NULL, OPT_API_TOKEN_FILE},
    {"tenant-id", required_argument, NULL, OPT_TENANT},
    {"started-at", required_argument, NULL, OPT_STARTED_AT},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const char client_common_help[] =
    "  --keeper-url URL       the keeper's control API "
    "(default " CMD_KEEPER_DEFAULT_URL ",\n"
    "                         env MGCALL_KEEPER_URL)\n"
    "  --api-token-file F     bearer token for the control API\n";

static void help_client(const char *sub, FILE *out)
{
  if(!strcmp(sub, "add"))
    fputs("usage: mgcall keeper add ID [--tenant-id T] [--started-at "
          "RFC3339]\n"
          "       mgcall keeper add -   (stdin: one 'ID [TENANT]' a line;\n"
          "                              blank and # lines skipped)\n\n"
          "Register calls with the keeper; returns once they are durable.\n"
          "Exit 0 also when a call was already tracked.\n\n"
          "  --tenant-id T          the call's tenant (default: the keeper's\n"
          "                         credential tenant)\n"
          "  --started-at TIME      when the call started (RFC 3339): the\n"
          "                         first keepAlive is then due at\n"
          "                         started-at + interval\n",
          out);
  else if(!strcmp(sub, "remove"))
    fputs("usage: mgcall keeper remove ID\n\n"
          "Stop keeping a call alive (state ended, reason removed; the\n"
          "cleanup hooks run).  Exit 4 when the call is not tracked.\n\n",
          out);
  else if(!strcmp(sub, "fleet"))
    fputs("usage: mgcall keeper fleet [--json]\n\n"
          "Show the keepers sharing the store (fleet mode, --store\n"
          "postgresql://...): node id, control API, heartbeat age, shards\n"
          "and calls held.  With a SQLite store, the one keeper.\n\n"
          "  --json                 the API's JSON ({\"members\": [...],\n"
          "                         \"shards\": N})\n",
          out);
  else if(!strcmp(sub, "list"))
    fputs("usage: mgcall keeper list [--json]\n\n"
          "Show every call the keeper knows (live, ended and lost, page\n"
          "after page of GET /calls): state, last success, next keepAlive,\n"
          "time left before the deadline, consecutive failures.  Control\n"
          "characters in ids, tenants and errors are shown escaped.\n\n"
          "  --json                 {\"calls\": [...]}: every page's calls\n",
          out);
  else
    fputs("usage: mgcall keeper show ID [--json]\n\n"
          "Show one call.  Exit 4 when it is not tracked.\n\n"
          "  --json                 the API's JSON object\n",
          out);
  fputs(client_common_help, out);
}

/* "3s ago" / "in 12s" / "-" relative to now, from an RFC 3339 value. */
static const char *rel(json_t *v, int64_t now, char *buf, size_t n)
{
  int64_t ms;
  if(!json_is_string(v) || mgcx_rfc3339_parse(json_string_value(v), &ms))
    return "-";
  int64_t d = ms - now;
  int64_t a = d < 0 ? -d : d;
  char amount[24];
  if(a < 10000)
    snprintf(amount, sizeof(amount), "%.1fs", (double)a / 1000.0);
  else if(a < 120000)
    snprintf(amount, sizeof(amount), "%llds", (long long)(a / 1000));
  else if(a < 7200000)
    snprintf(amount, sizeof(amount), "%lldm", (long long)(a / 60000));
  else
    snprintf(amount, sizeof(amount), "%lldh", (long long)(a / 3600000));
  if(d < 0)
    snprintf(buf, n, "%s ago", amount);
  else
    snprintf(buf, n, "in %s", amount);
  return buf;
}

static const char *str(json_t *o, const char *key, const char *dflt)
{
  json_t *v = json_object_get(o, key);
  return json_is_string(v) ? json_string_value(v) : dflt;
}

static int64_t now_wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int by_id(const void *a, const void *b)
{
  json_t *const *x = a, *const *y = b;
  return strcmp(str(*x, "callId", ""), str(*y, "callId", ""));
}

static void print_table(json_t *calls)
{
  int64_t now = now_wall_ms();
  size_t n = json_array_size(calls);
  json_t **v = calloc(n ? n : 1, sizeof(*v));
  if(!v)
    return;
  for(size_t i = 0; i < n; i++)
    v[i] = json_array_get(calls, i);
  qsort(v, n, sizeof(*v), by_id);
  printf("%-38s %-12s %-8s %-11s %-11s %-11s %-4s %s\n", "CALL ID", "TENANT",
         "STATE", "LAST OK", "NEXT", "DEADLINE", "FAIL", "REASON/ERROR");
  for(size_t i = 0; i < n; i++) {
    char a[48], b[48], c[48];
    char id[4 * 256 + 1], tenant[4 * 256 + 1], state[64], why[1024];
    json_t *o = v[i];
    const char *reason = str(o, "reason", NULL);
    const char *error = str(o, "lastError", NULL);
    /* every string from the keeper is escaped: nothing reaches the
     * terminal as a control sequence */
    mgcx_escape_text(str(o, "callId", "?"), id, sizeof(id));
    mgcx_escape_text(str(o, "tenantId", "-"), tenant, sizeof(tenant));
    mgcx_escape_text(str(o, "state", "?"), state, sizeof(state));
    mgcx_escape_text(reason ? reason : error ? error : "", why, sizeof(why));
    printf("%-38s %-12s %-8s %-11s %-11s %-11s %-4lld %s\n", id, tenant, state,
           rel(json_object_get(o, "lastSuccess"), now, a, sizeof(a)),
           rel(json_object_get(o, "nextDue"), now, b, sizeof(b)),
           rel(json_object_get(o, "deadline"), now, c, sizeof(c)),
           (long long)json_integer_value(
               json_object_get(o, "consecutiveFailures")),
           why);
  }
  free(v);
}

static void print_fleet(json_t *o)
{
  json_t *members = json_object_get(o, "members");
  printf("%-24s %-28s %-10s %-7s %s\n", "NODE", "API", "HEARTBEAT", "SHARDS",
         "CALLS");
  for(size_t i = 0; i < json_array_size(members); i++) {
    json_t *m = json_array_get(members, i);
    printf("%-24s %-28s %-10lld %-7lld %lld%s\n", str(m, "nodeId", "?"),
           str(m, "apiUrl", "-"),
           (long long)json_integer_value(json_object_get(m, "heartbeatAgeMs")),
           (long long)json_integer_value(json_object_get(m, "shards")),
           (long long)json_integer_value(json_object_get(m, "calls")),
           json_is_true(json_object_get(m, "self")) ? " (this node)" : "");
  }
  printf("%lld shards\n",
         (long long)json_integer_value(json_object_get(o, "shards")));
}

static void print_one(json_t *o)
{
  static const char *const keys[] = {"callId",
                                     "tenantId",
                                     "state",
                                     "reason",
                                     "added",
                                     "startedAt",
                                     "lastSuccess",
                                     "nextDue",
                                     "deadline",
                                     "ended",
                                     "consecutiveFailures",
                                     "lastError"};
  for(size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    json_t *v = json_object_get(o, keys[i]);
    char text[4 * 1024 + 1];
    if(json_is_string(v))
      printf("%-20s %s\n", keys[i],
             mgcx_escape_text(json_string_value(v), text, sizeof(text)));
    else if(json_is_integer(v))
      printf("%-20s %lld\n", keys[i], (long long)json_integer_value(v));
    else
      printf("%-20s -\n", keys[i]);
  }
}

/* Bulk registration from stdin. */
static int add_stdin(const struct client *cl)
{
  char line[1024];
  json_t *chunk = json_array();
  size_t created = 0, existing = 0, lineno = 0;
  int rc = MGCALL_OK;
  for(;;) {
    int eof = !fgets(line, sizeof(line), stdin);
    if(!eof) {
      lineno++;
      if(!strchr(line, '\n') && !feof(stdin)) {
        rc = mgc_cli_usage_error("keeper add", "stdin line %zu: too long",
                                 lineno);
        break;
      }
      char *p = line + strspn(line, " \t");
      p[strcspn(p, "\r\n")] = '\0';
      if(!*p || *p == '#')
        continue;
      char *id = strtok(p, " \t");
      char *tenant = strtok(NULL, " \t");
      char *extra = strtok(NULL, " \t");
      if(extra) {
        rc = mgc_cli_usage_error("keeper add",
                                 "stdin line %zu: want 'ID [TENANT]'", lineno);
        break;
      }
      json_t *o = json_pack("{s:s}", "callId", id);
      if(tenant)
        json_object_set_new(o, "tenantId", json_string(tenant));
      json_array_append_new(chunk, o);
    }
    if(json_array_size(chunk) &&
       (eof || json_array_size(chunk) >= BULK_CHUNK)) {
      char *body = json_dumps(chunk, JSON_COMPACT);
      struct body b = {0};
      long st = body ? request(cl, "POST", "/calls", body, &b) : -1;
      free(body);
      if(st == 200 || st == 201) {
        json_t *r = json_loads(b.buf ? b.buf : "", 0, NULL);
        created += (size_t)json_integer_value(json_object_get(r, "created"));
        existing += (size_t)json_integer_value(json_object_get(r, "existing"));
        json_decref(r);
      }
      else
        rc = st < 0 ? MGCALL_E_NETWORK : api_error("keeper add", st, &b);
      free(b.buf);
      json_array_clear(chunk);
      if(rc)
        break;
    }
    if(eof)
      break;
  }
  json_decref(chunk);
  if(!rc)
    fprintf(stderr, "added %zu, already tracked %zu\n", created, existing);
  return rc;
}

/* GET /calls page after page (SPEC 4a), then the table or one JSON
 * {"calls": [...]} of them all. */
static int list_all(const struct client *cl, int as_json)
{
  json_t *all = json_array();
  char *after = NULL; /* percent-encoded cursor */
  int rc = all ? MGCALL_OK : MGCALL_E_INTERNAL;
  for(size_t pages = 0; !rc; pages++) {
    char path[64 + 3 * 256 + 16];
    snprintf(path, sizeof(path), "/calls?limit=10000%s%s",
             after ? "&after=" : "", after ? after : "");
    curl_free(after);
    after = NULL;
    struct body b = {0};
    long st = request(cl, "GET", path, NULL, &b);
    /* 503 busy: the keeper sheds page building under load; retry a few
     * times, 0.2 s, 0.4 s ... 3.2 s apart */
    for(unsigned try = 0; st == 503 && try < 5; try++) {
      free(b.buf);
      memset(&b, 0, sizeof(b));
      struct timespec pause = {0, (long)(200000000L << try)};
      while(pause.tv_nsec >= 1000000000L) {
        pause.tv_sec++;
        pause.tv_nsec -= 1000000000L;
      }
      nanosleep(&pause, NULL);
      st = request(cl, "GET", path, NULL, &b);
    }
    json_t *o = st == 200 ? json_loads(b.buf ? b.buf : "", 0, NULL) : NULL;
    json_t *calls = json_object_get(o, "calls");
    json_t *next = json_object_get(o, "next");
    if(st != 200)
      rc = st < 0 ? MGCALL_E_NETWORK : api_error("keeper list", st, &b);
    else if(!json_is_array(calls) ||
            (next && !json_is_null(next) && !json_is_string(next))) {
      mgc_cli_error("keeper list: the keeper's answer is not a page of "
                    "calls");
      rc = MGCALL_E_HTTP;
    }
    else if(json_array_extend(all, calls))
      rc = MGCALL_E_INTERNAL;
    else if(json_is_string(next)) {
      const char *cursor = json_string_value(next);
      CURL *c = strlen(cursor) <= 256 ? curl_easy_init() : NULL;
      after = c ? curl_easy_escape(c, cursor, 0) : NULL;
      curl_easy_cleanup(c);
      if(!after || pages > 100000) { /* every page moves on: bounded */
        mgc_cli_error("keeper list: a bad cursor from the keeper");
        rc = MGCALL_E_HTTP;
      }
    }
    json_decref(o);
    free(b.buf);
    if(!after)
      break;
  }
  curl_free(after);
  if(!rc) {
    if(as_json) {
      json_t *o = json_pack("{s:O}", "calls", all);
      char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
      if(text)
        printf("%s\n", text);
      else
        rc = MGCALL_E_INTERNAL;
      free(text);
      json_decref(o);
    }
    else
      print_table(all);
  }
  json_decref(all);
  return rc;
}

int cmd_keeper_client(const char *sub, int argc, char **argv)
{
  struct client cl = {getenv("MGCALL_KEEPER_URL"), NULL};
  const char *tenant = NULL, *started = NULL;
  char *base = NULL;
  int as_json = 0, opt, rc = MGCALL_OK;
  char usage_name[32];
  snprintf(usage_name, sizeof(usage_name), "keeper %s", sub);
  optind = 1;
  opterr = 0;
  while((opt = getopt_long(argc, argv, ":h", client_options, NULL)) != -1) {
    switch(opt) {
    case OPT_KEEPER_URL:
      cl.base = optarg;
      break;
    case OPT_API_TOKEN_FILE:
      free(cl.token);
      cl.token = NULL;
      if((rc = cmd_keeper_read_token(optarg, &cl.token, "--api-token-file")))
        goto out;
      break;
    case OPT_TENANT:
    case OPT_STARTED_AT:
      if(strcmp(sub, "add")) {
        rc = mgc_cli_usage_error(usage_name, "unknown option '%s'",
                                 argv[optind - 1]);
        goto out;
      }
      if(opt == OPT_TENANT)
        tenant = optarg;
      else
        started = optarg;
      break;
    case OPT_JSON:
      if(strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "fleet")) {
        rc = mgc_cli_usage_error(usage_name, "unknown option '--json'");
        goto out;
      }
      as_json = 1;
      break;
    case 'h':
    case OPT_HELP:
      help_client(sub, stdout);
      goto out;
    case ':':
      rc = mgc_cli_usage_error(usage_name, "option '%s' needs a value",
                               argv[optind - 1]);
      goto out;
    default:
      rc = mgc_cli_usage_error(usage_name, "unknown option '%s'",
                               argv[optind - 1]);
      goto out;
    }
  }
  int want_id = strcmp(sub, "list") && strcmp(sub, "fleet");
  const char *id = NULL;
  if(want_id) {
    if(optind >= argc) {
      rc = mgc_cli_usage_error(usage_name, "a call id is needed");
      goto out;
    }
    id = argv[optind++];
    if(!*id) {
      rc = mgc_cli_usage_error(usage_name, "empty call id");
      goto out;
    }
  }
  if(optind < argc) {
    rc = mgc_cli_usage_error(usage_name, "unexpected argument '%s'",
                             argv[optind]);
    goto out;
  }
  if(!cl.base || !*cl.base)
    cl.base = CMD_KEEPER_DEFAULT_URL;
  base = strdup(cl.base);
  if(!base) {
    rc = MGCALL_E_INTERNAL;
    goto out;
  }
  for(size_t n = strlen(base); n && base[n - 1] == '/'; n--)
    base[n - 1] = '\0';
  cl.base = base;
  struct body b = {0}; /* main() initialised libcurl */
  long st;
  if(!strcmp(sub, "add") && !strcmp(id, "-")) {
    if(tenant || started) {
      rc = mgc_cli_usage_error(usage_name, "with 'add -' give the tenant "
                                           "per line");
      goto done;
    }
    rc = add_stdin(&cl);
  }
  else if(!strcmp(sub, "add")) {
    int64_t ms;
    if(started && mgcx_rfc3339_parse(started, &ms)) {
      rc = mgc_cli_usage_error(usage_name,
                               "--started-at '%s': want RFC 3339 such as "
                               "2026-01-31T12:00:00Z",
                               started);
      goto done;
    }
    json_t *o = json_pack("{s:s}", "callId", id);
    if(tenant)
      json_object_set_new(o, "tenantId", json_string(tenant));
    if(started)
      json_object_set_new(o, "startedAt", json_string(started));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    st = body ? request(&cl, "POST", "/calls", body, &b) : -1;
    free(body);
    if(st == 201)
      fprintf(stderr, "added %s\n", id);
    else if(st == 200)
      fprintf(stderr, "%s is already tracked\n", id);
    else
      rc = st < 0 ? MGCALL_E_NETWORK : api_error("keeper add", st, &b);
  }
  else if(!strcmp(sub, "remove")) {
    char *path = call_path(id);
    st = path ? request(&cl, "DELETE", path, NULL, &b) : -1;
    free(path);
    if(st != 204)
      rc = st < 0 ? MGCALL_E_NETWORK : api_error("keeper remove", st, &b);
  }
  else if(!id && strcmp(sub, "fleet"))
    rc = list_all(&cl, as_json);
  else {
    char *path = id ? call_path(id) : strdup("/fleet");
    st = path ? request(&cl, "GET", path, NULL, &b) : -1;
    free(path);
    if(st != 200)
      rc = st < 0 ? MGCALL_E_NETWORK : api_error(usage_name, st, &b);
    else if(as_json)
      fputs(b.buf ? b.buf : "", stdout);
    else {
      json_t *o = json_loads(b.buf ? b.buf : "", 0, NULL);
      if(!o) {
        mgc_cli_error("%s: the keeper's answer is not JSON", usage_name);
        rc = MGCALL_E_HTTP;
      }
      else if(!id)
        print_fleet(o);
      else
        print_one(o);
      json_decref(o);
    }
  }
done:
  free(b.buf);
out:
  free(base);
  if(cl.token) {
    OPENSSL_cleanse(cl.token, strlen(cl.token));
    free(cl.token);
  }
  return rc;
}
