/* SPDX-License-Identifier: MIT */
/* auth_opts.h - the authentication and endpoint options of SPEC section 3,
 * shared by `mgcall keep-alive`, `mgcall token` and `mgcall keeper run`.
 *
 * Use:
 *
 *   struct mgc_auth_opts ao;
 *   mgc_auth_opts_init(&ao);
 *   // build the command's getopt_long table: its own options (values below
 *   // 0x1000) followed by mgc_auth_long_options[] (values 0x1000..0x10ff,
 *   // terminated by an all-zero entry): see mgc_auth_opts_merge().
 *   while((opt = getopt_long(argc, argv, short, table, NULL)) != -1) {
 *     int r = mgc_auth_opts_handle(&ao, opt, optarg);
 *     if(r < 0) { ...; return MGCALL_E_USAGE; } // message already printed
 *     if(r > 0) continue;                       // ours
 *     switch(opt) { ... the command's own options ... }
 *   }
 *   mgcall_config cfg;
 *   mgcall_config_init(&cfg);
 *   mgcall_credential *cred = NULL;
 *   char msg[1024];
 *   int rc = mgc_auth_opts_finish(&ao, &cfg, &cred, msg, sizeof(msg));
 *   if(rc) { mgc_cli_error("%s", msg); ... return rc; }  // 2 or 3
 *   cfg.credential = cred;
 *   ... use cfg (its strings point into ao: keep ao alive) ...
 *   mgcall_credential_free(cred);
 *   mgc_auth_opts_release(&ao);
 *
 * Precedence (docs/mgcall-auth.md): a credential named on the command line
 * wins over the environment; within each, the first of access token, client
 * secret, certificate, managed identity.  --tenant-id and --client-id win
 * over AZURE_TENANT_ID and AZURE_CLIENT_ID for every kind.  Secrets are read
 * from files or the environment only.
 *
 * finish() does no network I/O; it reads the secret files and the
 * certificate.  It may be called again on the same ao (the keeper's SIGHUP
 * reload: mgc_auth_opts_finish(&ao, &scratch_cfg, &new_cred, ...) reads the
 * secret files and the certificate again); the endpoint strings resolved by
 * the first call stay valid, unchanged, until mgc_auth_opts_release(). */
#ifndef MGCALL_AUTH_OPTS_H
#define MGCALL_AUTH_OPTS_H

#include "mgcall/mgcall.h"

#include <getopt.h>
#include <stddef.h>

enum mgc_auth_opt {
  MGC_OPT_ACCESS_TOKEN_FILE = 0x1000,
  MGC_OPT_TENANT_ID,
  MGC_OPT_CLIENT_ID,
  MGC_OPT_CLIENT_SECRET_FILE,
  MGC_OPT_CERTIFICATE,
  MGC_OPT_CERTIFICATE_PASSWORD_FILE,
  MGC_OPT_SEND_CERTIFICATE_CHAIN,
  MGC_OPT_ASSERTION_ALG,
  MGC_OPT_MANAGED_IDENTITY,
  MGC_OPT_IMDS_URL,
  MGC_OPT_SCOPE,
  MGC_OPT_NO_TOKEN_CACHE,
  MGC_OPT_ENVIRONMENT,
  MGC_OPT_GRAPH_URL,
  MGC_OPT_AUTHORITY_URL,
  MGC_OPT_CACERT,
  MGC_OPT_CONNECT_TIMEOUT,
  MGC_OPT_TIMEOUT,
  MGC_OPT_PROXY,
  MGC_OPT_REFUSED_SECRET, /* --client-secret, --access-token ...: refused */
  MGC_OPT_AUTH_LAST       /* not an option */
};

/* What the options said (strings copied, owned). */
struct mgc_auth_opts {
  const char *cmd; /* subcommand named in usage hints (borrowed), or NULL */
  char *access_token_file;
  char *tenant_id;
  char *client_id;
  char *client_secret_file;
  char *certificate;
  char *certificate_password_file;
  int send_certificate_chain;
  int assertion_alg; /* enum mgcall_assertion_alg */
  int managed_identity;
  char *imds_url;
  char *scope;
  int no_token_cache;
  char *environment;
  char *graph_url;
  char *authority_url;
  char *cacert;
  long connect_timeout_s; /* 0 = not given */
  long timeout_s;         /* 0 = not given */
  char *proxy;
  /* Resolved by finish(); what mgcall_config points to. */
  char *r_graph_url;
  char *r_authority_url;
};

/* The long options, terminated by an all-zero entry. */
extern const struct option mgc_auth_long_options[];

/* The help text of these options (several lines, each starting with two
 * spaces, ending in '\n'), for a command's --help. */
extern const char mgc_auth_opts_help[];

void mgc_auth_opts_init(struct mgc_auth_opts *ao);

/* Handle one getopt_long() result: returns 1 when opt was one of ours
 * (consumed), 0 when it is not ours, -1 for a bad value (the message is
 * already printed on stderr with mgc_cli_usage_error(ao->cmd, ...); the
 * command returns MGCALL_E_USAGE). */
int mgc_auth_opts_handle(struct mgc_auth_opts *ao, int opt, const char *optarg);

/* Apply the environment, validate, fill the endpoint fields of cfg
 * (environment, graph_url, authority_url, scope, cacert, proxy, timeouts,
 * token_cache; strings point into ao) and, when cred is not NULL, build the
 * credential (*cred, free with mgcall_credential_free()).  Returns
 * MGCALL_OK; MGCALL_E_USAGE for a bad value; MGCALL_E_AUTH for no or an
 * unusable credential (unreadable file, wrong password, expired
 * certificate ...); errbuf gets the message (without "mgcall: ").  With
 * cred NULL only the endpoints are checked (for --what-if). */
int mgc_auth_opts_finish(struct mgc_auth_opts *ao, mgcall_config *cfg,
                         mgcall_credential **cred, char *errbuf, size_t n);

/* A new getopt_long table: own (terminated by a zero entry) followed by
 * mgc_auth_long_options[].  malloc'd (caller frees) or NULL. */
struct option *mgc_auth_opts_merge(const struct option *own);

void mgc_auth_opts_release(struct mgc_auth_opts *ao);

#endif
