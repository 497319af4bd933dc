/* SPDX-License-Identifier: MIT */
/* cmd_token.c - 'mgcall token': acquire an app-only token with the options of
 * SPEC section 3 and print its facts like Get-MgContext (tenant, app id,
 * roles, audience, expiry), or the token itself with --raw. */
#include "auth_opts.h"
#include "cli.h"
#include "mgcx.h"

#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OPT_RAW = 0x100, OPT_JSON, OPT_DEBUG, OPT_FORCE_REFRESH, OPT_HELP };

static const struct option own_options[] = {
    {"raw", no_argument, NULL, OPT_RAW},
    {"json", no_argument, NULL, OPT_JSON},
    {"debug", no_argument, NULL, OPT_DEBUG},
    {"force-refresh", no_argument, NULL, OPT_FORCE_REFRESH},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void help(FILE *out)
{
  fputs("usage: mgcall token [--raw | --json] [--debug] [--force-refresh]\n"
        "                    [auth and endpoint options]\n\n"
        "Acquire an app-only access token for Microsoft Graph and print its\n"
        "facts like Get-MgContext: client (app) id, tenant, app name,\n"
        "audience, roles, expiry, credential type, environment.  No signature\n"
        "check is made: the facts are what the token says.\n\n"
        "  --raw              print only the token (for scripts)\n"
        "  --json             print the facts as one JSON object\n"
        "  --debug            HTTP request and response blocks to stderr,\n"
        "                     secrets and tokens replaced by [REDACTED]\n"
        "  --force-refresh    ignore cached tokens, ask the token endpoint\n\n",
        out);
  fputs(mgc_auth_opts_help, out);
  fputs("\nexit status: 0 ok, 2 usage error, 3 no credentials or refused, 6\n"
        "token endpoint throttled or unavailable, 7 network or TLS failure\n"
        "(mgcall(1) EXIT STATUS).\n",
        out);
}

static void debug_line(void *ud, const char *line)
{
  (void)ud;
  fprintf(stderr, "%s\n", line);
}

static const char *cred_type(const mgcall_credential *cred)
{
  switch(mgcall_credential_kind(cred)) {
  case MGCALL_CRED_ACCESS_TOKEN:
    return "UserProvidedAccessToken";
  case MGCALL_CRED_CLIENT_SECRET:
    return "ClientSecret";
  case MGCALL_CRED_CERTIFICATE:
    return "ClientCertificate";
  case MGCALL_CRED_MANAGED_IDENTITY:
    return "ManagedIdentity";
  }
  return "Unknown";
}

static void iso_time(time_t t, char *buf, size_t n)
{
  if(t > 0)
    mgcx_rfc3339_format((int64_t)t * 1000, 0, buf, n);
  else
    snprintf(buf, n, "unknown");
}

/* The roles (or scp) claim as a JSON array of strings. */
static json_t *claim_list(json_t *claims, const char *name)
{
  json_t *v = json_object_get(claims, name);
  json_t *out = json_array();
  if(!out)
    return NULL;
  if(json_is_array(v)) {
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
      if(json_is_string(e))
        json_array_append(out, e);
    }
  }
  else if(json_is_string(v)) {
    /* scp is space-separated */
    char *copy = strdup(json_string_value(v));
    char *save = NULL;
    for(char *w = copy ? strtok_r(copy, " ", &save) : NULL; w;
        w = strtok_r(NULL, " ", &save))
      json_array_append_new(out, json_string(w));
    free(copy);
  }
  return out;
}

static const char *claim_str(json_t *claims, const char *a, const char *b)
{
  const char *s = json_string_value(json_object_get(claims, a));
  if(!s && b)
    s = json_string_value(json_object_get(claims, b));
  return s;
}

