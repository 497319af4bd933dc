/* SPDX-License-Identifier: MIT */
/*
 * mgcall.h - public API of libmgcall, a Microsoft Graph client for
 * POST /communications/calls/{id}/keepAlive with app-only authentication.
 *
 * Conventions (see docs/library.md):
 *  - Every exported symbol starts with mgcall_ / MGCALL_.
 *  - Functions that can fail return an mgcall_code: MGCALL_OK (0) is
 *    success, failures are the positive codes below (never negative).  The
 *    library never exits or aborts; a detailed message goes to the handle's
 *    error buffer (mgcall_client_errmsg()).
 *  - The structs the caller sees (mgcall_config, mgcall_result) start with
 *    struct_size and only ever grow at the end: the macros
 *    mgcall_config_init() and mgcall_keep_alive() pass the caller's
 *    sizeof, so a program built against an older header keeps working with
 *    a newer library (and the library never writes past the caller's
 *    struct).
 *  - Strings passed in are copied; strings handed out are borrowed from their
 *    owner unless the comment says who frees them.
 *  - *_free(NULL) is a no-op.
 */
#ifndef MGCALL_MGCALL_H
#define MGCALL_MGCALL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MGCALL_EXTERN __attribute__((visibility("default")))
#else
#define MGCALL_EXTERN
#endif

/*
 * Result codes.  The numbers are stable, never renumbered, and equal to the
 * exit status of the mgcall tool (mgcall(1), EXIT STATUS).  New codes are
 * appended only.
 *
 * XX(name, number, message)
 */
#define MGCALL_CODE_MAP(XX)                                                    \
  XX(OK, 0, "success")                                                         \
  XX(E_INTERNAL, 1, "internal error")                                          \
  XX(E_USAGE, 2, "usage error")                                                \
  XX(E_AUTH, 3, "no credentials, or the token endpoint refused them")          \
  XX(E_NOT_FOUND, 4, "call not found: it has ended")                           \
  XX(E_ACCESS_DENIED, 5, "access denied")                                      \
  XX(E_THROTTLED, 6, "throttled or unavailable: retries exhausted")            \
  XX(E_NETWORK, 7, "network or TLS failure")                                   \
  XX(E_HTTP, 8, "graph answered with another HTTP error")

typedef enum mgcall_code {
#define MGCALL_CODE_GEN(name, num, msg) MGCALL_##name = num,
  MGCALL_CODE_MAP(MGCALL_CODE_GEN)
#undef MGCALL_CODE_GEN
} mgcall_code;

/* A static, lower-case, one-line description of code; never NULL (unknown
 * codes give "unknown error").  Thread-safe. */
MGCALL_EXTERN const char *mgcall_strerror(int code);

/* The code's symbolic name without the prefix ("E_NOT_FOUND"), or NULL for an
 * unknown code.  Thread-safe. */
MGCALL_EXTERN const char *mgcall_code_name(int code);

/* The library version as "MAJOR.MINOR.PATCH"; static storage. */
MGCALL_EXTERN const char *mgcall_version(void);

/* ======================================================================
 * Client API (implemented in lib/client.c, lib/batch.c, lib/auth/ ...).
 *
 * Thread-safety: an mgcall_client and the batches made from it are used by
 * one thread at a time.  Different clients may be used from different threads
 * at once.  Call mgcall_global_init() once before any other thread exists.
 * ====================================================================== */

/* Once per process, before threads: initialises libcurl and OpenSSL.
 * Returns MGCALL_OK or MGCALL_E_INTERNAL. */
MGCALL_EXTERN int mgcall_global_init(void);
/* Once at the end, after every client is freed: releases what
 * mgcall_global_init() and the clients set up (shared TLS trust stores). */
MGCALL_EXTERN void mgcall_global_cleanup(void);

/* ---------------------------------------------------------------------
 * Credentials (lib/auth/).  A credential is immutable once made; it may be
 * shared by several clients.  Secrets are copied and wiped on free.
 * --------------------------------------------------------------------- */
typedef struct mgcall_credential mgcall_credential;

enum mgcall_assertion_alg { MGCALL_ALG_PS256 = 0, MGCALL_ALG_RS256 = 1 };

