/* SPDX-License-Identifier: MIT */
/* cmd_emulator.c - 'mgcall emulator': command-line front end of emulator/. */
#include "cli.h"
#include "mgcx.h"
#include "emulator.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
  fputs(
      "usage: mgcall emulator [--listen ADDR:PORT] [--tls-cert F --tls-key F]\n"
      "                       [--inactivity-timeout DUR] [--client "
      "ID:SECRET]...\n"
      "                       [--client-cert ID:CERT.pem]... "
      "[--managed-identity ID]...\n"
      "                       [--roles ROLE,...] [--token-lifetime DUR]\n"
      "                       [--fault-rate P] [--fault-status 429,503,...]\n"
      "                       [--latency DUR] [--throttle N/s] [--seed N]\n"
      "                       [--record FILE] [--state FILE]\n"
      "                       [--notification-key PEM] "
      "[--unsigned-callbacks]\n"
      "                       [--token-key PEM]\n"
      "                       [--max-concurrent-streams N]\n"
      "                       [--max-requests-per-connection N] "
      "[--no-http2]\n"
      "\n"
      "A local Microsoft Graph calls + identity service with the real call\n"
      "lifecycle, over HTTP/1.1 and HTTP/2 (h2 by ALPN with TLS, h2c with\n"
      "prior knowledge without).  Calls end after --inactivity-timeout\n"
      "without keepAlive.\n"
      "Prints 'mgcall emulator: listening on URL' when ready; stops on\n"
      "SIGINT/SIGTERM.\n"
      "\n"
      "options:\n"
      "  --listen ADDR:PORT        address to serve (default 127.0.0.1:8443;\n"
      "                            [::1]:PORT for IPv6, port 0 picks a free "
      "one)\n"
      "  --tls-cert FILE           serve HTTPS with this PEM certificate "
      "(chain)\n"
      "  --tls-key FILE            ... and this PEM private key\n"
      "  --inactivity-timeout DUR  end calls without keepAlive for DUR (45m)\n"
      "  --establish-delay DUR     establishing -> established after DUR "
      "(500ms)\n"
      "  --retention DUR           keep ended calls visible for DUR (10m)\n"
      "  --client ID:SECRET        register a client with a secret; ID:@FILE "
      "reads\n"
      "                            the secret from FILE (repeatable).  With "
      "no\n"
      "                            --client/--client-cert any client id and "
      "any\n"
      "                            non-empty secret are accepted\n"
      "  --client-cert ID:CERT.pem register a client certificate (repeatable)\n"
      "  --managed-identity ID[@TENANT]  a managed identity for the IMDS "
      "endpoint\n"
      "                            (repeatable; the first is the default)\n"
      "  --roles R1,R2             roles in issued tokens "
      "(Calls.Initiate.All)\n"
      "  --token-lifetime DUR      access token lifetime (1h)\n"
      "  --fault-rate P            answer a fraction P (0.1 or 10%) of Graph\n"
      "                            requests with a fault status\n"
      "  --fault-status LIST       statuses to inject (503); 429/503 carry\n"
      "                            Retry-After; also reset, slow, goaway,\n"
      "                            rst_stream\n"
      "  --fault-scope graph|token|all  where faults apply (graph)\n"
      "  --retry-after SECONDS     Retry-After of injected 429/503 (1)\n"
      "  --latency DUR             delay every response by DUR\n"
      "  --latency-jitter PCT      vary each delay uniformly by +-PCT% (0)\n"
      "  --throttle N/s            per-application request rate on Graph;\n"
      "                            beyond it 429 + Retry-After\n"
      "  --seed N                  seed of the fault generator (default: a\n"
      "                            random one; printed on stderr at start)\n"
      "  --record FILE             append one JSON line per request (secrets\n"
      "                            redacted)\n"
      "  --state FILE              keep calls (and the signing key) across\n"
      "                            restarts\n"
      "  --callback-cacert FILE    extra CA for https callbackUris\n"
      "  --notification-key PEM    sign callbacks with this RSA key (default:\n"
      "                            a new key each run); its keys are at\n"
      "                            /v1/.well-known/OpenIdConfiguration and\n"
      "                            /v1/keys\n"
      "  --token-key PEM           sign access tokens with this RSA key\n"
      "                            (default: a new key each run, or the\n"
      "                            one kept by --state)\n"
      "  --unsigned-callbacks      send callbacks without Authorization\n"
      "  --notification-reorder    send a call's established notification\n"
      "                            before its establishing one (a fault)\n"
      "  --threads N               HTTP worker threads (8)\n"
      "  --max-calls N             live + retained calls held at most "
      "(4194304)\n"
      "  --max-concurrent-streams N  HTTP/2 streams a connection may have "
      "open\n"
      "                            (SETTINGS_MAX_CONCURRENT_STREAMS, 100)\n"
      "  --max-requests-per-connection N  after N requests: a graceful GOAWAY\n"
      "                            (HTTP/2) or Connection: close (HTTP/1.1)\n"
      "  --no-http2                HTTP/1.1 only, as an older server\n"
      "  --help                    show this help\n"
      "\n"
      "See docs/mgcall-emulator.md for the endpoints.\n",
      out);
}

