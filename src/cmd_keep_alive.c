/* SPDX-License-Identifier: MIT */
/* cmd_keep_alive.c - 'mgcall keep-alive': Invoke-MgKeepCommunicationCallAlive
 * as a Unix command (SPEC section 2).  Items come from --call-id, positional
 * ids and --input-object (in command-line order) or, when none is given and
 * stdin is not a terminal, from stdin one a line.  They are sent through one
 * batch (lib/batch.c) and reported in input order. */
#include "auth_opts.h"
#include "cli.h"
#include "input.h"
#include "mgcx.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "keep-alive"
#define MAX_PARALLEL 1000

enum {
  OPT_CALL_ID = 0x100,
  OPT_INPUT_OBJECT,
  OPT_PASS_THRU,
  OPT_RESPONSE_HEADERS,
  OPT_WHAT_IF,
  OPT_CONFIRM,
  OPT_PROGRESS,
  OPT_ON_ERROR,
  OPT_DEBUG,
  OPT_API_VERSION,
  OPT_OUTPUT,
  OPT_PARALLEL,
  OPT_RETRIES,
  OPT_RETRY_MAX_TIME,
  OPT_HELP
};

static const struct option own_options[] = {
    {"call-id", required_argument, NULL, OPT_CALL_ID},
    {"input-object", required_argument, NULL, OPT_INPUT_OBJECT},
    {"header", required_argument, NULL, 'H'},
    {"pass-thru", no_argument, NULL, OPT_PASS_THRU},
    {"response-headers", required_argument, NULL, OPT_RESPONSE_HEADERS},
    {"what-if", no_argument, NULL, OPT_WHAT_IF},
    {"confirm", no_argument, NULL, OPT_CONFIRM},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"on-error", required_argument, NULL, OPT_ON_ERROR},
    {"debug", no_argument, NULL, OPT_DEBUG},
    {"verbose", no_argument, NULL, 'v'},
    {"api-version", required_argument, NULL, OPT_API_VERSION},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"parallel", required_argument, NULL, OPT_PARALLEL},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"retry-max-time", required_argument, NULL, OPT_RETRY_MAX_TIME},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void help(FILE *out)
{
  fputs(
      "usage: mgcall keep-alive [OPTIONS] [CALL_ID ...]\n\n"
      "Send POST {graph}/{api-version}/communications/calls/{id}/keepAlive\n"
      "for each call, like Invoke-MgKeepCommunicationCallAlive.  With no id\n"
      "on the command line and stdin not a terminal, ids are read from stdin,\n"
      "one a line: a bare id or an identity object {\"CallId\": \"...\"}\n"
      "with an optional \"TenantId\" (the tenant whose token the call needs;\n"
      "default --tenant-id); blank lines and lines starting with # are\n"
      "skipped.\n\n"
      "  --call-id ID           a call id (repeatable; also positional; an id\n"
      "                         starting with '-' goes after '--')\n"
      "  --input-object JSON    an identity object {\"CallId\": \"...\"},\n"
      "                         optional \"TenantId\" (keys case-insensitive,\n"
      "                         other keys ignored)\n"
      "  -H, --header 'N: V'    add a request header (repeatable); CR, LF,\n"
      "                         NUL and Authorization/Host/Content-Length are\n"
      "                         refused\n"
      "  --pass-thru            print True for each successful call\n"
      "  --response-headers FILE\n"
      "                         append one JSON line per successful call:\n"
      "                         {\"callId\", \"status\", \"headers\"}\n"
      "  --what-if              print 'What if: POST <url>' per call; send\n"
      "                         nothing, acquire no token\n"
      "  --confirm              ask on the terminal before each call\n"
      "  --progress WHEN        auto (default: when stderr is a terminal),\n"
      "                         always or never; for more than one call\n"
      "  --on-error WHAT        continue (default) or stop at the first\n"
      "                         failure\n"
      "  --debug                HTTP request and response blocks to stderr,\n"
      "                         secrets replaced by [REDACTED]\n"
      "  -v, --verbose          one line per attempt to stderr\n"
      "  --api-version V        v1.0 (default) or beta\n"
      "  --output FORMAT        text (default) or json (one object a line:\n"
      "                         callId, ok, status, attempts, elapsedMs,\n"
      "                         requestId, clientRequestId, error)\n"
      "  --parallel N           requests in flight at once (default 16,\n"
      "                         1..1000)\n"
      "  --retries N            retries on 429/503/504 and connection\n"
      "                         failures (default 3, 0..10)\n"
      "  --retry-max-time S     bound on the time spent retrying one call\n"
      "                         (seconds, or a duration such as 2m)\n"
      "  --proxy URL            HTTP(S) proxy (default: https_proxy, "
      "no_proxy)\n"
      "  -h, --help             show this help\n"
      "\n",
      out);
  fputs(mgc_auth_opts_help, out);
  fputs("\nexit status: 0 all succeeded (or --what-if, or all declined), 1\n"
        "internal error, 2 usage error, 3 no credentials or refused, 4 call\n"
        "not found (ended), 5 access denied, 6 throttled or unavailable after\n"
        "retries, 7 network or TLS failure, 8 other HTTP error; in a batch,\n"
        "the code of the first failed call in input order (mgcall(1)).\n",
        out);
}

