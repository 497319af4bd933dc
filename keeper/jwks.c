/* SPDX-License-Identifier: MIT */
/* jwks.c - notification keys: the JWKS and OpenID configuration parsers and
 * the fetcher thread. */
#include "keeper/jwks.h"

#include "b64url.h"
#include "http.h"
#include "keeper/condwait.h"
#include "keeper/log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_RSA_BITS 2048
#define MAX_RSA_BITS 8192

static void set_why(char *why, size_t len, const char *msg)
{
  if(why && len)
    snprintf(why, len, "%s", msg);
}

/* ---- parsers ---- */

static BIGNUM *b64url_bn(const char *s)
{
  unsigned char *raw = NULL;
  size_t n = 0;
  if(!s || mgc__b64url_decode(s, strlen(s), &raw, &n) || !n ||
     n > MAX_RSA_BITS / 8) {
    free(raw);
    return NULL;
  }
  BIGNUM *bn = BN_bin2bn(raw, (int)n, NULL);
  free(raw);
  return bn;
}

static EVP_PKEY *rsa_from_ne(const char *n64, const char *e64)
{
  BIGNUM *n = b64url_bn(n64), *e = b64url_bn(e64);
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  EVP_PKEY *key = NULL;
  if(!n || !e || !bld || BN_num_bits(n) < MIN_RSA_BITS || BN_num_bits(e) > 64 ||
     !BN_is_odd(e) || BN_is_one(e) ||
     !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
     !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
     !(params = OSSL_PARAM_BLD_to_param(bld)) ||
     !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
     EVP_PKEY_fromdata_init(ctx) != 1 ||
     EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
    key = NULL;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return key;
}

static EVP_PKEY *rsa_from_x5c(json_t *x5c)
{
  const char *b64 = json_string_value(json_array_get(x5c, 0));
  size_t len = b64 ? strlen(b64) : 0;
  if(!len || len > 16384 || len % 4)
    return NULL;
  unsigned char *der = malloc(len / 4 * 3 + 1);
  if(!der)
    return NULL;
  int n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)len);
  EVP_PKEY *key = NULL;
  if(n > 0) {
    while(len && b64[len - 1] == '=') { /* DecodeBlock keeps padding bytes */
      len--;
      n--;
    }
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, n);
    key = x ? X509_get_pubkey(x) : NULL;
    X509_free(x);
  }
  free(der);
  if(key && (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
             EVP_PKEY_get_bits(key) < MIN_RSA_BITS ||
             EVP_PKEY_get_bits(key) > MAX_RSA_BITS)) {
    EVP_PKEY_free(key);
    key = NULL;
  }
  return key;
}

void kjwks_keys_free(struct kjwks_key *keys, size_t n)
{
  for(size_t i = 0; keys && i < n; i++)
    EVP_PKEY_free(keys[i].pkey);
  free(keys);
}

int kjwks_parse_keys(const char *doc, size_t len, struct kjwks_key **keys,
                     size_t *n, char *why, size_t whylen)
{
  *keys = NULL;
  *n = 0;
  if(len > KJWKS_MAX_DOC) {
    set_why(why, whylen, "key set larger than 1 MiB");
    return -1;
  }
  json_error_t jerr;
  json_t *root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
  json_t *arr = json_object_get(root, "keys");
  if(!json_is_array(arr)) {
    json_decref(root);
    set_why(why, whylen, "not a JWKS (no \"keys\" array)");
    return -1;
  }
  struct kjwks_key *out = calloc(KJWKS_MAX_KEYS, sizeof(*out));
  if(!out) {
    json_decref(root);
    set_why(why, whylen, "out of memory");
    return -1;
  }
  size_t i, got = 0;
  json_t *k;
  json_array_foreach(arr, i, k)
  {
    if(got == KJWKS_MAX_KEYS)
      break;
    const char *kid = json_string_value(json_object_get(k, "kid"));
    const char *kty = json_string_value(json_object_get(k, "kty"));
    const char *use = json_string_value(json_object_get(k, "use"));
    if(!kid || !*kid || strlen(kid) > KJWKS_KID_MAX || !kty ||
       strcmp(kty, "RSA") || (use && strcmp(use, "sig")))
      continue;
    json_t *nn = json_object_get(k, "n"), *ee = json_object_get(k, "e");
    EVP_PKEY *key =
        nn || ee ? rsa_from_ne(json_string_value(nn), json_string_value(ee))
                 : rsa_from_x5c(json_object_get(k, "x5c"));
    if(!key)
      continue;
    snprintf(out[got].kid, sizeof(out[got].kid), "%s", kid);
    out[got++].pkey = key;
  }
  ERR_clear_error();
  json_decref(root);
  *keys = out;
  *n = got;
  return 0;
}

