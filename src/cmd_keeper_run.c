/* SPDX-License-Identifier: MIT */
/* cmd_keeper_run.c - 'mgcall keeper run': the daemon's options, its
 * credentials (replayed on SIGHUP) and the start of keeper/keeper.c. */
#include "cmd_keeper.h"

#include "auth_opts.h"
#include "cli.h"
#include "mgcx.h"
#include "keeper/keeper.h"
#include "keeper/log.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int parse_dur(const char *opt, const char *v, int64_t *ms)
{
  uint64_t u;
  if(mgcx_duration_parse(v, &u) || u == 0)
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

int cmd_keeper_run(int argc, char **argv)
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
      if(keeper_mask_store_password(optarg))
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
      if((rc = cmd_keeper_read_token(optarg, &api_token, "--api-token-file")))
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
  char why[512];
  rc = keeper_run(&o, why, sizeof(why)); /* main() initialised the library */
  if(rc)
    mgc_cli_error("keeper: %s", why);
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
