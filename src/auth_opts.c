/* SPDX-License-Identifier: MIT */
/* auth_opts.c - the shared authentication and endpoint options. */
#include "auth_opts.h"

#include "cli.h"
#include "mgcx.h"

#include <errno.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const struct option mgc_auth_long_options[] = {
    {"access-token-file", required_argument, NULL, MGC_OPT_ACCESS_TOKEN_FILE},
    {"tenant-id", required_argument, NULL, MGC_OPT_TENANT_ID},
    {"client-id", required_argument, NULL, MGC_OPT_CLIENT_ID},
    {"client-secret-file", required_argument, NULL, MGC_OPT_CLIENT_SECRET_FILE},
    {"certificate", required_argument, NULL, MGC_OPT_CERTIFICATE},
    {"certificate-password-file", required_argument, NULL,
     MGC_OPT_CERTIFICATE_PASSWORD_FILE},
    {"send-certificate-chain", no_argument, NULL,
     MGC_OPT_SEND_CERTIFICATE_CHAIN},
    {"assertion-alg", required_argument, NULL, MGC_OPT_ASSERTION_ALG},
    {"managed-identity", no_argument, NULL, MGC_OPT_MANAGED_IDENTITY},
    {"imds-url", required_argument, NULL, MGC_OPT_IMDS_URL},
    {"scope", required_argument, NULL, MGC_OPT_SCOPE},
    {"no-token-cache", no_argument, NULL, MGC_OPT_NO_TOKEN_CACHE},
    {"environment", required_argument, NULL, MGC_OPT_ENVIRONMENT},
    {"graph-url", required_argument, NULL, MGC_OPT_GRAPH_URL},
    {"authority-url", required_argument, NULL, MGC_OPT_AUTHORITY_URL},
    {"cacert", required_argument, NULL, MGC_OPT_CACERT},
    {"connect-timeout", required_argument, NULL, MGC_OPT_CONNECT_TIMEOUT},
    {"timeout", required_argument, NULL, MGC_OPT_TIMEOUT},
    {"proxy", required_argument, NULL, MGC_OPT_PROXY},
    /* Exact names so that getopt_long does not take them as abbreviations of
     * the -file options: secrets on argv are refused, not read as paths. */
    {"client-secret", required_argument, NULL, MGC_OPT_REFUSED_SECRET},
    {"access-token", required_argument, NULL, MGC_OPT_REFUSED_SECRET},
    {"certificate-password", required_argument, NULL, MGC_OPT_REFUSED_SECRET},
    {NULL, 0, NULL, 0},
};

const char mgc_auth_opts_help[] =
    "authentication (app-only; the first source given wins, command line\n"
    "before environment: access token, client secret, certificate, managed\n"
    "identity):\n"
    "  --access-token-file FILE   use the bearer token in FILE (env\n"
    "                             MGCALL_ACCESS_TOKEN)\n"
    "  --tenant-id ID             tenant (env AZURE_TENANT_ID)\n"
    "  --client-id ID             application (client) id, or the client id\n"
    "                             of a user-assigned identity (env\n"
    "                             AZURE_CLIENT_ID)\n"
    "  --client-secret-file FILE  client secret in FILE (env\n"
    "                             AZURE_CLIENT_SECRET)\n"
    "  --certificate FILE         PEM (certificate + key) or PKCS#12 file "
    "(env\n"
    "                             AZURE_CLIENT_CERTIFICATE_PATH)\n"
    "  --certificate-password-file FILE\n"
    "                             password of the PKCS#12 file or PEM key "
    "(env\n"
    "                             AZURE_CLIENT_CERTIFICATE_PASSWORD)\n"
    "  --send-certificate-chain   send x5c (env\n"
    "                             AZURE_CLIENT_SEND_CERTIFICATE_CHAIN=1)\n"
    "  --assertion-alg ALG        PS256 (default) or RS256\n"
    "  --managed-identity         use the Azure managed identity (IMDS, or "
    "App\n"
    "                             Service with IDENTITY_ENDPOINT and\n"
    "                             IDENTITY_HEADER); --client-id for a\n"
    "                             user-assigned one\n"
    "  --imds-url URL             IMDS base (default http://169.254.169.254)\n"
    "  --scope SCOPE              token scope (default <Graph resource of the\n"
    "                             environment>/.default)\n"
    "  --no-token-cache           do not read or write\n"
    "                             $XDG_CACHE_HOME/mgcall/tokens.json\n"
    "endpoints:\n"
    "  --environment NAME         Global (default), USGov, USGovDoD, China\n"
    "  --graph-url URL            Graph root (env MGCALL_GRAPH_URL)\n"
    "  --authority-url URL        login root (env MGCALL_AUTHORITY_URL,\n"
    "                             AZURE_AUTHORITY_HOST)\n"
    "  --cacert FILE              also trust the CA certificates in FILE "
    "(PEM)\n"
    "  --connect-timeout S        connect timeout in seconds (default 10)\n"
    "  --timeout S                per-request timeout in seconds (default "
    "100)\n"
    "  --proxy URL                HTTP(S) proxy (default: https_proxy,\n"
    "                             no_proxy)\n";

