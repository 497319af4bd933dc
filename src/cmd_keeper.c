/* SPDX-License-Identifier: MIT */
/* cmd_keeper.c - 'mgcall keeper': `run` (the daemon, keeper/keeper.c) and
 * the control-API clients `add`, `remove`, `list`, `show` (libcurl). */
#include "auth_opts.h"
#include "cli.h"
#include "duration.h"
#include "escape.h"
#include "mgcx.h"
#include "keeper/keeper.h"
#include "keeper/lease.h"
#include "keeper/pg.h"
#include "keeper/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_KEEPER_URL "http://127.0.0.1:8787"
#define MAX_RESPONSE (256u * 1024 * 1024)
#define BULK_CHUNK 5000

static void help_main(FILE *out)
{
  fputs("usage: mgcall keeper run    [OPTIONS]\n"
        "       mgcall keeper add    ID [--tenant-id T] [--started-at "
        "RFC3339]\n"
        "       mgcall keeper add    -          (ids from stdin, one a line)\n"
        "       mgcall keeper remove ID\n"
        "       mgcall keeper list   [--json]\n"
        "       mgcall keeper show   ID [--json]\n"
        "       mgcall keeper fleet  [--json]   (the keepers sharing the "
        "store)\n\n"
        "Keep many Microsoft Graph calls alive on schedule: `run` is the\n"
        "daemon; the other commands talk to its control API at --keeper-url\n"
        "(default " DEFAULT_KEEPER_URL ", env MGCALL_KEEPER_URL).\n"
        "'mgcall keeper <command> --help' describes each command;\n"
        "docs/mgcall-keeper.md describes states, endpoints and metrics.\n",
        out);
}

/* ------------------------------------------------------------------ */
/* run                                                                 */
/* ------------------------------------------------------------------ */

enum {
  OPT_STORE = 0x100,
  OPT_LISTEN,
  OPT_INTERVAL,
  OPT_DEADLINE,
  OPT_JITTER,
  OPT_CONCURRENCY,
  OPT_MAX_CONCURRENCY,
  OPT_ON_ENDED,
  OPT_ON_ENDED_URL,
  OPT_API_TOKEN_FILE,
  OPT_NOTIFICATION_APP_ID,
  OPT_NOTIFICATION_OPENID_URL,
  OPT_LOG_FORMAT,
  OPT_HOOK_TIMEOUT,
  OPT_HOOK_RETRIES,
  OPT_STOP_TIMEOUT,
  OPT_RETENTION,
  OPT_VERBOSE,
  OPT_ALLOWED_HOST,
  OPT_NODE_ID,
  OPT_LEASE_TTL,
  OPT_HELP,
  /* clients */
  OPT_KEEPER_URL,
  OPT_TENANT,
  OPT_STARTED_AT,
  OPT_JSON,
};

