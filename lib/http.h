/* SPDX-License-Identifier: MIT */
/* http.h - what every libcurl handle of the library shares: TLS always
 * verified, extra CA file, proxy, timeouts, User-Agent, no redirects,
 * http/https only, a redacting --debug trace, and size-capped response
 * buffers.  Used by lib/client.c, lib/batch.c and lib/auth/ (and
 * mgc__http_trust() by the keeper's own transfers). */
#ifndef MGCALL_HTTP_H
#define MGCALL_HTTP_H

#include "mgc_internal.h"
#include "mgcx.h"

#include <curl/curl.h>

/* Largest response body kept (bytes); more is a failed transfer. */
#define MGC_HTTP_MAX_BODY (1024 * 1024)

struct mgc_http_opts {
  const char *cacert;     /* extra trusted CAs (PEM file), or NULL */
  const char *proxy;      /* NULL: libcurl reads https_proxy/no_proxy */
  long connect_timeout_s; /* 0 = 10 */
  long timeout_s;         /* 0 = 100 */
  mgcall_log_cb debug_cb; /* NULL = no trace */
  void *log_userdata;
};

/* Apply o to h.  o and the strings it points to are NOT copied (the trace
 * and the --cacert hook keep pointers): they must outlive the handle's
 * transfers.  cacert adds to the system trust store (OpenSSL backend); the
 * store is built once per cacert file and shared by all connections.  Returns
 * MGCALL_OK or MGCALL_E_INTERNAL (err set). */
int mgc__http_setup(CURL *h, const struct mgc_http_opts *o,
                    struct mgc_err *err);

/* The one trust configuration of every HTTPS request of the library and the
 * keeper (Graph, tokens, notification keys, --on-ended-url): peer and host
 * always verified against the process's shared store, the system trust
 * (SSL_CERT_DIR, else SSL_CERT_FILE, else OpenSSL's defaults) plus cacert
 * (the --cacert file, or NULL).  cacert is not copied: it must outlive h's
 * transfers.  mgc__http_setup() calls it; code that sets up its own handle
 * (keeper/jwks.c, keeper/hooks.c) calls it instead of CURLOPT_CAINFO. */
CURLcode mgc__http_trust(CURL *h, const char *cacert);

/* The --debug trace: CURLOPT_DEBUGFUNCTION with CURLOPT_DEBUGDATA a
 * struct mgc_http_opts * whose debug_cb is set (mgc__http_setup() sets both
 * when it is; lib/batch.c calls it from its own). */
int mgc__http_trace(CURL *h, curl_infotype type, char *data, size_t size,
                    void *ud);

/* CURLOPT_WRITEFUNCTION for a struct mgcx_buf (CURLOPT_WRITEDATA). */
size_t mgc__buf_curl_write(char *ptr, size_t size, size_t nmemb, void *ud);

/* Free the shared trust stores (mgcall_global_cleanup()). */
void mgc__http_global_cleanup(void);

/* The User-Agent we send: "mgcall/<version>". */
const char *mgc__http_user_agent(void);

/* Map a failed libcurl transfer to an mgcall_code: DNS, connect, TLS,
 * timeout, reset -> MGCALL_E_NETWORK; anything else -> MGCALL_E_INTERNAL. */
int mgc__http_curl_code(CURLcode rc);

/* 1 when rc is a connection failure worth retrying (refused, reset,
 * timeout, DNS temporary failure, empty reply); TLS/certificate errors are
 * not retried. */
int mgc__http_curl_retryable(CURLcode rc);

#endif