void mgc_auth_opts_init(struct mgc_auth_opts *ao)
{
  memset(ao, 0, sizeof(*ao));
  ao->assertion_alg = MGCALL_ALG_PS256;
}

void mgc_auth_opts_release(struct mgc_auth_opts *ao)
{
  if(!ao)
    return;
  char **fields[] = {&ao->access_token_file,
                     &ao->tenant_id,
                     &ao->client_id,
                     &ao->client_secret_file,
                     &ao->certificate,
                     &ao->certificate_password_file,
                     &ao->imds_url,
                     &ao->scope,
                     &ao->environment,
                     &ao->graph_url,
                     &ao->authority_url,
                     &ao->cacert,
                     &ao->proxy,
                     &ao->r_graph_url,
                     &ao->r_authority_url};
  for(size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    free(*fields[i]);
    *fields[i] = NULL;
  }
}

struct option *mgc_auth_opts_merge(const struct option *own)
{
  size_t n = 0, m = 0;
  while(own && own[n].name)
    n++;
  while(mgc_auth_long_options[m].name)
    m++;
  struct option *all = calloc(n + m + 1, sizeof(*all));
  if(!all)
    return NULL;
  if(n)
    memcpy(all, own, n * sizeof(*all));
  memcpy(all + n, mgc_auth_long_options, (m + 1) * sizeof(*all));
  return all;
}

static const char *opt_name(int opt)
{
  for(size_t i = 0; mgc_auth_long_options[i].name; i++)
    if(mgc_auth_long_options[i].val == opt)
      return mgc_auth_long_options[i].name;
  return "?";
}

static int set_str(char **field, const char *value)
{
  char *copy = strdup(value);
  if(!copy)
    return -1;
  free(*field);
  *field = copy;
  return 0;
}