int kjwks_parse_openid(const char *doc, size_t len, char *uri, size_t urilen,
                       char *why, size_t whylen)
{
  if(len > KJWKS_MAX_DOC) {
    set_why(why, whylen, "OpenID configuration larger than 1 MiB");
    return -1;
  }
  json_error_t jerr;
  json_t *root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
  const char *u = json_string_value(json_object_get(root, "jwks_uri"));
  int ok = u && strlen(u) < urilen &&
           (!strncmp(u, "https://", 8) || !strncmp(u, "http://", 7)) &&
           !strpbrk(u, " \r\n\t");
  if(ok)
    snprintf(uri, urilen, "%s", u);
  else
    set_why(why, whylen,
            "OpenID configuration without an http(s) \"jwks_uri\"");
  json_decref(root);
  return ok ? 0 : -1;
}

/* ---- the cache and its thread ---- */

struct waiter {
  void (*done)(void *ud);
  void *ud;
  struct waiter *next;
};

struct kjwks {
  char *openid_url, *cacert;
  int64_t refresh_ms, min_refresh_ms, retry_ms;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  int started, closed;
  atomic_int stopping;
  int fetching;           /* a fetch is under way */
  int asked;              /* a refresh was asked for */
  int64_t last_asked;     /* when (monotonic ms; 0: never) */
  int64_t next_due;       /* the next scheduled fetch */
  struct waiter *waiters; /* called when the current or next fetch ends */
  struct kjwks_key *keys;
  size_t nkeys;
  uint64_t fetches;
};

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct kjwks *kjwks_new(const struct kjwks_config *cfg)
{
  struct kjwks *jw = calloc(1, sizeof(*jw));
  if(!jw)
    return NULL;
  jw->openid_url =
      strdup(cfg->openid_url ? cfg->openid_url : KJWKS_DEFAULT_URL);
  jw->cacert = cfg->cacert ? strdup(cfg->cacert) : NULL;
  jw->refresh_ms = cfg->refresh_ms > 0 ? cfg->refresh_ms : 2 * 3600 * 1000;
  jw->min_refresh_ms = cfg->min_refresh_ms > 0 ? cfg->min_refresh_ms : 60000;
  jw->retry_ms = cfg->retry_ms > 0 ? cfg->retry_ms : 60000;
  pthread_mutex_init(&jw->lock, NULL);
  kcw_init(&jw->wake);
  if(!jw->openid_url || (cfg->cacert && !jw->cacert)) {
    kjwks_free(jw);
    return NULL;
  }
  return jw;
}

struct body {
  char *buf;
  size_t len;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
  struct body *b = ud;
  size_t n = size * nmemb;
  if(b->len + n > KJWKS_MAX_DOC)
    return 0;
  char *nb = realloc(b->buf, b->len + n + 1);
  if(!nb)
    return 0;
  memcpy(nb + b->len, p, n);
  b->len += n;
  nb[b->len] = '\0';
  b->buf = nb;
  return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c,
                       curl_off_t d)
{
  (void)a;
  (void)b;
  (void)c;
  (void)d;
  struct kjwks *jw = ud;
  return atomic_load(&jw->stopping) ? 1 : 0;
}

/* GET url into *out (caller frees).  0, or -1 with why set. */
static int http_get(struct kjwks *jw, CURL *curl, const char *url,
                    struct body *out, char *why, size_t whylen)
{
  memset(out, 0, sizeof(*out));
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 15000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, jw);
  curl_easy_setopt(curl, CURLOPT_USERAGENT,
                   "mgcall-keeper/" MGCALL_VERSION_STRING);
  CURLcode rc = mgc__http_trust(curl, jw->cacert);
  if(rc == CURLE_OK)
    rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if(rc != CURLE_OK || status != 200) {
    if(why && whylen) {
      if(rc != CURLE_OK)
        snprintf(why, whylen, "GET %.200s: %s", url, curl_easy_strerror(rc));
      else
        snprintf(why, whylen, "GET %.200s: HTTP %ld", url, status);
    }
    free(out->buf);
    out->buf = NULL;
    return -1;
  }
  return 0;
}

/* One fetch of the configuration and its key set; keys replaced on
 * success. */
static int fetch(struct kjwks *jw, CURL *curl)
{
  char why[400] = "", uri[2048];
  struct body b;
  struct kjwks_key *keys = NULL;
  size_t n = 0;
  int rc = -1;
  if(!curl)
    set_why(why, sizeof(why), "cannot start a transfer");
  else if(!http_get(jw, curl, jw->openid_url, &b, why, sizeof(why))) {
    rc = kjwks_parse_openid(b.buf ? b.buf : "", b.len, uri, sizeof(uri), why,
                            sizeof(why));
    free(b.buf);
    if(!rc) {
      rc = http_get(jw, curl, uri, &b, why, sizeof(why));
      if(!rc) {
        rc = kjwks_parse_keys(b.buf ? b.buf : "", b.len, &keys, &n, why,
                              sizeof(why));
        free(b.buf);
      }
    }
  }
  if(!rc && !n) {
    set_why(why, sizeof(why), "the key set holds no usable RSA key");
    kjwks_keys_free(keys, n);
    rc = -1;
  }
  if(rc) {
    klog(KLOG_WARN, NULL, NULL, "notification keys: %s (keeping %zu known)",
         why, jw->nkeys);
    return -1;
  }
  pthread_mutex_lock(&jw->lock);
  struct kjwks_key *old = jw->keys;
  size_t nold = jw->nkeys;
  jw->keys = keys;
  jw->nkeys = n;
  pthread_mutex_unlock(&jw->lock);
  kjwks_keys_free(old, nold);
  klog(KLOG_INFO, NULL, NULL, "notification keys: %zu from %s", n,
       jw->openid_url);
  return 0;
}