enum {
  OPT_LISTEN = 256,
  OPT_TLS_CERT,
  OPT_TLS_KEY,
  OPT_INACTIVITY,
  OPT_ESTABLISH,
  OPT_RETENTION,
  OPT_CLIENT,
  OPT_CLIENT_CERT,
  OPT_MANAGED,
  OPT_ROLES,
  OPT_LIFETIME,
  OPT_FAULT_RATE,
  OPT_FAULT_STATUS,
  OPT_FAULT_SCOPE,
  OPT_RETRY_AFTER,
  OPT_LATENCY,
  OPT_LATENCY_JITTER,
  OPT_THROTTLE,
  OPT_RECORD,
  OPT_STATE,
  OPT_CALLBACK_CACERT,
  OPT_NOTIFICATION_KEY,
  OPT_TOKEN_KEY,
  OPT_UNSIGNED_CALLBACKS,
  OPT_NOTIFICATION_REORDER,
  OPT_THREADS,
  OPT_MAX_CALLS,
  OPT_MAX_STREAMS,
  OPT_MAX_REQUESTS,
  OPT_NO_HTTP2,
  OPT_SEED,
  OPT_HELP
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"inactivity-timeout", required_argument, NULL, OPT_INACTIVITY},
    {"establish-delay", required_argument, NULL, OPT_ESTABLISH},
    {"retention", required_argument, NULL, OPT_RETENTION},
    {"client", required_argument, NULL, OPT_CLIENT},
    {"client-cert", required_argument, NULL, OPT_CLIENT_CERT},
    {"managed-identity", required_argument, NULL, OPT_MANAGED},
    {"roles", required_argument, NULL, OPT_ROLES},
    {"token-lifetime", required_argument, NULL, OPT_LIFETIME},
    {"fault-rate", required_argument, NULL, OPT_FAULT_RATE},
    {"fault-status", required_argument, NULL, OPT_FAULT_STATUS},
    {"fault-scope", required_argument, NULL, OPT_FAULT_SCOPE},
    {"retry-after", required_argument, NULL, OPT_RETRY_AFTER},
    {"latency", required_argument, NULL, OPT_LATENCY},
    {"latency-jitter", required_argument, NULL, OPT_LATENCY_JITTER},
    {"throttle", required_argument, NULL, OPT_THROTTLE},
    {"record", required_argument, NULL, OPT_RECORD},
    {"state", required_argument, NULL, OPT_STATE},
    {"callback-cacert", required_argument, NULL, OPT_CALLBACK_CACERT},
    {"notification-key", required_argument, NULL, OPT_NOTIFICATION_KEY},
    {"token-key", required_argument, NULL, OPT_TOKEN_KEY},
    {"unsigned-callbacks", no_argument, NULL, OPT_UNSIGNED_CALLBACKS},
    {"notification-reorder", no_argument, NULL, OPT_NOTIFICATION_REORDER},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-calls", required_argument, NULL, OPT_MAX_CALLS},
    {"max-concurrent-streams", required_argument, NULL, OPT_MAX_STREAMS},
    {"max-requests-per-connection", required_argument, NULL, OPT_MAX_REQUESTS},
    {"no-http2", no_argument, NULL, OPT_NO_HTTP2},
    {"seed", required_argument, NULL, OPT_SEED},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0}};

static int duration_ms(const char *opt, const char *arg, int64_t min_ms,
                       int64_t *out)
{
  uint64_t ms;
  if(mgcx_duration_parse(arg, &ms) || (int64_t)ms < min_ms)
    return mgc_cli_usage_error("emulator",
                               "%s: '%s' is not a valid duration (like 250ms, "
                               "2s, 15m, 1h)",
                               opt, arg);
  *out = (int64_t)ms;
  return 0;
}

static int number(const char *opt, const char *arg, unsigned long min,
                  unsigned long max, unsigned long *out)
{
  long v;
  if(max > (unsigned long)LONG_MAX || *arg == '-' ||
     mgcx_parse_long(arg, (long)min, (long)max, &v))
    return mgc_cli_usage_error(
        "emulator", "%s: expected a number from %lu to %lu", opt, min, max);
  *out = (unsigned long)v;
  return 0;
}

static int add(const char **list, size_t *n, const char *opt, const char *v)
{
  if(*n == EMU_MAX_REGISTRATIONS)
    return mgc_cli_usage_error("emulator", "%s: at most %d", opt,
                               EMU_MAX_REGISTRATIONS);
  list[(*n)++] = v;
  return 0;
}