/* http:// or https:// with a host. */
static int url_ok(const char *s)
{
  const char *rest = NULL;
  if(!strncasecmp(s, "https://", 8))
    rest = s + 8;
  else if(!strncasecmp(s, "http://", 7))
    rest = s + 7;
  if(!rest || !*rest || *rest == '/')
    return 0;
  for(const char *p = s; *p; p++)
    if((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
      return 0;
  return 1;
}

/* Seconds: "30", or a duration ("30s", "2m", "1500ms" rounds up). */
static int seconds_of(const char *s, long *out)
{
  if(*s >= '0' && *s <= '9' && strspn(s, "0123456789") == strlen(s))
    return mgcx_parse_long(s, 1, 86400, out);
  uint64_t ms;
  if(mgcx_duration_parse(s, &ms) || ms == 0 || ms > 86400ULL * 1000)
    return -1;
  *out = (long)((ms + 999) / 1000);
  return 0;
}

static int usage(const struct mgc_auth_opts *ao, const char *fmt, ...)
    MGCX_PRINTF(2, 3);
static int usage(const struct mgc_auth_opts *ao, const char *fmt, ...)
{
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  mgc_cli_usage_error(ao->cmd, "%s", msg);
  return -1;
}

int mgc_auth_opts_handle(struct mgc_auth_opts *ao, int opt, const char *arg)
{
  if(opt < MGC_OPT_ACCESS_TOKEN_FILE || opt >= MGC_OPT_AUTH_LAST)
    return 0;
  const char *name = opt_name(opt);
  char **field = NULL;
  switch(opt) {
  case MGC_OPT_REFUSED_SECRET:
    mgc_cli_usage_error(ao->cmd,
                        "secrets are not accepted on the command line (other "
                        "users can read it): use --access-token-file, "
                        "--client-secret-file, --certificate-password-file "
                        "or the environment");
    return -1;
  case MGC_OPT_SEND_CERTIFICATE_CHAIN:
    ao->send_certificate_chain = 1;
    return 1;
  case MGC_OPT_MANAGED_IDENTITY:
    ao->managed_identity = 1;
    return 1;
  case MGC_OPT_NO_TOKEN_CACHE:
    ao->no_token_cache = 1;
    return 1;
  case MGC_OPT_ASSERTION_ALG:
    if(!strcasecmp(arg, "PS256"))
      ao->assertion_alg = MGCALL_ALG_PS256;
    else if(!strcasecmp(arg, "RS256"))
      ao->assertion_alg = MGCALL_ALG_RS256;
    else
      return usage(ao, "--%s: '%s' is not PS256 or RS256", name, arg);
    return 1;
  case MGC_OPT_CONNECT_TIMEOUT:
  case MGC_OPT_TIMEOUT: {
    long s;
    if(seconds_of(arg, &s))
      return usage(ao, "--%s: '%s' is not a number of seconds (1..86400)", name,
                   arg);
    if(opt == MGC_OPT_TIMEOUT)
      ao->timeout_s = s;
    else
      ao->connect_timeout_s = s;
    return 1;
  }
  case MGC_OPT_ENVIRONMENT:
    if(!mgcall_cloud_name(arg))
      return usage(ao,
                   "--%s: unknown environment '%s' (Global, USGov, "
                   "USGovDoD or China)",
                   name, arg);
    field = &ao->environment;
    break;
  case MGC_OPT_GRAPH_URL:
  case MGC_OPT_AUTHORITY_URL:
  case MGC_OPT_IMDS_URL:
  case MGC_OPT_PROXY:
    if(!url_ok(arg) && !(opt == MGC_OPT_PROXY && *arg && !strchr(arg, ' ')))
      return usage(ao, "--%s: '%s' is not an http:// or https:// URL", name,
                   arg);
    field = opt == MGC_OPT_GRAPH_URL       ? &ao->graph_url
            : opt == MGC_OPT_AUTHORITY_URL ? &ao->authority_url
            : opt == MGC_OPT_IMDS_URL      ? &ao->imds_url
                                           : &ao->proxy;
    break;
  case MGC_OPT_ACCESS_TOKEN_FILE:
    field = &ao->access_token_file;
    break;
  case MGC_OPT_TENANT_ID:
    field = &ao->tenant_id;
    break;
  case MGC_OPT_CLIENT_ID:
    field = &ao->client_id;
    break;
  case MGC_OPT_CLIENT_SECRET_FILE:
    field = &ao->client_secret_file;
    break;
  case MGC_OPT_CERTIFICATE:
    field = &ao->certificate;
    break;
  case MGC_OPT_CERTIFICATE_PASSWORD_FILE:
    field = &ao->certificate_password_file;
    break;
  case MGC_OPT_SCOPE:
    field = &ao->scope;
    break;
  case MGC_OPT_CACERT:
    field = &ao->cacert;
    break;
  default:
    return 0;
  }
  if(!arg || !*arg)
    return usage(ao, "--%s: empty value", name);
  if(set_str(field, arg)) {
    mgc_cli_error("out of memory");
    return -1;
  }
  return 1;
}

static const char *env(const char *name)
{
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

/* A URL without trailing slashes (malloc'd); host-only values get https://
 * (AZURE_AUTHORITY_HOST may be "login.microsoftonline.us"). */
static char *norm_url(const char *s)
{
  char *u = NULL;
  if(strstr(s, "://"))
    u = strdup(s);
  else if(asprintf(&u, "https://%s", s) < 0)
    u = NULL;
  if(u) {
    size_t n = strlen(u);
    while(n > 0 && u[n - 1] == '/')
      u[--n] = '\0';
  }
  return u;
}

static int fail(char *errbuf, size_t n, int code, const char *fmt, ...)
    MGCX_PRINTF(4, 5);
static int fail(char *errbuf, size_t n, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  if(errbuf && n)
    vsnprintf(errbuf, n, fmt, ap);
  va_end(ap);
  return code;
}

static void wipe_free(char *s)
{
  if(s) {
    OPENSSL_cleanse(s, strlen(s));
    free(s);
  }
}

/* Read a secret file named by option opt into *value. */
static int read_secret(const char *opt, const char *path, char **value,
                       char *errbuf, size_t n)
{
  char why[256];
  if(mgcx_file_read_secret(path, value, why, sizeof(why))) {
    if(errbuf && n)
      snprintf(errbuf, n, "%s %s: %s", opt, path, why);
    return MGCALL_E_AUTH;
  }
  return MGCALL_OK;
}

static int endpoints(struct mgc_auth_opts *ao, mgcall_config *cfg, char *errbuf,
                     size_t n)
{
  const char *graph = ao->graph_url ? ao->graph_url : env("MGCALL_GRAPH_URL");
  const char *authority = ao->authority_url ? ao->authority_url
                          : env("MGCALL_AUTHORITY_URL")
                              ? env("MGCALL_AUTHORITY_URL")
                              : env("AZURE_AUTHORITY_HOST");
  if(graph && !ao->r_graph_url) {
    if(!ao->graph_url && !url_ok(graph))
      return fail(errbuf, n, MGCALL_E_USAGE,
                  "MGCALL_GRAPH_URL: '%s' is not an http:// or https:// "
                  "URL",
                  graph);
    if(!(ao->r_graph_url = norm_url(graph)))
      return fail(errbuf, n, MGCALL_E_INTERNAL, "out of memory");
  }
  if(authority && !ao->r_authority_url) {
    if(!(ao->r_authority_url = norm_url(authority)))
      return fail(errbuf, n, MGCALL_E_INTERNAL, "out of memory");
    if(!url_ok(ao->r_authority_url))
      return fail(errbuf, n, MGCALL_E_USAGE,
                  "authority URL '%s' is not an http:// or https:// URL",
                  authority);
  }
  if(ao->cacert && access(ao->cacert, R_OK) != 0)
    return fail(errbuf, n, MGCALL_E_USAGE, "--cacert %s: %s", ao->cacert,
                strerror(errno));
  if(ao->environment)
    cfg->environment = mgcall_cloud_name(ao->environment);
  if(ao->r_graph_url)
    cfg->graph_url = ao->r_graph_url;
  if(ao->r_authority_url)
    cfg->authority_url = ao->r_authority_url;
  if(ao->scope)
    cfg->scope = ao->scope;
  if(ao->cacert)
    cfg->cacert = ao->cacert;
  if(ao->proxy)
    cfg->proxy = ao->proxy;
  if(ao->connect_timeout_s)
    cfg->connect_timeout_s = ao->connect_timeout_s;
  if(ao->timeout_s)
    cfg->timeout_s = ao->timeout_s;
  if(ao->no_token_cache)
    cfg->token_cache = 0;
  return MGCALL_OK;
}

int mgc_auth_opts_finish(struct mgc_auth_opts *ao, mgcall_config *cfg,
                         mgcall_credential **cred, char *errbuf, size_t n)
{
  if(errbuf && n)
    errbuf[0] = '\0';
  int rc = endpoints(ao, cfg, errbuf, n);
  if(rc || !cred)
    return rc;
  *cred = NULL;

  mgcall_credential_opts co;
  mgcall_credential_opts_init(&co);
  co.tenant_id = ao->tenant_id;
  co.client_id = ao->client_id;
  co.alg = (enum mgcall_assertion_alg)ao->assertion_alg;
  co.send_chain = ao->send_certificate_chain;
  co.imds_url = ao->imds_url;
  co.managed_identity = ao->managed_identity;
  co.certificate_path = ao->certificate;

  char *token = NULL, *secret = NULL, *password = NULL;
  if(ao->access_token_file)
    rc = read_secret("--access-token-file", ao->access_token_file, &token,
                     errbuf, n);
  else if(ao->client_secret_file)
    rc = read_secret("--client-secret-file", ao->client_secret_file, &secret,
                     errbuf, n);
  if(!rc && ao->certificate_password_file)
    rc = read_secret("--certificate-password-file",
                     ao->certificate_password_file, &password, errbuf, n);
  if(rc)
    goto out;
  co.access_token = token;
  co.client_secret = secret;
  co.certificate_password = password;

  /* The environment fills in what the options leave out, and names the
   * credential when the options name none. */
  rc = mgcall_credential_new(&co, MGCALL_CRED_USE_ENV, cred, errbuf, n);
  if(rc == MGCALL_E_AUTH && token) /* a token file comes first: refused */
    rc = fail(errbuf, n, MGCALL_E_AUTH,
              "--access-token-file %s: not a bearer token (spaces or control "
              "characters inside)",
              ao->access_token_file);
  else if(rc == MGCALL_E_USAGE)
    rc = MGCALL_E_AUTH;
out:
  wipe_free(token);
  wipe_free(secret);
  wipe_free(password);
  return rc;
}