static void call_waiters(struct waiter *w)
{
  while(w) {
    struct waiter *next = w->next;
    w->done(w->ud);
    free(w);
    w = next;
  }
}

static void *fetcher_main(void *arg)
{
  struct kjwks *jw = arg;
  CURL *curl = curl_easy_init();
  pthread_mutex_lock(&jw->lock);
  for(;;) {
    if(jw->closed)
      break;
    int64_t now = mono_ms();
    if(!jw->asked && now < jw->next_due) {
      kcw_wait_ms(&jw->wake, &jw->lock, jw->next_due - now);
      continue;
    }
    jw->asked = 0;
    jw->fetching = 1;
    pthread_mutex_unlock(&jw->lock);
    int ok = !fetch(jw, curl);
    pthread_mutex_lock(&jw->lock);
    jw->fetching = 0;
    jw->fetches++;
    jw->next_due = mono_ms() + (ok ? jw->refresh_ms : jw->retry_ms);
    struct waiter *w = jw->waiters;
    jw->waiters = NULL;
    pthread_mutex_unlock(&jw->lock);
    call_waiters(w);
    pthread_mutex_lock(&jw->lock);
  }
  pthread_mutex_unlock(&jw->lock);
  curl_easy_cleanup(curl);
  return NULL;
}

int kjwks_start(struct kjwks *jw)
{
  jw->next_due = 0; /* the first fetch at once */
  if(pthread_create(&jw->thread, NULL, fetcher_main, jw))
    return -1;
  jw->started = 1;
  return 0;
}

void kjwks_close(struct kjwks *jw)
{
  if(!jw)
    return;
  pthread_mutex_lock(&jw->lock);
  jw->closed = 1;
  atomic_store(&jw->stopping, 1);
  struct waiter *w = jw->waiters;
  jw->waiters = NULL;
  pthread_cond_signal(&jw->wake);
  pthread_mutex_unlock(&jw->lock);
  call_waiters(w);
}

void kjwks_free(struct kjwks *jw)
{
  if(!jw)
    return;
  kjwks_close(jw);
  if(jw->started)
    pthread_join(jw->thread, NULL);
  call_waiters(jw->waiters); /* none: closed refuses new ones */
  kjwks_keys_free(jw->keys, jw->nkeys);
  free(jw->openid_url);
  free(jw->cacert);
  pthread_cond_destroy(&jw->wake);
  pthread_mutex_destroy(&jw->lock);
  free(jw);
}

EVP_PKEY *kjwks_get(struct kjwks *jw, const char *kid)
{
  EVP_PKEY *key = NULL;
  pthread_mutex_lock(&jw->lock);
  for(size_t i = 0; kid && i < jw->nkeys; i++)
    if(!strcmp(jw->keys[i].kid, kid)) {
      if(EVP_PKEY_up_ref(jw->keys[i].pkey))
        key = jw->keys[i].pkey;
      break;
    }
  pthread_mutex_unlock(&jw->lock);
  return key;
}

int kjwks_refresh(struct kjwks *jw, void (*done)(void *ud), void *ud)
{
  struct waiter *w = malloc(sizeof(*w));
  if(!w)
    return -1;
  w->done = done;
  w->ud = ud;
  int64_t now = mono_ms();
  pthread_mutex_lock(&jw->lock);
  int join = jw->fetching || jw->asked || (jw->started && !jw->fetches);
  int allowed = !jw->last_asked || now - jw->last_asked >= jw->min_refresh_ms;
  if(jw->closed || !jw->started || (!join && !allowed)) {
    pthread_mutex_unlock(&jw->lock);
    free(w);
    return -1;
  }
  if(!join) {
    jw->asked = 1;
    jw->last_asked = now;
    pthread_cond_signal(&jw->wake);
  }
  w->next = jw->waiters;
  jw->waiters = w;
  pthread_mutex_unlock(&jw->lock);
  return 0;
}

uint64_t kjwks_fetches(struct kjwks *jw)
{
  pthread_mutex_lock(&jw->lock);
  uint64_t n = jw->fetches;
  pthread_mutex_unlock(&jw->lock);
  return n;
}
