/* SPDX-License-Identifier: MIT */
/* http.c - common libcurl set-up, capped buffers and the --debug trace. */
#include "http.h"

#include "redact.h"

#include <ctype.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

const char *mgc__http_user_agent(void)
{
  return "mgcall/" MGCALL_VERSION_STRING;
}

void mgc__buf_init(struct mgc_buf *b, size_t max)
{
  b->data = NULL;
  b->len = 0;
  b->max = max;
}

void mgc__buf_release(struct mgc_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = 0;
}

int mgc__buf_add(struct mgc_buf *b, const void *p, size_t n)
{
  if(n > b->max || b->len > b->max - n)
    return -1;
  char *d = realloc(b->data, b->len + n + 1);
  if(!d)
    return -1;
  if(n)
    memcpy(d + b->len, p, n);
  b->data = d;
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

size_t mgc__buf_curl_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
  size_t n = size * nmemb;
  return mgc__buf_add(ud, ptr, n) ? 0 : n;
}

/* Emit text (already redacted) line by line with prefix. */
static void trace_lines(const struct mgc_http_opts *o, const char *prefix,
                        const char *text, size_t len)
{
  char line[2048];
  size_t i = 0;
  while(i < len) {
    size_t end = i;
    while(end < len && text[end] != '\n')
      end++;
    size_t n = end - i;
    if(n && text[i + n - 1] == '\r')
      n--;
    size_t keep = n < sizeof(line) - 8 ? n : sizeof(line) - 8;
    size_t w = (size_t)snprintf(line, sizeof(line), "%s", prefix);
    for(size_t k = 0; k < keep && w < sizeof(line) - 1; k++) {
      unsigned char c = (unsigned char)text[i + k];
      line[w++] = (char)(isprint(c) || c == '\t' ? c : '.');
    }
    line[w] = '\0';
    if(n || end < len)
      o->debug_cb(o->log_userdata, line);
    i = end + 1;
  }
}

static int debug_trace(CURL *h, curl_infotype type, char *data, size_t size,
                       void *ud)
{
  (void)h;
  const struct mgc_http_opts *o = ud;
  const char *prefix;
  switch(type) {
  case CURLINFO_TEXT:
    prefix = "* ";
    break;
  case CURLINFO_HEADER_OUT:
  case CURLINFO_DATA_OUT:
    prefix = "> ";
    break;
  case CURLINFO_HEADER_IN:
  case CURLINFO_DATA_IN:
    prefix = "< ";
    break;
  default:
    return 0; /* TLS records: nothing a reader wants */
  }
  size_t cap =
      type == CURLINFO_DATA_IN || type == CURLINFO_DATA_OUT ? 8192 : size;
  char *clean = mgc__redact(data, size < cap ? size : cap);
  if(clean) {
    trace_lines(o, prefix, clean, strlen(clean));
    free(clean);
  }
  return 0;
}

/* CURLOPT_SSL_CTX_FUNCTION: add the --cacert file to the trust store that
 * libcurl already loaded from the system bundle, so the file adds trust
 * rather than replacing it. */
static CURLcode add_cacert(CURL *h, void *sslctx, void *path)
{
  (void)h;
  X509_STORE *store = SSL_CTX_get_cert_store((SSL_CTX *)sslctx);
  if(!store || X509_STORE_load_file(store, (const char *)path) != 1)
    return CURLE_SSL_CACERT_BADFILE;
  return CURLE_OK;
}

int mgc__http_setup(CURL *h, const struct mgc_http_opts *o, struct mgc_err *err)
{
  CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                          \
  do {                                                                         \
    if(rc == CURLE_OK)                                                         \
      rc = curl_easy_setopt(h, opt, val);                                      \
  } while(0)
  SET(CURLOPT_USERAGENT, mgc__http_user_agent());
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_SSL_VERIFYPEER, 1L);
  SET(CURLOPT_SSL_VERIFYHOST, 2L);
  SET(CURLOPT_CONNECTTIMEOUT,
      o && o->connect_timeout_s ? o->connect_timeout_s : 10L);
  SET(CURLOPT_TIMEOUT, o && o->timeout_s ? o->timeout_s : 100L);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_ACCEPT_ENCODING, "");
  if(o && o->cacert) {
    SET(CURLOPT_SSL_CTX_FUNCTION, add_cacert);
    SET(CURLOPT_SSL_CTX_DATA, (void *)o->cacert);
  }
  if(o && o->proxy)
    SET(CURLOPT_PROXY, o->proxy);
  if(o && o->debug_cb) {
    SET(CURLOPT_DEBUGFUNCTION, debug_trace);
    SET(CURLOPT_DEBUGDATA, (void *)o);
    SET(CURLOPT_VERBOSE, 1L);
  }
#undef SET
  if(rc != CURLE_OK)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "libcurl set-up failed: %s",
                        curl_easy_strerror(rc));
  return MGCALL_OK;
}

int mgc__http_curl_code(CURLcode rc)
{
  switch(rc) {
  case CURLE_OK:
    return MGCALL_OK;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_PROXY:
  case CURLE_WEIRD_SERVER_REPLY:
    return MGCALL_E_NETWORK;
  default:
    return MGCALL_E_INTERNAL;
  }
}

int mgc__http_curl_retryable(CURLcode rc)
{
  switch(rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return 1;
  default:
    return 0;
  }
}