int cmd_emulator(int argc, char **argv)
{
  struct emu_options o;
  emu_options_default(&o);
  int c;
  opterr = 0;
  optind = 1;
  while((c = getopt_long(argc, argv, "+", long_opts, NULL)) != -1) {
    int64_t ms = 0;
    unsigned long n = 0;
    int rc = 0;
    switch(c) {
    case OPT_HELP:
      usage(stdout);
      return MGCALL_OK;
    case OPT_LISTEN:
      o.listen = optarg;
      break;
    case OPT_TLS_CERT:
      o.tls_cert = optarg;
      break;
    case OPT_TLS_KEY:
      o.tls_key = optarg;
      break;
    case OPT_INACTIVITY:
      rc = duration_ms("--inactivity-timeout", optarg, 1, &o.inactivity_ms);
      break;
    case OPT_ESTABLISH:
      rc = duration_ms("--establish-delay", optarg, 0, &o.establish_ms);
      break;
    case OPT_RETENTION:
      rc = duration_ms("--retention", optarg, 0, &o.retention_ms);
      break;
    case OPT_CLIENT:
      rc = add(o.clients, &o.nclients, "--client", optarg);
      break;
    case OPT_CLIENT_CERT:
      rc = add(o.client_certs, &o.ncerts, "--client-cert", optarg);
      break;
    case OPT_MANAGED:
      rc = add(o.managed, &o.nmanaged, "--managed-identity", optarg);
      break;
    case OPT_ROLES:
      o.roles = optarg;
      break;
    case OPT_LIFETIME:
      rc = duration_ms("--token-lifetime", optarg, 1000, &ms);
      o.token_lifetime_s = ms / 1000;
      break;
    case OPT_FAULT_RATE:
      if(emu_parse_rate(optarg, &o.faults.rate))
        rc = mgc_cli_usage_error("emulator",
                                 "--fault-rate: expected 0..1 or 0%%..100%%");
      break;
    case OPT_FAULT_STATUS:
      if(emu_parse_statuses(optarg, o.faults.statuses, EMU_FAULT_MAX_STATUSES,
                            &o.faults.nstatuses))
        rc = mgc_cli_usage_error("emulator",
                                 "--fault-status: expected statuses 400..599 "
                                 "separated by commas");
      break;
    case OPT_FAULT_SCOPE:
      if(emu_parse_scope(optarg, &o.faults.scope))
        rc = mgc_cli_usage_error("emulator",
                                 "--fault-scope: expected graph, token or "
                                 "all");
      break;
    case OPT_RETRY_AFTER:
      rc = number("--retry-after", optarg, 0, 3600, &n);
      o.faults.retry_after_s = (int)n;
      break;
    case OPT_LATENCY:
      rc = duration_ms("--latency", optarg, 0, &o.faults.latency_ms);
      if(!rc && o.faults.latency_ms > 600000)
        rc = mgc_cli_usage_error("emulator", "--latency: at most 10m");
      break;
    case OPT_SEED: {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(optarg, &end, 10);
      if(!*optarg || *end || errno || *optarg == '-')
        rc = mgc_cli_usage_error("emulator",
                                 "--seed: expected a number from 0 to "
                                 "18446744073709551615");
      o.faults.seed = (uint64_t)v;
      o.faults.have_seed = 1;
      break;
    }
    case OPT_LATENCY_JITTER:
      rc = number("--latency-jitter", optarg, 0, 100, &n);
      o.faults.latency_jitter_pct = (int)n;
      break;
    case OPT_THROTTLE:
      if(emu_parse_throttle(optarg, &o.faults.throttle_per_s))
        rc = mgc_cli_usage_error("emulator",
                                 "--throttle: expected N/s (or N/m, N/h)");
      break;
    case OPT_RECORD:
      o.record = optarg;
      break;
    case OPT_STATE:
      o.state = optarg;
      break;
    case OPT_CALLBACK_CACERT:
      o.callback_cacert = optarg;
      break;
    case OPT_NOTIFICATION_KEY:
      o.notification_key = optarg;
      break;
    case OPT_TOKEN_KEY:
      o.token_key = optarg;
      break;
    case OPT_UNSIGNED_CALLBACKS:
      o.unsigned_callbacks = 1;
      break;
    case OPT_NOTIFICATION_REORDER:
      o.notification_reorder = 1;
      break;
    case OPT_THREADS:
      rc = number("--threads", optarg, 1, 256, &n);
      o.threads = (unsigned)n;
      break;
    case OPT_MAX_CALLS:
      rc = number("--max-calls", optarg, 1, 64UL * 1024 * 1024, &n);
      o.max_calls = (uint32_t)n;
      break;
    case OPT_MAX_STREAMS:
      rc = number("--max-concurrent-streams", optarg, 1, 1000000, &n);
      o.max_concurrent_streams = (uint32_t)n;
      break;
    case OPT_MAX_REQUESTS:
      rc = number("--max-requests-per-connection", optarg, 1,
                  1000UL * 1000 * 1000, &n);
      o.max_requests_per_conn = n;
      break;
    case OPT_NO_HTTP2:
      o.no_http2 = 1;
      break;
    case ':':
      return mgc_cli_usage_error("emulator", "option '%s' needs a value",
                                 argv[optind - 1]);
    default:
      return mgc_cli_usage_error("emulator", "unknown option '%s'",
                                 argv[optind - 1]);
    }
    if(rc)
      return rc;
  }
  if(optind < argc)
    return mgc_cli_usage_error("emulator", "unexpected argument '%s'",
                               argv[optind]);
  if(!o.tls_cert != !o.tls_key)
    return mgc_cli_usage_error("emulator",
                               "--tls-cert and --tls-key go together");
  return emu_run(&o);
}