static void print_facts(const char *token, time_t expires_at,
                        const mgcall_credential *cred, const char *environment,
                        int as_json)
{
  char *claims_json = NULL;
  json_t *claims = NULL;
  int is_jwt = mgcall_token_claims(token, &claims_json) == MGCALL_OK;
  if(is_jwt)
    claims = json_loads(claims_json, 0, NULL);
  free(claims_json);
  if(!claims)
    claims = json_object();
  const char *tenant = claim_str(claims, "tid", NULL);
  const char *client = claim_str(claims, "appid", "azp");
  if(!tenant)
    tenant = mgcall_credential_tenant_id(cred);
  if(!client)
    client = mgcall_credential_client_id(cred);
  const char *app_name = claim_str(claims, "app_displayname", NULL);
  json_t *aud = json_object_get(claims, "aud");
  json_t *roles = claim_list(claims, "roles");
  json_t *scopes = claim_list(claims, "scp");
  json_t *exp = json_object_get(claims, "exp");
  if(json_is_integer(exp) && json_integer_value(exp) > 0)
    expires_at = (time_t)json_integer_value(exp);
  int delegated = json_array_size(scopes) > 0;
  char when[32];
  iso_time(expires_at, when, sizeof(when));
  if(as_json) {
    json_t *o = json_object();
    json_object_set_new(o, "clientId",
                        client ? json_string(client) : json_null());
    json_object_set_new(o, "tenantId",
                        tenant ? json_string(tenant) : json_null());
    json_object_set_new(o, "appName",
                        app_name ? json_string(app_name) : json_null());
    json_object_set(o, "audience", aud ? aud : json_null());
    json_object_set(o, "roles", roles);
    json_object_set(o, "scopes", scopes);
    json_object_set_new(o, "authType",
                        json_string(delegated ? "Delegated" : "AppOnly"));
    json_object_set_new(o, "tokenCredentialType", json_string(cred_type(cred)));
    json_object_set_new(o, "expiresOn",
                        expires_at > 0 ? json_string(when) : json_null());
    json_object_set_new(o, "expiresAt",
                        expires_at > 0 ? json_integer((json_int_t)expires_at)
                                       : json_null());
    json_object_set_new(o, "environment", json_string(environment));
    json_object_set_new(o, "isJwt", json_boolean(is_jwt));
    char *text = json_dumps(o, JSON_COMPACT);
    if(text)
      printf("%s\n", text);
    free(text);
    json_decref(o);
  }
  else {
    printf("ClientId            : %s\n", client ? client : "");
    printf("TenantId            : %s\n", tenant ? tenant : "");
    printf("AppName             : %s\n", app_name ? app_name : "");
    if(json_is_string(aud))
      printf("Audience            : %s\n", json_string_value(aud));
    else
      printf("Audience            :\n");
    printf("Roles               : ");
    size_t i;
    json_t *e;
    json_array_foreach(roles, i, e)
    {
      printf("%s%s", i ? ", " : "", json_string_value(e));
    }
    printf("\n");
    if(delegated) {
      printf("Scopes              : ");
      json_array_foreach(scopes, i, e)
      {
        printf("%s%s", i ? ", " : "", json_string_value(e));
      }
      printf("\n");
    }
    printf("AuthType            : %s\n", delegated ? "Delegated" : "AppOnly");
    printf("TokenCredentialType : %s\n", cred_type(cred));
    printf("ExpiresOn           : %s\n", when);
    printf("Environment         : %s\n", environment);
  }
  if(!is_jwt)
    mgc_cli_error("warning: the token is not a JWT: its facts are unknown");
  else if(delegated)
    mgc_cli_error("warning: this is a delegated token (scp): keepAlive needs "
                  "an application token");
  json_decref(roles);
  json_decref(scopes);
  json_decref(claims);
}

int cmd_token(int argc, char **argv)
{
  struct mgc_auth_opts ao;
  mgc_auth_opts_init(&ao);
  ao.cmd = "token";
  struct option *table = mgc_auth_opts_merge(own_options);
  if(!table) {
    mgc_cli_error("out of memory");
    return MGCALL_E_INTERNAL;
  }
  int raw = 0, as_json = 0, debug = 0, force = 0, opt, rc = MGCALL_OK;
  optind = 1;
  opterr = 0;
  while((opt = getopt_long(argc, argv, ":h", table, NULL)) != -1) {
    int r = mgc_auth_opts_handle(&ao, opt, optarg);
    if(r < 0) {
      rc = MGCALL_E_USAGE;
      goto out;
    }
    if(r > 0)
      continue;
    switch(opt) {
    case OPT_RAW:
      raw = 1;
      break;
    case OPT_JSON:
      as_json = 1;
      break;
    case OPT_DEBUG:
      debug = 1;
      break;
    case OPT_FORCE_REFRESH:
      force = 1;
      break;
    case 'h':
    case OPT_HELP:
      help(stdout);
      goto out;
    case ':':
      rc = mgc_cli_usage_error("token", "option '%s' needs a value",
                               argv[optind - 1]);
      goto out;
    default:
      rc =
          mgc_cli_usage_error("token", "unknown option '%s'", argv[optind - 1]);
      goto out;
    }
  }
  if(optind < argc) {
    rc = mgc_cli_usage_error("token", "unexpected argument '%s'", argv[optind]);
    goto out;
  }
  if(raw && as_json) {
    rc = mgc_cli_usage_error("token", "--raw and --json exclude each other");
    goto out;
  }

  mgcall_config cfg;
  mgcall_config_init(&cfg);
  if(debug) {
    cfg.debug_cb = debug_line;
  }
  mgcall_credential *cred = NULL;
  char msg[1024];
  rc = mgc_auth_opts_finish(&ao, &cfg, &cred, msg, sizeof(msg));
  if(rc) {
    mgc_cli_error("%s", msg);
    goto out;
  }
  cfg.credential = cred;
  cfg.graph_url = NULL; /* no Graph request: not checked */
  mgcall_client *client = NULL;
  char *token = malloc(MGCALL_TOKEN_MAX_LEN + 1);
  long long expires_at = 0;
  rc = mgcall_client_new(&cfg, &client, msg, sizeof(msg));
  if(!rc && !token) {
    snprintf(msg, sizeof(msg), "out of memory");
    rc = MGCALL_E_INTERNAL;
  }
  if(!rc) {
    rc = mgcall_client_get_token(client, NULL, force, token,
                                 MGCALL_TOKEN_MAX_LEN + 1, &expires_at);
    if(rc)
      snprintf(msg, sizeof(msg), "%s", mgcall_client_errmsg(client));
  }
  if(rc) {
    mgc_cli_error("token: %s", msg);
  }
  else if(raw) {
    printf("%s\n", token);
  }
  else {
    const char *env = cfg.environment ? cfg.environment : "Global";
    print_facts(token, (time_t)expires_at, cred, env, as_json);
  }
  if(token) {
    OPENSSL_cleanse(token, MGCALL_TOKEN_MAX_LEN + 1);
    free(token);
  }
  mgcall_client_free(client);
  mgcall_credential_free(cred);
out:
  free(table);
  mgc_auth_opts_release(&ao);
  if(fflush(stdout) != 0 && rc == MGCALL_OK)
    rc = MGCALL_E_INTERNAL;
  return rc;
}