/* A ready-made access token (Connect-MgGraph -AccessToken); never refreshed. */
MGCALL_EXTERN int mgcall_credential_access_token(const char *token,
                                                 mgcall_credential **out);
/* Client credentials with a secret. */
MGCALL_EXTERN int mgcall_credential_client_secret(const char *tenant_id,
                                                  const char *client_id,
                                                  const char *secret,
                                                  mgcall_credential **out);
/* Client credentials with a certificate: path is PEM (certificate + key) or
 * PKCS#12 (password may be NULL).  Loaded and checked now; errbuf (may be
 * NULL) receives the reason on failure (MGCALL_E_AUTH). */
MGCALL_EXTERN int mgcall_credential_certificate(
    const char *tenant_id, const char *client_id, const char *path,
    const char *password, int send_chain, enum mgcall_assertion_alg alg,
    mgcall_credential **out, char *errbuf, size_t errlen);
/* Managed identity: client_id NULL for system-assigned.  imds_url NULL uses
 * IDENTITY_ENDPOINT/IDENTITY_HEADER (App Service) when set, else IMDS at
 * http://169.254.169.254. */
MGCALL_EXTERN int mgcall_credential_managed_identity(const char *client_id,
                                                     const char *imds_url,
                                                     mgcall_credential **out);
/* From the environment as mgcall(1) ENVIRONMENT and docs/mgcall-auth.md list
 * (MGCALL_ACCESS_TOKEN, then AZURE_TENANT_ID/AZURE_CLIENT_ID with
 * AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH ...).  MGCALL_E_AUTH
 * when none is set. */
MGCALL_EXTERN int mgcall_credential_from_env(mgcall_credential **out,
                                             char *errbuf, size_t errlen);
/* Free a credential (secrets wiped).  Not while a client still uses it. */
MGCALL_EXTERN void mgcall_credential_free(mgcall_credential *cred);

/* What a program was given to make a credential from (its options, a
 * configuration file), for mgcall_credential_new().  Fill it with
 * mgcall_credential_opts_init() (the macro records the caller's sizeof;
 * fields are only ever appended).  Strings are borrowed for the call of
 * mgcall_credential_new() only; NULL or "" = not given. */
typedef struct mgcall_credential_opts {
  size_t struct_size;               /* set by mgcall_credential_opts_init() */
  const char *access_token;         /* a ready-made bearer token */
  const char *tenant_id;            /* client secret, certificate */
  const char *client_id;            /* idem; managed identity: user-assigned */
  const char *client_secret;        /* client credentials with a secret */
  const char *certificate_path;     /* PEM (certificate + key) or PKCS#12 */
  const char *certificate_password; /* of a PKCS#12 or encrypted PEM key */
  int send_chain;                   /* 1: send the certificate chain (x5c) */
  enum mgcall_assertion_alg alg;    /* default MGCALL_ALG_PS256 */
  int managed_identity;             /* 1: use the managed identity */
  const char *imds_url;             /* managed identity endpoint override */
} mgcall_credential_opts;

/* Fill opts (size bytes, the caller's sizeof(mgcall_credential_opts)) with
 * "nothing given" and set opts->struct_size = size.  Use the macro. */
MGCALL_EXTERN void
mgcall_credential_opts_init_sized(mgcall_credential_opts *opts, size_t size);
#define mgcall_credential_opts_init(opts)                                      \
  mgcall_credential_opts_init_sized((opts), sizeof(*(opts)))

/* Flags of mgcall_credential_new(). */
#define MGCALL_CRED_USE_ENV 1u /* the environment fills in what opts lacks */

/* Make the credential opts names: the first complete kind in the order
 * access token, client secret, certificate, managed identity.  With
 * MGCALL_CRED_USE_ENV in flags the environment (the variables
 * mgcall_credential_from_env() reads) fills in the tenant id, the client
 * id and the certificate password opts leaves out, turns send_chain on
 * (AZURE_CLIENT_SEND_CERTIFICATE_CHAIN), gives a managed identity without
 * imds_url the App Service endpoint (IDENTITY_ENDPOINT, IDENTITY_HEADER),
 * and, when opts names no kind at all, names the kind itself (the same
 * order).  Returns MGCALL_OK with *out (free with mgcall_credential_free());
 * MGCALL_E_AUTH when no credential is named or the one named is incomplete
 * or unusable (no tenant id, an access token with spaces or control
 * characters, a certificate that does not load ...); MGCALL_E_USAGE for a
 * NULL argument or an unknown alg; MGCALL_E_INTERNAL when out of memory.
 * errbuf (may be NULL) receives the reason.  Reads the certificate file;
 * no network I/O.  Thread-safe (it reads the environment). */
