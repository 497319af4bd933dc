/* SPDX-License-Identifier: MIT */
/* fuzz_notify_auth.c - the keeper's POST /notifications path on arbitrary
 * bytes: the bearer JWT check (kna_check), then, for a verified token, the
 * notification parser (kn_parse); also the key set and OpenID configuration
 * parsers.  The first byte picks the mode:
 *   'A' Authorization value, '\n', body: checked as received (a real key
 *       "k" is known, so only well-formed and refused paths are reachable);
 *   'S' claims JSON, '\n', body: the claims are signed with key "k" first,
 *       so every claim check and the parser behind it are reached;
 *   'K' a JWKS document; 'O' an OpenID configuration. */
#include "b64url.h"
#include "jwt.h"
#include "keeper/jwks.h"
#include "keeper/notify.h"
#include "keeper/notify_auth.h"

#include <openssl/rsa.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;

static EVP_PKEY *lookup(void *ud, const char *kid)
{
  (void)ud;
  if(strcmp(kid, "k") || !EVP_PKEY_up_ref(key))
    return NULL;
  return key;
}

static void check_and_parse(const char *auth, const char *body, size_t len)
{
  static const char *const apps[] = {"app-1", "app-2"};
  static struct kn_event ev[16];
  char tid[KS_ID_MAX + 1], why[128] = "";
  enum kna_result r = kna_check(auth, lookup, NULL, apps, 2, 1800000000LL, tid,
                                why, sizeof(why));
  if(r != KNA_OK && r != KNA_DENY && r != KNA_UNKNOWN_KID)
    abort();
  if(r != KNA_OK) {
    if(!why[0] || tid[0] || (auth && strlen(auth) > 40 && strstr(why, auth)))
      abort(); /* a reason, no tenant, never the token */
    return;
  }
  size_t tl = strlen(tid);
  if(!tl || tl > KS_ID_MAX)
    abort();
  size_t n = 99;
  char err[128];
  int rc = kn_parse(body, len, ev, 16, &n, err, sizeof(err));
  if((rc != 0 && rc != -1) || n > 16)
    abort();
}

static void signed_mode(const char *claims_text, const char *body, size_t len)
{
  json_error_t jerr;
  json_t *claims = json_loads(claims_text, 0, &jerr);
  if(!json_is_object(claims)) {
    json_decref(claims);
    return;
  }
  json_t *hdr = json_pack("{s:s}", "kid", "k");
  char *tok = mgc__jwt_sign(hdr, claims, key, MGC_JWT_RS256, NULL);
  json_decref(hdr);
  json_decref(claims);
  if(!tok)
    return;
  char *auth = malloc(strlen(tok) + 8);
  if(auth) {
    sprintf(auth, "Bearer %s", tok);
    check_and_parse(auth, body, len);
  }
  free(auth);
  free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if(!key && !(key = EVP_RSA_gen(2048)))
    abort();
  if(size < 1 || size > 256 * 1024)
    return 0;
  char mode = (char)data[0];
  char *copy = malloc(size);
  if(!copy)
    return 0;
  memcpy(copy, data + 1, size - 1);
  copy[size - 1] = '\0';
  size_t len = size - 1;
  char *nl = memchr(copy, '\n', len);
  const char *body = nl ? nl + 1 : "";
  size_t blen = nl ? len - (size_t)(nl + 1 - copy) : 0;
  if(nl)
    *nl = '\0';
  if(mode == 'A')
    check_and_parse(copy, body, blen);
  else if(mode == 'S')
    signed_mode(copy, body, blen);
  else if(mode == 'K' || mode == 'O') {
    struct kjwks_key *keys = NULL;
    size_t n = 0;
    char uri[512], why[128];
    if(mode == 'K') {
      if(!kjwks_parse_keys((const char *)data + 1, size - 1, &keys, &n, why,
                           sizeof(why)) &&
         n > KJWKS_MAX_KEYS)
        abort();
      kjwks_keys_free(keys, n);
    }
    else if(!kjwks_parse_openid((const char *)data + 1, size - 1, uri,
                                sizeof(uri), why, sizeof(why)) &&
            strncmp(uri, "http", 4))
      abort();
  }
  free(copy);
  return 0;
}