/* Where an item is: read, not yet handed to the batch; in the batch; done
 * (result kept until reported); declined at the --confirm prompt. */
enum item_state { ITEM_UNSENT = 0, ITEM_SENT, ITEM_DONE, ITEM_DECLINED };

/* One input item, in input order. */
struct item {
  char *call_id;   /* NULL for a malformed input line */
  char *tenant_id; /* the input object's TenantId, or NULL */
  char *bad;       /* malformed line: the message */
  enum item_state state;
  mgcall_result *res; /* when done, until reported (malloc'd) */
  int oom;            /* done, but no memory to keep the result */
};

/* The result of it, or an all-zero one (malformed line, out of memory). */
static const mgcall_result *result_of(const struct item *it)
{
  static const mgcall_result none;
  static const mgcall_result oom = {.code = MGCALL_E_INTERNAL,
                                    .error_message = "out of memory"};
  return it->res ? it->res : it->oom ? &oom : &none;
}

struct run {
  struct item *items;
  size_t n, cap;
  size_t next_add;   /* next item to hand to the batch */
  size_t next_print; /* next item to report */
  size_t done, failed;
  int pass_thru;
  int json;
  int stop_on_error;
  int stopping;
  int progress;
  int exit_code;
  FILE *headers_file;
  const char *headers_path;
  uint64_t last_bar_ms;
  mgcall_batch *batch;
  unsigned parallel;
  int feeding; /* on_done hands the next items to the batch */
  int auth_failed;
};

static int add_item(struct run *r, char *call_id, char *tenant_id, char *bad)
{
  if(r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    struct item *p = realloc(r->items, cap * sizeof(*p));
    if(!p)
      return -1;
    r->items = p;
    r->cap = cap;
  }
  struct item *it = &r->items[r->n++];
  memset(it, 0, sizeof(*it));
  it->call_id = call_id;
  it->tenant_id = tenant_id;
  it->bad = bad;
  return 0;
}

/* ---- output ---- */

static void clear_bar(struct run *r)
{
  if(r->progress)
    fputs("\r\033[K", stderr);
}