MGCALL_EXTERN int mgcall_credential_new(const mgcall_credential_opts *opts,
                                        unsigned flags, mgcall_credential **out,
                                        char *errbuf, size_t errlen);

/* The kind of a credential (mgcall_credential_kind() returns it; 0 for
 * NULL). */
enum mgcall_credential_kind {
  MGCALL_CRED_ACCESS_TOKEN = 1,
  MGCALL_CRED_CLIENT_SECRET = 2,
  MGCALL_CRED_CERTIFICATE = 3,
  MGCALL_CRED_MANAGED_IDENTITY = 4
};
MGCALL_EXTERN int mgcall_credential_kind(const mgcall_credential *cred);

/* The credential's tenant id (an access token: its tid claim) and client
 * id, borrowed from cred (valid until it is freed); NULL when unknown or
 * for NULL (a managed identity has no tenant id, a system-assigned one no
 * client id). */
MGCALL_EXTERN const char *
mgcall_credential_tenant_id(const mgcall_credential *cred);
MGCALL_EXTERN const char *
mgcall_credential_client_id(const mgcall_credential *cred);

/* ---------------------------------------------------------------------
 * Client configuration.  mgcall_config_init() fills defaults; strings are
 * copied by mgcall_client_new(), so the struct may live on the stack.
 * --------------------------------------------------------------------- */
typedef void (*mgcall_log_cb)(void *userdata, const char *line);

typedef struct mgcall_config {
  size_t struct_size; /* set by mgcall_config_init(); fields are appended */
  const char
      *environment;      /* "Global" (default), "USGov", "USGovDoD", "China" */
  const char *graph_url; /* override of the cloud's Graph root, or NULL */
  const char *authority_url; /* override of the cloud's login root, or NULL */
  const char *api_version;   /* "v1.0" (default) or "beta" */
  const char *scope;         /* override; NULL = <cloud graph>/.default */
  const char *cacert;        /* extra trusted CA file (PEM), or NULL */
  const char *proxy;         /* proxy URL; NULL = https_proxy/no_proxy env */
  long connect_timeout_s;    /* default 10 */
  long timeout_s;            /* per request, default 100 */
  int retries; /* 0..MGCALL_RETRIES_MAX, default MGCALL_RETRIES_DEFAULT */
  long retry_max_time_s; /* bound on all retries of one call; 0 = none */
  int token_cache;       /* 1 (default): $XDG_CACHE_HOME/mgcall/tokens.json */
  const char *token_cache_path;        /* override of the cache file, or NULL */
  const char *const *headers;          /* NULL-terminated "Name: value" list */
  const mgcall_credential *credential; /* borrowed; must outlive the client */
  mgcall_log_cb debug_cb;   /* --debug: HTTP blocks, secrets redacted */
  mgcall_log_cb verbose_cb; /* --verbose: one line per attempt */
  void *log_userdata;
} mgcall_config;

/* The bounds of mgcall_config.retries. */
#define MGCALL_RETRIES_DEFAULT 3
#define MGCALL_RETRIES_MAX 10

/* Fill cfg (size bytes, the caller's sizeof(mgcall_config)) with the
 * defaults and set cfg->struct_size = size.  Use the macro. */
MGCALL_EXTERN void mgcall_config_init_sized(mgcall_config *cfg, size_t size);
#define mgcall_config_init(cfg) mgcall_config_init_sized((cfg), sizeof(*(cfg)))

/* The canonical name of the national cloud environment names ("usgov"
 * gives "USGov": names are matched case-insensitively; NULL gives
 * "Global"), static storage; NULL when it names none.  For a program that
 * checks an --environment option before it makes a client.  Thread-safe.
 * Since 0.2.0. */
MGCALL_EXTERN const char *mgcall_cloud_name(const char *environment);

