/* SPDX-License-Identifier: MIT */
/* http.c - common libcurl set-up, capped buffers and the --debug trace. */
#include "http.h"

#include "redact.h"

#include <ctype.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

const char *mgc__http_user_agent(void)
{
  return "mgcall/" MGCALL_VERSION_STRING;
}

size_t mgc__buf_curl_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
  size_t n = size * nmemb;
  return mgcx_buf_add(ud, ptr, n) ? 0 : n;
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

int mgc__http_trace(CURL *h, curl_infotype type, char *data, size_t size,
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

/* The trust store.  libcurl would parse the whole system CA bundle for
 * every new TLS connection (tens of milliseconds each, and the --cacert hook
 * stops its own CA cache); instead every connection of the process shares
 * one X509_STORE per --cacert file: the system certificate directory
 * (SSL_CERT_DIR or OpenSSL's default, hashed, read lazily; only when it does
 * not exist the bundle file, SSL_CERT_FILE or OpenSSL's default) plus the
 * --cacert file.  Built on first use, freed by
 * mgcall_global_cleanup(). */
#define STORE_CACHE 8
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  char *cacert; /* NULL: system trust only */
  X509_STORE *store;
} stores[STORE_CACHE];

/* The system certificate directory (hashed, read lazily). */
static const char *cert_dir(void)
{
  const char *dir = getenv(X509_get_default_cert_dir_env());
  return dir && *dir ? dir : X509_get_default_cert_dir();
}

static X509_STORE *build_store(const char *cacert)
{
  X509_STORE *store = X509_STORE_new();
  if(!store)
    return NULL;
  X509_LOOKUP *l = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
  if(!l || !X509_LOOKUP_add_dir(l, cert_dir(), X509_FILETYPE_PEM))
    goto fail;
  /* The bundle file (SSL_CERT_FILE, else OpenSSL's default) only when
   * there is no certificate directory: parsing it costs tens of ms. */
  struct stat st;
  if(stat(cert_dir(), &st) || !S_ISDIR(st.st_mode)) {
    const char *file = getenv(X509_get_default_cert_file_env());
    if(X509_STORE_load_file(
           store, file && *file ? file : X509_get_default_cert_file()) != 1)
      goto fail;
  }
  if(cacert && X509_STORE_load_file(store, cacert) != 1)
    goto fail;
  return store;
fail:
  X509_STORE_free(store);
  return NULL;
}

/* The shared store for cacert (NULL allowed), with a new reference. */
static X509_STORE *get_store(const char *cacert)
{
  X509_STORE *found = NULL;
  pthread_mutex_lock(&store_lock);
  size_t i;
  for(i = 0; i < STORE_CACHE && stores[i].store; i++) {
    if((!cacert && !stores[i].cacert) ||
       (cacert && stores[i].cacert && !strcmp(cacert, stores[i].cacert))) {
      found = stores[i].store;
      break;
    }
  }
  if(!found) {
    found = build_store(cacert);
    char *copy = cacert ? strdup(cacert) : NULL;
    if(found && i < STORE_CACHE && (!cacert || copy)) {
      stores[i].store = found;
      stores[i].cacert = copy;
      copy = NULL;
    }
    else if(found) {
      /* cache full: this connection keeps its own */
      pthread_mutex_unlock(&store_lock);
      free(copy);
      return found;
    }
    free(copy);
  }
  if(found && !X509_STORE_up_ref(found))
    found = NULL;
  pthread_mutex_unlock(&store_lock);
  return found;
}

void mgc__http_global_cleanup(void)
{
  pthread_mutex_lock(&store_lock);
  for(size_t i = 0; i < STORE_CACHE; i++) {
    X509_STORE_free(stores[i].store);
    free(stores[i].cacert);
    stores[i].store = NULL;
    stores[i].cacert = NULL;
  }
  pthread_mutex_unlock(&store_lock);
}

/* CURLOPT_SSL_CTX_FUNCTION: put the shared store in the connection's
 * context (path: the --cacert file or NULL). */
static CURLcode set_store(CURL *h, void *sslctx, void *path)
{
  (void)h;
  X509_STORE *store = get_store((const char *)path);
  if(!store)
    return CURLE_SSL_CACERT_BADFILE;
  SSL_CTX_set_cert_store((SSL_CTX *)sslctx, store); /* takes our reference */
  return CURLE_OK;
}

#define SET(opt, val)                                                          \
  do {                                                                         \
    if(rc == CURLE_OK)                                                         \
      rc = curl_easy_setopt(h, opt, val);                                      \
  } while(0)

CURLcode mgc__http_trust(CURL *h, const char *cacert)
{
  CURLcode rc = CURLE_OK;
  SET(CURLOPT_SSL_VERIFYPEER, 1L);
  SET(CURLOPT_SSL_VERIFYHOST, 2L);
  /* The shared store of set_store(), not libcurl's per-connection loading
   * of its compiled-in bundle (which would also ignore SSL_CERT_DIR). */
  SET(CURLOPT_CAINFO, NULL); /* with CAPATH set: no bundle parsed */
  SET(CURLOPT_CAPATH, cert_dir());
  SET(CURLOPT_SSL_CTX_FUNCTION, set_store);
  SET(CURLOPT_SSL_CTX_DATA, (void *)cacert);
  return rc;
}

int mgc__http_setup(CURL *h, const struct mgc_http_opts *o, struct mgc_err *err)
{
  CURLcode rc = CURLE_OK;
  SET(CURLOPT_USERAGENT, mgc__http_user_agent());
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  if(rc == CURLE_OK)
    rc = mgc__http_trust(h, o ? o->cacert : NULL);
  SET(CURLOPT_CONNECTTIMEOUT,
      o && o->connect_timeout_s ? o->connect_timeout_s : 10L);
  SET(CURLOPT_TIMEOUT, o && o->timeout_s ? o->timeout_s : 100L);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_ACCEPT_ENCODING, "");
  if(o && o->proxy)
    SET(CURLOPT_PROXY, o->proxy);
  if(o && o->debug_cb) {
    SET(CURLOPT_DEBUGFUNCTION, mgc__http_trace);
    SET(CURLOPT_DEBUGDATA, (void *)o);
    SET(CURLOPT_VERBOSE, 1L);
  }
  if(rc != CURLE_OK)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "libcurl set-up failed: %s",
                        curl_easy_strerror(rc));
  return MGCALL_OK;
}
#undef SET

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