static void draw_bar(struct run *r, int final)
{
  if(!r->progress)
    return;
  uint64_t now = mgcx_now_ms();
  if(!final && now - r->last_bar_ms < 100)
    return;
  r->last_bar_ms = now;
  size_t total = r->n ? r->n : 1;
  int width = 30, fill = (int)(r->done * (size_t)width / total);
  char bar[64];
  for(int i = 0; i < width; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[width] = '\0';
  fprintf(stderr, "\r[%s] %zu/%zu, %zu failed", bar, r->done, r->n, r->failed);
  if(final)
    fputc('\n', stderr);
  fflush(stderr);
}

static void json_line(const struct item *it)
{
  const mgcall_result *res = result_of(it);
  json_t *o = json_object();
  json_object_set_new(o, "callId",
                      it->call_id ? json_string(it->call_id) : json_null());
  int ok = !it->bad && res->code == MGCALL_OK;
  json_object_set_new(o, "ok", json_boolean(ok));
  json_object_set_new(o, "status", json_integer(res->status));
  json_object_set_new(o, "attempts", json_integer(res->attempts));
  json_object_set_new(o, "elapsedMs", json_integer(res->elapsed_ms));
  json_object_set_new(o, "requestId",
                      res->request_id[0] ? json_string(res->request_id)
                                         : json_null());
  json_object_set_new(o, "clientRequestId",
                      res->client_request_id[0]
                          ? json_string(res->client_request_id)
                          : json_null());
  if(ok) {
    json_object_set_new(o, "error", json_null());
  }
  else {
    json_t *e = json_object();
    const char *code = it->bad              ? "E_USAGE"
                       : res->error_code[0] ? res->error_code
                                            : mgcall_code_name(res->code);
    json_object_set_new(e, "code", json_string(code ? code : "E_INTERNAL"));
    json_object_set_new(e, "message",
                        json_string(it->bad ? it->bad : res->error_message));
    json_object_set_new(o, "error", e);
  }
  char *s = json_dumps(o, JSON_COMPACT);
  if(s)
    puts(s);
  free(s);
  json_decref(o);
}

static const char *hint(const mgcall_result *res, char *buf, size_t n)
{
  if(res->status == 404) {
    return "; hint: the call has ended, clean up its resources";
  }
  if(res->status == 403) {
    snprintf(buf, n,
             "; hint: keepAlive needs the application permission "
             "Calls.Initiate.All or Calls.AccessMedia.All (delegated tokens "
             "are not supported); the token carries %s%s",
             res->roles[0] ? "the roles " : "no application roles", res->roles);
    return buf;
  }
  return "";
}

/* Copy of s for a terminal: control characters become '?'. */
static char *printable(const char *s)
{
  char *p = strdup(s ? s : "");
  for(char *q = p; q && *q; q++)
    if((unsigned char)*q < 0x20 || *q == 0x7f)
      *q = '?';
  return p;
}

static void error_line(const struct item *it)
{
  const mgcall_result *res = result_of(it);
  if(it->bad) {
    char *clean = printable(it->bad);
    mgc_cli_error("%s", clean ? clean : it->bad);
    free(clean);
    return;
  }
  char what[1536];
  if(res->status)
    snprintf(what, sizeof(what), "HTTP %ld%s%s%s%s%s", res->status,
             res->error_code[0] ? ", " : "", res->error_code,
             res->error_message[0] ? ": \"" : "", res->error_message,
             res->error_message[0] ? "\"" : "");
  else
    snprintf(what, sizeof(what), "%s: %s", mgcall_strerror(res->code),
             res->error_message[0] ? res->error_message : "no detail");
  char attempts[64] = "";
  if(res->attempts > 1)
    snprintf(attempts, sizeof(attempts), " after %d attempts", res->attempts);
  char hbuf[1024], line[4096];
  snprintf(line, sizeof(line),
           "call %s: %s%s, request-id %s, client-request-id %s, date %s%s",
           it->call_id, what, attempts,
           res->request_id[0] ? res->request_id : "-",
           res->client_request_id[0] ? res->client_request_id : "-",
           res->date[0] ? res->date : "-", hint(res, hbuf, sizeof(hbuf)));
  char *clean = printable(line);
  mgc_cli_error("%s", clean ? clean : line);
  free(clean);
}

static void write_headers(struct run *r, const struct item *it)
{
  if(!r->headers_file)
    return;
  char *h = mgcall_result_headers_json(result_of(it));
  json_t *hv = h ? json_loads(h, 0, NULL) : NULL;
  free(h);
  json_t *o = json_object();
  json_object_set_new(o, "callId", json_string(it->call_id));
  json_object_set_new(o, "status", json_integer(result_of(it)->status));
  json_object_set_new(o, "headers", hv ? hv : json_object());
  char *s = json_dumps(o, JSON_COMPACT);
  if(s) {
    fprintf(r->headers_file, "%s\n", s);
    fflush(r->headers_file);
  }
  free(s);
  json_decref(o);
}

static void report(struct run *r, struct item *it)
{
  int ok = !it->bad && result_of(it)->code == MGCALL_OK;
  if(!ok && !r->exit_code)
    r->exit_code = it->bad ? MGCALL_E_USAGE : result_of(it)->code;
  if(!ok) {
    fflush(stdout);
    clear_bar(r);
    error_line(it);
  }
  if(r->json)
    json_line(it);
  else if(ok && r->pass_thru)
    puts("True");
  if(ok)
    write_headers(r, it);
}

/* Report, in input order, every item whose turn has come. */
static void flush_ready(struct run *r)
{
  while(r->next_print < r->n) {
    struct item *it = &r->items[r->next_print];
    if(it->state == ITEM_DONE) {
      report(r, it);
      free(it->res);
      it->res = NULL;
    }
    else if(!(it->state == ITEM_UNSENT && r->stopping) &&
            it->state != ITEM_DECLINED)
      break;
    r->next_print++;
  }
  fflush(stdout);
}

static void feed(struct run *r, unsigned parallel);

static void on_done(void *ud, const char *call_id, void *item,
                    const mgcall_result *res)
{
  (void)call_id;
  struct run *r = ud;
  struct item *it = item;
  it->res = malloc(sizeof(*it->res));
  if(it->res)
    *it->res = *res;
  else
    it->oom = 1;
  it->state = ITEM_DONE;
  r->done++;
  if(res->code != MGCALL_OK) {
    r->failed++;
    if(r->stop_on_error)
      r->stopping = 1;
    /* No usable credentials for the credential's own tenant: every other
     * call would fail the same way (and ask the token endpoint again).  A
     * refusal for an item's TenantId fails the items of that tenant only. */
    if(res->code == MGCALL_E_AUTH && !it->tenant_id)
      r->stopping = r->auth_failed = 1;
  }
  if(r->feeding)
    feed(r, r->parallel); /* keeps the batch full; also reports */
  else
    flush_ready(r);
  draw_bar(r, 0);
}

/* A malformed line: done, and a failure (reported in input order). */
static void skip_bad(struct run *r, struct item *it)
{
  it->state = ITEM_DONE;
  r->done++;
  r->failed++;
  if(r->stop_on_error)
    r->stopping = 1;
}

/* Hand items to the batch, keeping it at most 2 x parallel deep. */
static void feed(struct run *r, unsigned parallel)
{
  while(!r->stopping && r->next_add < r->n &&
        mgcall_batch_pending(r->batch) < 2 * (size_t)parallel) {
    struct item *it = &r->items[r->next_add++];
    if(it->state == ITEM_DECLINED)
      continue;
    if(it->bad) {
      skip_bad(r, it);
      continue;
    }
    it->state = ITEM_SENT;
    if(mgcall_batch_add(r->batch, it->call_id, it->tenant_id, it)) {
      it->state = ITEM_DONE;
      it->oom = 1;
      r->done++;
      r->failed++;
    }
  }
  flush_ready(r);
}

/* ---- input ---- */

static int read_stdin(struct run *r)
{
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  unsigned long lineno = 0;
  while((len = getline(&line, &cap, stdin)) != -1) {
    lineno++;
    char *id = NULL, *tenant = NULL, why[512];
    enum mgc_input_kind k =
        mgc_input_parse_line(line, (size_t)len, &id, &tenant, why, sizeof(why));
    if(k == MGC_INPUT_SKIP)
      continue;
    char *bad = NULL;
    if(k == MGC_INPUT_ERROR) {
      size_t n = strlen(why) + 64;
      bad = malloc(n);
      if(!bad) { /* never go on without this line: it would not count */
        free(line);
        errno = ENOMEM;
        return -1;
      }
      snprintf(bad, n, "stdin line %lu: %s", lineno, why);
    }
    if(add_item(r, id, tenant, bad)) {
      free(id);
      free(tenant);
      free(bad);
      free(line);
      return -1;
    }
  }
  /* getline() also ends with -1 when it runs out of memory: only the end
   * of the input is a success (never exit 0 after dropping input) */
  int err = errno;
  int complete = feof(stdin) && !ferror(stdin);
  free(line);
  if(!complete) {
    errno = err ? err : EIO;
    return -1;
  }
  return 0;
}

/* ---- --confirm ---- */

/* 'y', 'n', 'a' or 'q' from the terminal. */
static int ask(FILE *tty, const char *call_id)
{
  for(;;) {
    fprintf(tty, "Keep call %s alive? [y]es [n]o [a]ll [q]uit: ", call_id);
    fflush(tty);
    char answer[64];
    if(!fgets(answer, sizeof(answer), tty))
      return 'q';
    char c = answer[0];
    if(c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if(c == 'y' || c == 'n' || c == 'a' || c == 'q')
      return c;
  }
}

static void log_line(void *ud, const char *line)
{
  struct run *r = ud;
  clear_bar(r);
  fprintf(stderr, "%s\n", line);
}

static void verbose_line(void *ud, const char *line)
{
  struct run *r = ud;
  clear_bar(r);
  char *p = printable(line);
  fprintf(stderr, "mgcall: %s\n", p ? p : line);
  free(p);
}

/* The command line, and what is made from it. */
struct opts {
  struct mgc_auth_opts ao;
  struct option *table;
  const char **headers; /* -H values (borrowed from argv) */
  size_t nheaders;
  int what_if, confirm, debug, verbose;
  int from_args; /* ids came from the command line (else stdin) */
  int help_shown;
  const char *progress, *api_version;
  long parallel, retries;
  uint64_t retry_max_ms;
  mgcall_credential *cred;
  mgcall_client *client;
  FILE *tty; /* --confirm */
};

/* Free what the steps made. */
static void release(struct opts *o, struct run *r)
{
  if(o->tty)
    fclose(o->tty);
  if(r->headers_file)
    fclose(r->headers_file);
  mgcall_batch_free(r->batch);
  mgcall_client_free(o->client);
  mgcall_credential_free(o->cred);
  for(size_t i = 0; i < r->n; i++) {
    free(r->items[i].call_id);
    free(r->items[i].tenant_id);
    free(r->items[i].bad);
    free(r->items[i].res);
  }
  free(r->items);
  free(o->headers);
  free(o->table);
  mgc_auth_opts_release(&o->ao);
}

/* Step 1: options and ids given on the command line. */
static int parse_options(struct opts *o, struct run *r, int argc, char **argv)
{
  int rc = MGCALL_OK;
  optind = 1;
  opterr = 0;
  int opt;
  while((opt = getopt_long(argc, argv, "-:H:vh", o->table, NULL)) != -1) {
    int a = mgc_auth_opts_handle(&o->ao, opt, optarg);
    if(a < 0) {
      return MGCALL_E_USAGE;
    }
    if(a > 0)
      continue;
    switch(opt) {
    case 1: /* a positional CALL_ID, in command-line order */
    case OPT_CALL_ID: {
      o->from_args = 1;
      if(!*optarg) {
        return mgc_cli_usage_error(CMD, "empty call id");
      }
      char *id = strdup(optarg);
      if(!id || add_item(r, id, NULL, NULL)) {
        free(id);
        return MGCALL_E_INTERNAL;
      }
      break;
    }
    case OPT_INPUT_OBJECT: {
      o->from_args = 1;
      char *id = NULL, *tenant = NULL, why[512];
      if(mgc_input_parse_object(optarg, strlen(optarg), &id, &tenant, why,
                                sizeof(why)) != MGC_INPUT_ID) {
        return mgc_cli_usage_error(CMD, "--input-object: %s", why);
      }
      if(add_item(r, id, tenant, NULL)) {
        free(id);
        free(tenant);
        return MGCALL_E_INTERNAL;
      }
      break;
    }
    case 'H': {
      char why[256];
      if(mgcall_header_check(optarg, why, sizeof(why))) {
        return mgc_cli_usage_error(CMD, "bad header: %s", why);
      }
      o->headers[o->nheaders++] = optarg;
      break;
    }
    case OPT_PASS_THRU:
      r->pass_thru = 1;
      break;
    case OPT_RESPONSE_HEADERS:
      r->headers_path = optarg;
      break;
    case OPT_WHAT_IF:
      o->what_if = 1;
      break;
    case OPT_CONFIRM:
      o->confirm = 1;
      break;
    case OPT_PROGRESS:
      if(strcmp(optarg, "auto") && strcmp(optarg, "always") &&
         strcmp(optarg, "never")) {
        return mgc_cli_usage_error(CMD,
                                   "--progress: want auto, always or never");
      }
      o->progress = optarg;
      break;
    case OPT_ON_ERROR:
      if(!strcmp(optarg, "stop"))
        r->stop_on_error = 1;
      else if(!strcmp(optarg, "continue"))
        r->stop_on_error = 0;
      else {
        return mgc_cli_usage_error(CMD, "--on-error: want continue or stop");
      }
      break;
    case OPT_DEBUG:
      o->debug = 1;
      break;
    case 'v':
      o->verbose = 1;
      break;
    case OPT_API_VERSION:
      if(strcmp(optarg, "v1.0") && strcmp(optarg, "beta")) {
        return mgc_cli_usage_error(CMD, "--api-version: want v1.0 or beta");
      }
      o->api_version = optarg;
      break;
    case OPT_OUTPUT:
      if(!strcmp(optarg, "json"))
        r->json = 1;
      else if(!strcmp(optarg, "text"))
        r->json = 0;
      else {
        return mgc_cli_usage_error(CMD, "--output: want text or json");
      }
      break;
    case OPT_PARALLEL:
      if(mgcx_parse_long(optarg, 1, MAX_PARALLEL, &o->parallel)) {
        return mgc_cli_usage_error(CMD, "--parallel: want 1..%d", MAX_PARALLEL);
      }
      break;
    case OPT_RETRIES:
      if(mgcx_parse_long(optarg, 0, MGCALL_RETRIES_MAX, &o->retries)) {
        return mgc_cli_usage_error(CMD, "--retries: want 0..%d",
                                   MGCALL_RETRIES_MAX);
      }
      break;
    case OPT_RETRY_MAX_TIME: {
      long s;
      if(!mgcx_parse_long(optarg, 0, 366L * 86400, &s))
        o->retry_max_ms = (uint64_t)s * 1000;
      else if(mgcx_duration_parse(optarg, &o->retry_max_ms)) {
        return mgc_cli_usage_error(CMD, "--retry-max-time: want seconds or a "
                                        "duration such as 90s or 2m");
      }
      break;
    }
    case 'h':
    case OPT_HELP:
      help(stdout);
      o->help_shown = 1;
      return MGCALL_OK;
    case ':':
      return mgc_cli_usage_error(CMD, "option '%s' needs a value",
                                 argv[optind - 1]);
    default:
      return mgc_cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  /* Ids after "--" (so an id may start with '-'). */
  for(int i = optind; i < argc; i++) {
    o->from_args = 1;
    if(!*argv[i]) {
      return mgc_cli_usage_error(CMD, "empty call id");
    }
    char *id = strdup(argv[i]);
    if(!id || add_item(r, id, NULL, NULL)) {
      free(id);
      return MGCALL_E_INTERNAL;
    }
  }
  return rc;
}

/* Step 2: ids from stdin when none was given; the terminal for --confirm. */
static int collect_input(struct opts *o, struct run *r)
{
  int rc = MGCALL_OK;
  if(!o->from_args) {
    if(isatty(STDIN_FILENO)) {
      return mgc_cli_usage_error(CMD, "no call id given (and stdin is a "
                                      "terminal)");
    }
    if(read_stdin(r)) {
      mgc_cli_error("reading stdin: %s", strerror(errno));
      return MGCALL_E_INTERNAL;
    }
  }
  if(o->confirm) {
    o->tty = fopen("/dev/tty", "r+");
    if(!o->tty) {
      return mgc_cli_usage_error(CMD, "--confirm needs a terminal");
    }
  }

  return rc;
}

/* Step 3: the credential and the client. */
static int make_client(struct opts *o, struct run *r)
{
  int rc;
  mgcall_config cfg;
  mgcall_config_init(&cfg);
  char msg[1024];
  rc = mgc_auth_opts_finish(&o->ao, &cfg, o->what_if ? NULL : &o->cred, msg,
                            sizeof(msg));
  if(rc) {
    mgc_cli_error("%s", msg);
    return rc;
  }
  cfg.api_version = o->api_version;
  cfg.retries = (int)o->retries;
  cfg.retry_max_time_s = (long)((o->retry_max_ms + 999) / 1000);
  cfg.headers = o->headers;
  cfg.credential = o->cred;
  cfg.log_userdata = r;
  if(o->debug)
    cfg.debug_cb = log_line;
  if(o->verbose)
    cfg.verbose_cb = verbose_line;
  rc = mgcall_client_new(&cfg, &o->client, msg, sizeof(msg));
  if(rc) {
    mgc_cli_error("%s", msg);
    return rc;
  }

  return rc;
}

/* Step 4 (--what-if): print what would be sent. */
static int what_if(struct opts *o, struct run *r)
{
  for(size_t i = 0; i < r->n; i++) {
    struct item *it = &r->items[i];
    if(it->bad) {
      error_line(it);
      if(!r->exit_code)
        r->exit_code = MGCALL_E_USAGE;
      continue;
    }
    char *url = mgcall_keep_alive_url(o->client, it->call_id);
    if(url)
      printf("What if: POST %s\n", url);
    free(url);
  }
  return r->exit_code;
}

/* Step 5: the --response-headers file. */
static int open_headers(struct run *r)
{
  if(r->headers_path) {
    int fd =
        open(r->headers_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    r->headers_file = fd >= 0 ? fdopen(fd, "a") : NULL;
    if(!r->headers_file) {
      mgc_cli_error("--response-headers: %s: %s", r->headers_path,
                    strerror(errno));
      if(fd >= 0)
        close(fd);
      return MGCALL_E_USAGE;
    }
  }
  return MGCALL_OK;
}

/* Step 6: send every item through one batch, report in input order. */
static int send_all(struct opts *o, struct run *r)
{
  int rc;
  r->progress = r->n > 1 && !o->confirm &&
                (!strcmp(o->progress, "always") ||
                 (!strcmp(o->progress, "auto") && isatty(STDERR_FILENO)));

  rc = mgcall_batch_new(o->client, o->confirm ? 1u : (unsigned)o->parallel,
                        on_done, r, &r->batch);
  if(rc) {
    mgc_cli_error("%s", mgcall_client_errmsg(o->client));
    return rc;
  }
  int all = 0;
  r->parallel = (unsigned)o->parallel;
  while(r->next_print < r->n) {
    if(o->confirm && !all && !r->stopping && r->next_add < r->n &&
       !mgcall_batch_pending(r->batch)) {
      /* Ask for the next item, then send it alone. */
      struct item *it = &r->items[r->next_add];
      if(!it->bad) {
        int a = ask(o->tty, it->call_id);
        if(a == 'n' || a == 'q') {
          it->state = ITEM_DECLINED;
          r->next_add++;
          if(a == 'q')
            for(size_t i = r->next_add; i < r->n; i++)
              r->items[i].state = ITEM_DECLINED;
          flush_ready(r);
          continue;
        }
        if(a == 'a')
          all = 1;
      }
      struct item *next = it;
      r->next_add++;
      if(next->bad) {
        skip_bad(r, next);
        flush_ready(r);
        continue;
      }
      next->state = ITEM_SENT;
      if(mgcall_batch_add(r->batch, next->call_id, next->tenant_id, next)) {
        return MGCALL_E_INTERNAL;
      }
    }
    else if(!o->confirm || all) {
      r->feeding = 1;
      feed(r, (unsigned)o->parallel);
    }
    if(r->next_print >= r->n)
      break;
    if(!mgcall_batch_pending(r->batch)) {
      if(r->stopping || r->next_add >= r->n) {
        /* Nothing in flight and nothing more to send. */
        r->stopping = 1;
        flush_ready(r);
        break;
      }
      continue;
    }
    int brc = mgcall_batch_run(r->batch, 1000);
    if(brc) {
      mgc_cli_error("internal error: %s", mgcall_client_errmsg(o->client));
      return MGCALL_E_INTERNAL;
    }
  }
  draw_bar(r, 1);
  if(r->auth_failed) {
    size_t unsent = 0;
    for(size_t i = 0; i < r->n; i++)
      unsent += r->items[i].state == ITEM_UNSENT;
    if(unsent)
      mgc_cli_error("%zu more call%s not sent: no usable credentials", unsent,
                    unsent == 1 ? "" : "s");
  }
  return r->exit_code;
}

int cmd_keep_alive(int argc, char **argv)
{
  struct opts o;
  memset(&o, 0, sizeof(o));
  mgc_auth_opts_init(&o.ao);
  o.ao.cmd = CMD;
  o.progress = "auto";
  o.api_version = "v1.0";
  o.parallel = 16;
  o.retries = MGCALL_RETRIES_DEFAULT;
  struct run r;
  memset(&r, 0, sizeof(r));
  o.headers = calloc((size_t)argc + 1, sizeof(char *));
  o.table = mgc_auth_opts_merge(own_options);
  int rc;
  if(!o.headers || !o.table) {
    mgc_cli_error("out of memory");
    rc = MGCALL_E_INTERNAL;
  }
  else if((rc = parse_options(&o, &r, argc, argv)) || o.help_shown)
    ;
  else if((rc = collect_input(&o, &r)) || (rc = make_client(&o, &r)))
    ;
  else if(o.what_if)
    rc = what_if(&o, &r);
  else if(!(rc = open_headers(&r)))
    rc = send_all(&o, &r);
  release(&o, &r);
  return rc;
}