/* The longest extra request header line accepted (bytes). */
#define MGCALL_HEADER_MAX 8192

/* Check one extra request header "Name: value" as mgcall_client_new()
 * checks mgcall_config.headers: a token name (RFC 9110), no CR, LF or NUL,
 * no other control character but tab in the value, at most
 * MGCALL_HEADER_MAX bytes, and not Authorization, Host or Content-Length
 * (the library sets those).  Returns MGCALL_OK, or MGCALL_E_USAGE with the
 * reason in errbuf (errlen bytes; may be NULL).  No I/O.  Thread-safe.
 * Since 0.2.0. */
MGCALL_EXTERN int mgcall_header_check(const char *line, char *errbuf,
                                      size_t errlen);

typedef struct mgcall_client mgcall_client;
typedef struct mgcall_batch mgcall_batch;

/* Result of one keepAlive (after all its retries).  Filled by the library;
 * plain data, no pointers to free.  struct_size is the size the library
 * filled in: a field lies past it when the library is older than the
 * header (MGCALL_RESULT_HAS()). */
typedef struct mgcall_result {
  size_t struct_size;
  int code;                   /* mgcall_code of this call */
  long status;                /* HTTP status of the last attempt, 0 if none */
  int attempts;               /* requests sent, 1 + retries */
  long elapsed_ms;            /* from first send to final answer */
  char request_id[128];       /* response header request-id */
  char client_request_id[64]; /* the uuid sent (same across retries) */
  char date[64];              /* response header Date */
  char error_code[128];       /* Graph error.code, or AAD error */
  char error_message[1024];   /* Graph error.message, or a detail */
  char roles[512];            /* 403 only: roles of the token, comma list */
  /* The final response's header lines, "name: value\n" each, names in
   * lower case, in the order received (truncated at a line boundary when
   * longer than the buffer).  See mgcall_result_headers_json(). */
  char headers[4096];
  /* The final response's Retry-After in milliseconds (delta-seconds or an
   * HTTP-date, parsed as the retry policy does; a date in the past gives 0),
   * or -1 when that response had none or no response came.  A client made
   * with retries = 0 (the keeper) uses it to schedule its own retry. */
  long retry_after_ms;
} mgcall_result;

/* 1 when res (filled by the library) has field. */
#define MGCALL_RESULT_HAS(res, field)                                          \
  (offsetof(mgcall_result, field) + sizeof((res)->field) <= (res)->struct_size)

/* The response headers of res as a JSON object {"name": ["value", ...]}
 * (names lower case, repeated headers collected in order), as --response-
 * headers writes it.  Returns a malloc'd string the caller frees with
 * free(), or NULL when out of memory.  Thread-safe. */
MGCALL_EXTERN char *mgcall_result_headers_json(const mgcall_result *res);

/* Completion callback of a batch item: call_id is the id given to
 * mgcall_batch_add() (borrowed), item is its opaque pointer, res is borrowed
 * for the duration of the call.  Runs inside mgcall_batch_run(). */
typedef void (*mgcall_done_cb)(void *userdata, const char *call_id, void *item,
                               const mgcall_result *res);

/* ---------------------------------------------------------------------
 * Client and the blocking call (lib/client.c).
 * --------------------------------------------------------------------- */

/* Make a client from cfg (copied).  On failure returns the code and, when
 * errbuf is not NULL, a message in it.  Free with mgcall_client_free(). */
MGCALL_EXTERN int mgcall_client_new(const mgcall_config *cfg,
                                    mgcall_client **out, char *errbuf,
                                    size_t errlen);
/* Free a client: its batch of one, its token source (the token cache
 * writer finishes its writes first) and connections.  Free the batches
 * made from it before. */
MGCALL_EXTERN void mgcall_client_free(mgcall_client *client);

/* Detail message of the client's last error ("" when none); borrowed. */
MGCALL_EXTERN const char *mgcall_client_errmsg(const mgcall_client *client);

/* Requests client has sent to token endpoints (client credentials) or to
 * the managed identity endpoint so far: every token acquisition and refresh,
 * retries included; tokens found in memory or in the token cache file are
 * not counted.  0 for NULL.  The keeper reports it as
 * mgcall_keeper_token_refreshes_total. */