static const struct option run_options[] = {
    {"store", required_argument, NULL, OPT_STORE},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"jitter", required_argument, NULL, OPT_JITTER},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"max-concurrency", required_argument, NULL, OPT_MAX_CONCURRENCY},
    {"on-ended", required_argument, NULL, OPT_ON_ENDED},
    {"on-ended-url", required_argument, NULL, OPT_ON_ENDED_URL},
    {"api-token-file", required_argument, NULL, OPT_API_TOKEN_FILE},
    {"notification-app-id", required_argument, NULL, OPT_NOTIFICATION_APP_ID},
    {"notification-openid-url", required_argument, NULL,
     OPT_NOTIFICATION_OPENID_URL},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT},
    {"hook-retries", required_argument, NULL, OPT_HOOK_RETRIES},
    {"stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT},
    {"retention", required_argument, NULL, OPT_RETENTION},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"allowed-host", required_argument, NULL, OPT_ALLOWED_HOST},
    {"node-id", required_argument, NULL, OPT_NODE_ID},
    {"lease-ttl", required_argument, NULL, OPT_LEASE_TTL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void help_run(FILE *out)
{
  fputs(
      "usage: mgcall keeper run [OPTIONS] [auth and endpoint options]\n\n"
      "Keep every registered call alive: a keepAlive at once, then every\n"
      "--interval (with jitter) after the last success; failures are retried\n"
      "with growing delays that always land before last success +\n"
      "--deadline.  Calls Graph answers 404 for end (cleanup hooks run).\n"
      "Registrations are durable in --store before they are acknowledged.\n\n"
      "  --store URL            sqlite:PATH (default\n"
      "                         sqlite:$XDG_STATE_HOME/mgcall/keeper.db), or\n"
      "                         postgresql://[user@]host[:port]/db[?...]:\n"
      "                         fleet mode, keepers share the calls (PG*\n"
      "                         variables and ~/.pgpass apply: keep the\n"
      "                         password out of the URL)\n"
      "  --node-id NAME         fleet member name (default: host name and a\n"
      "                         random suffix)\n"
      "  --lease-ttl DUR        fleet shard lease (default 30s, at least\n"
      "                         250ms)\n"
      "  --listen ADDR:PORT     control API (default 127.0.0.1:8787; port 0\n"
      "                         picks one and logs it)\n"
      "  --api-token-file F     bearer token the control API requires (needed\n"
      "                         when --listen is not loopback; 16 characters\n"
      "                         at least, no control characters)\n"
      "  --allowed-host NAME    a host name clients may use in Host/Origin\n"
      "                         besides the listen address (and localhost on\n"
      "                         loopback); repeatable.  Others get 403\n"
      "                         (DNS rebinding, browser requests)\n"
      "  --notification-app-id ID[,ID...]  POST /notifications requires\n"
      "                         Graph's signed bearer JWT for one of these\n"
      "                         app ids (or the --api-token-file token)\n"
      "  --notification-openid-url URL  where its keys are published\n"
      "                         (default https://api.aps.skype.com/v1/\n"
      "                         .well-known/OpenIdConfiguration)\n"
      "  --interval DUR         keepAlive interval (default 15m)\n"
      "  --deadline DUR         Graph's inactivity limit (default 45m)\n"
      "  --jitter PCT           spread each interval by +-PCT% (default 10)\n"
      "  --max-concurrency N    requests in flight at most (default 1000);\n"
      "                         below it the keeper keeps as many in flight\n"
      "                         as the schedule needs at the latency it\n"
      "                         sees (plus headroom, at least 8), and fewer\n"
      "                         while Graph answers 429/503\n"
      "  --concurrency N        a fixed number in flight instead (1..10000)\n"
      "  --on-ended CMD         run CMD (no shell; words split on blanks,\n"
      "                         '...' and \"...\" quote, \\ escapes) when a\n"
      "                         call ends, with MGCALL_CALL_ID,\n"
      "                         MGCALL_TENANT_ID, MGCALL_REASON (not-found,\n"
      "                         terminated, removed, lost), MGCALL_EVENT_ID\n"
      "  --on-ended-url URL     POST {\"callId\",\"tenantId\",\"reason\","
      "\"eventId\"}\n"
      "                         there\n"
      "  --hook-timeout DUR     per hook attempt (default 30s)\n"
      "  --hook-retries N       retries of a failed hook (default 3)\n"
      "  --stop-timeout DUR     at exit, run due hooks for at most DUR\n"
      "                         (default 20s); the rest stay in the store\n"
      "  --retention DUR        purge ended calls and finished hooks older\n"
      "                         than DUR from the store (default 7d)\n"
      "  --log-format FMT       text (default) or json\n"
      "  -v, --verbose          also log every keepAlive\n\n"
      "Signals: SIGTERM/SIGINT stop taking work, finish in-flight requests,\n"
      "flush and exit 0; SIGHUP reloads the credentials.\n\n",
      out);
  fputs(mgc_auth_opts_help, out);
}

/* Auth options seen on the command line, replayed on SIGHUP. */
struct seen_opt {
  int opt;
  char *arg;
};

struct run_ctx {
  struct seen_opt *seen;
  size_t nseen;
  struct mgc_auth_opts ao;
  int ao_live;
};

struct client_handle {
  mgcall_credential *cred;
};

static int make_client(void *ud, mgcall_client **client, void **handle,
                       char *errbuf, size_t errlen)
{
  struct run_ctx *rc = ud;
  if(rc->ao_live)
    mgc_auth_opts_release(&rc->ao);
  mgc_auth_opts_init(&rc->ao);
  rc->ao.cmd = "keeper run";
  rc->ao_live = 1;
  for(size_t i = 0; i < rc->nseen; i++)
    if(mgc_auth_opts_handle(&rc->ao, rc->seen[i].opt, rc->seen[i].arg) < 0) {
      snprintf(errbuf, errlen, "bad authentication option");
      return MGCALL_E_USAGE;
    }
  mgcall_config cfg;
  mgcall_config_init(&cfg);
  mgcall_credential *cred = NULL;
  int r = mgc_auth_opts_finish(&rc->ao, &cfg, &cred, errbuf, errlen);
  if(r)
    return r;
  cfg.credential = cred;
  cfg.retries = 0; /* the keeper schedules its own retries */
  r = mgcall_client_new(&cfg, client, errbuf, errlen);
  if(r) {
    mgcall_credential_free(cred);
    return r;
  }
  *handle = cred;
  return MGCALL_OK;
}

static void free_client(void *ud, mgcall_client *client, void *handle)
{
  (void)ud;
  mgcall_client_free(client);
  mgcall_credential_free(handle);
}

/* Read a secret (the API token) from path: first line, trimmed. */
static int read_secret(const char *path, char **out, const char *what)
{
  FILE *f = fopen(path, "r");
  if(!f) {
    mgc_cli_error("%s '%s': %s", what, path, strerror(errno));
    return MGCALL_E_USAGE;
  }
  struct stat sb;
  if(!fstat(fileno(f), &sb) && (sb.st_mode & 0004))
    mgc_cli_error("warning: %s '%s' is readable by everyone", what, path);
  char buf[4097];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  size_t line = 0; /* the first line, without its end */
  while(line < n && buf[line] != '\n' && buf[line] != '\r')
    line++;
  buf[line] = '\0';
  const char *bad = NULL;
  if(n >= sizeof(buf) - 1)
    bad = "longer than 4096 bytes";
  else if(!line)
    bad = "empty";
  else if(memchr(buf, '\0', line))
    bad = "contains a NUL byte";
  else
    for(size_t i = 0; i < line && !bad; i++)
      if((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
        bad = "contains a control character";
  if(!bad && line < 16)
    bad = "shorter than 16 characters";
  if(bad) {
    OPENSSL_cleanse(buf, sizeof(buf));
    mgc_cli_error("%s '%s': %s", what, path, bad);
    return MGCALL_E_USAGE;
  }
  *out = strdup(buf);
  OPENSSL_cleanse(buf, sizeof(buf));
  return *out ? MGCALL_OK : MGCALL_E_INTERNAL;
}

static int parse_dur(const char *opt, const char *v, int64_t *ms)
{
  uint64_t u;
  if(mgc__duration_parse(v, &u) || u == 0)
    return mgc_cli_usage_error("keeper run",
                               "%s '%s': want a duration such as 250ms, 3s, "
                               "15m, 1h",
                               opt, v);
  *ms = (int64_t)u;
  return 0;
}

static int parse_num(const char *opt, const char *v, long lo, long hi,
                     long *out)
{
  if(mgcx_parse_long(v, lo, hi, out))
    return mgc_cli_usage_error("keeper run", "%s '%s': want %ld..%ld", opt, v,
                               lo, hi);
  return 0;
}

static int cmd_run(int argc, char **argv)
{
  struct keeper_opts o;
  memset(&o, 0, sizeof(o));
  o.core.sched.interval_ms = 15 * 60 * 1000;
  o.core.sched.deadline_ms = 45 * 60 * 1000;
  o.core.sched.jitter_pct = 10;
  o.core.hooks.retries = 3;
  o.concurrency = 0; /* sized by demand */
  struct run_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  char *api_token = NULL, *store_url = NULL;
  const char **allowed = calloc((size_t)argc + 1, sizeof(*allowed));
  size_t nallowed = 0;
  int verbose = 0;
  enum klog_format logfmt = KLOG_TEXT;
  struct option *table = mgc_auth_opts_merge(run_options);
  ctx.seen = calloc((size_t)argc + 1, sizeof(*ctx.seen));
  if(!table || !ctx.seen || !allowed) {
    free(table);
    free(ctx.seen);
    free(allowed);
    mgc_cli_error("out of memory");
    return MGCALL_E_INTERNAL;
  }
  struct mgc_auth_opts probe; /* validates auth options as they come */
  mgc_auth_opts_init(&probe);
  probe.cmd = "keeper run";
  int opt, rc = MGCALL_OK;
  long n;
  optind = 1;
  opterr = 0;
  while((opt = getopt_long(argc, argv, ":hv", table, NULL)) != -1) {
    int r = mgc_auth_opts_handle(&probe, opt, optarg);
    if(r < 0) {
      rc = MGCALL_E_USAGE;
      goto out;
    }
    if(r > 0) {
      ctx.seen[ctx.nseen].opt = opt;
      ctx.seen[ctx.nseen++].arg = optarg;
      continue;
    }
    switch(opt) {
    case OPT_STORE: /* a copy; a password in argv is masked (ps) */
      free(store_url);
      if(!(store_url = strdup(optarg))) {
        rc = MGCALL_E_INTERNAL;
        goto out;
      }
      if(kpg_mask_password(optarg))
        fprintf(stderr, "mgcall: warning: --store carries a password: use "
                        "~/.pgpass or PGPASSWORD instead (it was visible in "
                        "the process list until now)\n");
      o.core.store_url = store_url;
      break;
    case OPT_NODE_ID:
      if(!*optarg || strlen(optarg) > 100) {
        mgc_cli_error("--node-id: want 1 to 100 characters");
        rc = MGCALL_E_USAGE;
        goto out;
      }
      o.node_id = optarg;
      break;
    case OPT_LEASE_TTL:
      if((rc = parse_dur("--lease-ttl", optarg, &o.lease_ttl_ms)))
        goto out;
      if(o.lease_ttl_ms < KLEASE_MIN_TTL_MS) {
        mgc_cli_error("--lease-ttl: at least 250ms");
        rc = MGCALL_E_USAGE;
        goto out;
      }
      break;
    case OPT_LISTEN:
      o.listen = optarg;
      break;
    case OPT_INTERVAL:
      if((rc = parse_dur("--interval", optarg, &o.core.sched.interval_ms)))
        goto out;
      break;
    case OPT_DEADLINE:
      if((rc = parse_dur("--deadline", optarg, &o.core.sched.deadline_ms)))
        goto out;
      break;
    case OPT_JITTER:
      if((rc = parse_num("--jitter", optarg, 0, 50, &n)))
        goto out;
      o.core.sched.jitter_pct = (unsigned)n;
      break;
    case OPT_CONCURRENCY:
      if((rc = parse_num("--concurrency", optarg, 1, 10000, &n)))
        goto out;
      o.concurrency = (unsigned)n;
      break;
    case OPT_MAX_CONCURRENCY:
      if((rc = parse_num("--max-concurrency", optarg, 1, 10000, &n)))
        goto out;
      o.max_concurrency = (unsigned)n;
      break;
    case OPT_ON_ENDED:
      o.core.hooks.command = optarg;
      break;
    case OPT_ON_ENDED_URL:
      o.core.hooks.url = optarg;
      break;
    case OPT_API_TOKEN_FILE:
      free(api_token);
      api_token = NULL;
      if((rc = read_secret(optarg, &api_token, "--api-token-file")))
        goto out;
      break;
    case OPT_NOTIFICATION_APP_ID:
      o.notification_app_ids = optarg;
      break;
    case OPT_NOTIFICATION_OPENID_URL:
      o.notification_openid_url = optarg;
      break;
    case OPT_LOG_FORMAT:
      if(!strcmp(optarg, "text"))
        logfmt = KLOG_TEXT;
      else if(!strcmp(optarg, "json"))
        logfmt = KLOG_JSON;
      else {
        rc = mgc_cli_usage_error(
            "keeper run", "--log-format '%s': want text or json", optarg);
        goto out;
      }
      break;
    case OPT_HOOK_TIMEOUT: {
      int64_t ms = 0;
      if((rc = parse_dur("--hook-timeout", optarg, &ms)))
        goto out;
      o.core.hooks.timeout_ms = (long)ms;
      break;
    }
    case OPT_HOOK_RETRIES:
      if((rc = parse_num("--hook-retries", optarg, 0, 10, &n)))
        goto out;
      o.core.hooks.retries = (int)n;
      break;
    case OPT_STOP_TIMEOUT: {
      int64_t ms = 0;
      if((rc = parse_dur("--stop-timeout", optarg, &ms)))
        goto out;
      o.core.hooks.stop_timeout_ms = (long)ms;
      break;
    }
    case OPT_RETENTION:
      if((rc = parse_dur("--retention", optarg, &o.core.retention_ms)))
        goto out;
      break;
    case 'v':
    case OPT_VERBOSE:
      verbose = 1;
      break;
    case OPT_ALLOWED_HOST:
      if(!*optarg || strpbrk(optarg, ":/[]@ \t")) {
        rc = mgc_cli_usage_error("keeper run",
                                 "--allowed-host '%s': want a host name "
                                 "without a port",
                                 optarg);
        goto out;
      }
      allowed[nallowed++] = optarg;
      break;
    case 'h':
    case OPT_HELP:
      help_run(stdout);
      goto out;
    case ':':
      rc = mgc_cli_usage_error("keeper run", "option '%s' needs a value",
                               argv[optind - 1]);
      goto out;
    default:
      rc = mgc_cli_usage_error("keeper run", "unknown option '%s'",
                               argv[optind - 1]);
      goto out;
    }
  }
  if(optind < argc) {
    rc = mgc_cli_usage_error("keeper run", "unexpected argument '%s'",
                             argv[optind]);
    goto out;
  }
  if(o.core.sched.interval_ms >= o.core.sched.deadline_ms) {
    rc = mgc_cli_usage_error("keeper run",
                             "--interval must be shorter than --deadline");
    goto out;
  }
  if(o.concurrency && o.max_concurrency && o.concurrency > o.max_concurrency) {
    rc = mgc_cli_usage_error("keeper run",
                             "--concurrency is above --max-concurrency");
    goto out;
  }
  klog_setup(logfmt, verbose ? KLOG_DEBUG : KLOG_INFO);
  o.api_token = api_token;
  o.allowed_hosts = allowed;
  o.core.hooks.cacert = probe.cacert; /* --cacert also for --on-ended-url */
  o.make_client = make_client;
  o.free_client = free_client;
  o.ud = &ctx;
  struct mgc_err err = {0}; /* main() initialised the library */
  rc = keeper_run(&o, &err);
  if(rc)
    mgc_cli_error("keeper: %s", err.msg);
out:
  mgc_auth_opts_release(&probe);
  if(ctx.ao_live)
    mgc_auth_opts_release(&ctx.ao);
  if(api_token) {
    OPENSSL_cleanse(api_token, strlen(api_token));
    free(api_token);
  }
  free(ctx.seen);
  free(allowed);
  free(table);
  if(store_url) {
    memset(store_url, 0, strlen(store_url));
    free(store_url);
  }
  return rc;
}

/* ------------------------------------------------------------------ */
/* control-API clients                                                 */
/* ------------------------------------------------------------------ */

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
    "(default " DEFAULT_KEEPER_URL ",\n"
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
    mgc__escape_text(str(o, "callId", "?"), id, sizeof(id));
    mgc__escape_text(str(o, "tenantId", "-"), tenant, sizeof(tenant));
    mgc__escape_text(str(o, "state", "?"), state, sizeof(state));
    mgc__escape_text(reason ? reason : error ? error : "", why, sizeof(why));
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
             mgc__escape_text(json_string_value(v), text, sizeof(text)));
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

static int cmd_client(const char *sub, int argc, char **argv)
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
      if((rc = read_secret(optarg, &cl.token, "--api-token-file")))
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
    cl.base = DEFAULT_KEEPER_URL;
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

int cmd_keeper(int argc, char **argv)
{
  if(argc < 2) {
    help_main(stderr);
    return MGCALL_E_USAGE;
  }
  const char *sub = argv[1];
  if(!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
    help_main(stdout);
    return MGCALL_OK;
  }
  if(!strcmp(sub, "run"))
    return cmd_run(argc - 1, argv + 1);
  if(!strcmp(sub, "add") || !strcmp(sub, "remove") || !strcmp(sub, "list") ||
     !strcmp(sub, "show") || !strcmp(sub, "fleet"))
    return cmd_client(sub, argc - 1, argv + 1);
  return mgc_cli_usage_error("keeper", "'%s' is not a keeper command", sub);
}