MGCALL_EXTERN unsigned long
mgcall_client_token_requests(const mgcall_client *client);

/* Refresh ahead of time, blocking: make sure the bearer token of tenant_id
 * (NULL = the credential's tenant) has more than min_remaining_s seconds
 * left, fetching a new one when it has not (or none is held).  It is
 * mgcall_batch_prefetch_token() on the client's batch of one (the one behind
 * mgcall_keep_alive()), run until the request has ended.  An --access-token
 * credential is never refreshed (its token is given as is).  On success
 * *remaining_s (may be NULL) is the seconds left on the token now held (-1
 * when unknown: an opaque access token) and *lifetime_s (may be NULL) its
 * whole lifetime, exp - iat of the JWT (-1 when unknown).  Returns
 * MGCALL_OK, or MGCALL_E_AUTH / E_NETWORK / E_THROTTLED / E_USAGE ... with
 * the detail in mgcall_client_errmsg().  Requests it sends count in
 * mgcall_client_token_requests(). */
MGCALL_EXTERN int mgcall_client_prefetch_token(mgcall_client *client,
                                               const char *tenant_id,
                                               long min_remaining_s,
                                               long *remaining_s,
                                               long *lifetime_s);

/* The longest bearer token the library handles, in bytes (without the
 * terminating NUL). */
#define MGCALL_TOKEN_MAX_LEN (64 * 1024)

/* The claims of a bearer token that is a JWT (the payload of a compact
 * JWS: tid, appid, aud, roles, exp ...), as the compact text of a JSON
 * object in *claims_json (malloc'd; the caller frees it with free()).  The
 * signature is NOT checked: the claims are for display, never for a
 * decision.  Returns MGCALL_OK; MGCALL_E_USAGE when token or claims_json is
 * NULL or the token is not a JWT (an opaque token: not three base64url
 * parts whose first two are JSON objects, or longer than
 * MGCALL_TOKEN_MAX_LEN); MGCALL_E_INTERNAL when out of memory.  *claims_json
 * is NULL on failure.  No I/O.  Thread-safe.  Since 0.2.0. */
MGCALL_EXTERN int mgcall_token_claims(const char *token, char **claims_json);

/* Get a bearer token for tenant_id (NULL = the credential's tenant),
 * blocking, the way mgcall_keep_alive() gets one: from memory or the token
 * cache file while more than 5 minutes remain, else from the token endpoint
 * or the managed identity, with retries (sleeps between them).
 * force_refresh = 1 skips the memory and the cache file.  On success copies
 * the token, NUL-terminated, into out (outlen bytes; MGCALL_TOKEN_MAX_LEN + 1
 * is always enough: wipe it when done) and sets *expires_at (may be NULL) to
 * its expiry in epoch seconds (0 when unknown: an opaque access token).  An
 * access-token credential gives its token for any tenant.  Returns
 * MGCALL_OK; MGCALL_E_AUTH (no credential, refused: the token endpoint's
 * error in mgcall_client_errmsg()), E_NETWORK, E_USAGE (bad tenant id, NULL
 * argument), E_INTERNAL (also: outlen too small).  Requests it sends count
 * in mgcall_client_token_requests().  Not to be called from a batch
 * callback. */
MGCALL_EXTERN int mgcall_client_get_token(mgcall_client *client,
                                          const char *tenant_id,
                                          int force_refresh, char *out,
                                          size_t outlen, long long *expires_at);

/* The full keepAlive URL for call_id (id percent-encoded as one path
 * segment); malloc'd, caller frees with free().  NULL on bad input. */
MGCALL_EXTERN char *mgcall_keep_alive_url(const mgcall_client *client,
                                          const char *call_id);

/* One keepAlive with retries, blocking.  tenant_id NULL = the credential's
 * tenant.  Fills *res (always, also on error; size bytes at most: the
 * caller's sizeof(mgcall_result)) and returns res->code.  Successive calls
 * on one client reuse its connections.  Not to be called from a batch
 * callback.  Use the macro. */
MGCALL_EXTERN int mgcall_keep_alive_sized(mgcall_client *client,
                                          const char *call_id,
                                          const char *tenant_id,
                                          mgcall_result *res, size_t size);
#define mgcall_keep_alive(client, call_id, tenant_id, res)                     \
  mgcall_keep_alive_sized((client), (call_id), (tenant_id), (res),             \
                          sizeof(*(res)))

/* ---------------------------------------------------------------------
 * Batches (lib/batch.c; mgcall_batch_new() is in lib/client.c, which
 * gives the batch its settings): many keepAlives at once on libcurl's multi
 * interface, HTTP/2 multiplexed when offered, at most max_parallel requests
 * in flight; retry waits are timers inside the batch (they hold no
 * connection and block nothing).  A batch lives as long as you want: add
 * items at any time, drive it with mgcall_batch_run().  The keeper runs one
 * batch for its whole life.
 * --------------------------------------------------------------------- */

/* Make a batch on client (which must outlive it): at most max_parallel
 * keepAlives in flight (0 = 16), cb called with userdata for each completed
 * item.  MGCALL_OK or MGCALL_E_USAGE / E_INTERNAL. */
MGCALL_EXTERN int mgcall_batch_new(mgcall_client *client, unsigned max_parallel,
                                   mgcall_done_cb cb, void *userdata,
                                   mgcall_batch **out);

/* Queue a keepAlive for call_id (copied) in tenant_id (copied; NULL = the
 * credential's tenant).  item is handed back to the callback untouched. */
MGCALL_EXTERN int mgcall_batch_add(mgcall_batch *batch, const char *call_id,
                                   const char *tenant_id, void *item);

/* Drive the batch for at most timeout_ms (0 = do what is ready, don't
 * wait); returns earlier when mgcall_batch_wakeup() is called, and when
 * callbacks ran (or a token request ended) during this call and no item is
 * left (so a loop `while(mgcall_batch_pending(b) && !mgcall_batch_run(b,
 * 1000))` ends as soon as all is done).  Token requests the items need run on
 * the batch too (one per tenant, retried on timers): a slow or failing token
 * endpoint holds up only the items of its tenant.  An empty batch waits the
 * whole timeout (or until woken): the keeper may use the call as its sleep.
 * Callbacks run from here and may call mgcall_batch_add().  A failed token
 * acquisition completes the item with that code (MGCALL_E_AUTH ...); the item's
 * request is not sent.  Returns MGCALL_OK, or MGCALL_E_INTERNAL (the wait
 * failed) / E_USAGE; items not yet completed: mgcall_batch_pending(). */
MGCALL_EXTERN int mgcall_batch_run(mgcall_batch *batch, int timeout_ms);

/* Refresh ahead of time without waiting: when the bearer token of
 * tenant_id (NULL = the credential's tenant) has min_remaining_s seconds
 * left or fewer (or none is held), start a token request on the batch (or
 * join the one under way for that tenant: keepAlives that need the token
 * wait on the same request); mgcall_batch_run() carries it out, with its
 * retries as timers.  Returns MGCALL_OK with *pending (may be NULL) 1 while
 * a request is under way, or 0 with *remaining_s and *lifetime_s (may be
 * NULL; -1 when unknown) of the token held.  When the last request for
 * that tenant failed and no call has reported it yet, returns its code
 * (MGCALL_E_AUTH, E_NETWORK, E_THROTTLED ...) once, with the detail in
 * mgcall_client_errmsg(), and starts nothing.  An --access-token
 * credential is never refreshed.  Requests count in
 * mgcall_client_token_requests(). */
MGCALL_EXTERN int mgcall_batch_prefetch_token(mgcall_batch *batch,
                                              const char *tenant_id,
                                              long min_remaining_s,
                                              int *pending, long *remaining_s,
                                              long *lifetime_s);

/* Make a running or future mgcall_batch_run() return early.  The only batch
 * function that is safe to call from another thread. */
MGCALL_EXTERN void mgcall_batch_wakeup(mgcall_batch *batch);

/* Items not yet completed. */
MGCALL_EXTERN size_t mgcall_batch_pending(const mgcall_batch *batch);

/* Free the batch; items not completed are dropped without callback. */
MGCALL_EXTERN void mgcall_batch_free(mgcall_batch *batch);

#ifdef __cplusplus
}
#endif
#endif /* MGCALL_MGCALL_H */
