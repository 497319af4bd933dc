/* SPDX-License-Identifier: MIT */
/* notify_auth.c - the notification bearer JWT check and its app ids. */
#include "keeper/notify_auth.h"

#include "jwt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const issuers[] = {"https://graph.microsoft.com",
                                      "https://api.botframework.com"};

static void set_why(char *why, size_t len, const char *msg)
{
  if(why && len)
    snprintf(why, len, "%s", msg);
}

static int printable(const char *s, size_t max)
{
  size_t n = s ? strlen(s) : 0;
  if(!n || n > max)
    return 0;
  for(size_t i = 0; i < n; i++)
    if((unsigned char)s[i] < 0x21 || s[i] == 0x7f)
      return 0;
  return 1;
}

/* exp/nbf/iat: a JSON number of seconds. */
static int seconds_of(json_t *v, int64_t *out)
{
  if(json_is_integer(v))
    *out = (int64_t)json_integer_value(v);
  else if(json_is_real(v) && json_real_value(v) > -1e15 &&
          json_real_value(v) < 1e15)
    *out = (int64_t)json_real_value(v);
  else
    return -1;
  return 0;
}

static int aud_matches(json_t *aud, const char *const *apps, size_t napps)
{
  if(json_is_string(aud)) {
    for(size_t i = 0; i < napps; i++)
      if(!strcmp(json_string_value(aud), apps[i]))
        return 1;
    return 0;
  }
  if(json_is_array(aud)) { /* RFC 7519 4.1.3: one of them is us */
    size_t i;
    json_t *one;
    json_array_foreach(aud, i, one)
    {
      if(i >= 16)
        break;
      if(json_is_string(one) && aud_matches(one, apps, napps))
        return 1;
    }
  }
  return 0;
}

static enum kna_result check_claims(json_t *claims, const char *const *apps,
                                    size_t napps, int64_t now,
                                    char tid[KS_ID_MAX + 1], char *why,
                                    size_t whylen)
{
  const char *iss = json_string_value(json_object_get(claims, "iss"));
  int iss_ok = 0;
  for(size_t i = 0; iss && i < sizeof(issuers) / sizeof(issuers[0]); i++)
    iss_ok |= !strcmp(iss, issuers[i]);
  if(!iss_ok)
    return set_why(why, whylen, "issuer (iss) not accepted"), KNA_DENY;
  if(!aud_matches(json_object_get(claims, "aud"), apps, napps))
    return set_why(why, whylen,
                   "audience (aud) is not one of --notification-app-id"),
           KNA_DENY;
  int64_t exp = 0, nbf = 0;
  if(seconds_of(json_object_get(claims, "exp"), &exp))
    return set_why(why, whylen, "no expiry (exp)"), KNA_DENY;
  if(now > exp + KNA_SKEW_S)
    return set_why(why, whylen, "token expired (exp)"), KNA_DENY;
  json_t *jnbf = json_object_get(claims, "nbf");
  if(jnbf && seconds_of(jnbf, &nbf))
    return set_why(why, whylen, "bad not-before (nbf)"), KNA_DENY;
  if(jnbf && now < nbf - KNA_SKEW_S)
    return set_why(why, whylen, "token not valid yet (nbf)"), KNA_DENY;
  const char *t = json_string_value(json_object_get(claims, "tid"));
  if(!printable(t, KS_ID_MAX))
    return set_why(why, whylen, "no tenant (tid)"), KNA_DENY;
  snprintf(tid, KS_ID_MAX + 1, "%s", t);
  return KNA_OK;
}

enum kna_result kna_check(const char *authorization, kna_key_fn key_of,
                          void *key_ud, const char *const *apps, size_t napps,
                          int64_t now, char tid[KS_ID_MAX + 1], char *why,
                          size_t whylen)
{
  tid[0] = '\0';
  if(!authorization)
    return set_why(why, whylen, "no Authorization header"), KNA_DENY;
  if(strncasecmp(authorization, "Bearer ", 7))
    return set_why(why, whylen, "Authorization is not a bearer token"),
           KNA_DENY;
  const char *token = authorization + 7;
  while(*token == ' ')
    token++;
  json_t *header = NULL;
  struct mgc_err err = {0};
  if(mgc__jwt_decode(token, &header, NULL, &err))
    return set_why(why, whylen, "bearer token is not a JWT"), KNA_DENY;
  /* The algorithm is decided here, never by the token: RSA PKCS#1 only, so
   * "none" and HS256 keyed with the public key cannot pass. */
  const char *alg = json_string_value(json_object_get(header, "alg"));
  if(!alg ||
     (strcmp(alg, "RS256") && strcmp(alg, "RS384") && strcmp(alg, "RS512"))) {
    json_decref(header);
    return set_why(why, whylen, "algorithm (alg) not accepted"), KNA_DENY;
  }
  const char *kid = json_string_value(json_object_get(header, "kid"));
  if(!kid)
    kid = json_string_value(json_object_get(header, "x5t"));
  if(!kid || !*kid || strlen(kid) > KJWKS_KID_MAX) {
    json_decref(header);
    return set_why(why, whylen, "no key id (kid)"), KNA_DENY;
  }
  EVP_PKEY *key = key_of(key_ud, kid);
  json_decref(header);
  if(!key)
    return set_why(why, whylen, "signed by an unknown key (kid)"),
           KNA_UNKNOWN_KID;
  json_t *claims = NULL;
  int bad =
      mgc__jwt_verify(token, key, MGC_JWT_RS256 | MGC_JWT_RS384 | MGC_JWT_RS512,
                      NULL, &claims, &err);
  EVP_PKEY_free(key);
  if(bad)
    return set_why(why, whylen, "signature does not verify"), KNA_DENY;
  enum kna_result r = check_claims(claims, apps, napps, now, tid, why, whylen);
  json_decref(claims);
  return r;
}

/* ---- the policy: app ids + key cache ---- */

struct kna {
  char *apps[KNA_MAX_APPS];
  size_t napps;
  struct kjwks *keys;
};

struct kna *kna_new(const struct kna_config *cfg, struct mgc_err *err)
{
  struct kna *na = calloc(1, sizeof(*na));
  if(!na) {
    mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
    return NULL;
  }
  const char *p = cfg->app_ids ? cfg->app_ids : "";
  for(;;) {
    size_t n = strcspn(p, ",");
    char *id = strndup(p, n);
    if(!id || !printable(id, KS_ID_MAX) || na->napps == KNA_MAX_APPS) {
      mgc__err_set(err, id ? MGCALL_E_USAGE : MGCALL_E_INTERNAL,
                   "--notification-app-id '%.200s': want ID[,ID...] (at most "
                   "%d non-empty ids without blanks)",
                   cfg->app_ids ? cfg->app_ids : "", KNA_MAX_APPS);
      free(id);
      kna_free(na);
      return NULL;
    }
    na->apps[na->napps++] = id;
    if(!p[n])
      break;
    p += n + 1;
  }
  const char *url = cfg->openid_url ? cfg->openid_url : KJWKS_DEFAULT_URL;
  if(strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
    mgc__err_set(err, MGCALL_E_USAGE,
                 "--notification-openid-url '%.200s': want an http(s) URL",
                 url);
    kna_free(na);
    return NULL;
  }
  struct kjwks_config kc = {url, cfg->cacert, 0, cfg->min_refresh_ms, 0};
  if(!(na->keys = kjwks_new(&kc))) {
    mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
    kna_free(na);
    return NULL;
  }
  return na;
}

int kna_start(struct kna *na)
{
  return kjwks_start(na->keys);
}

void kna_close(struct kna *na)
{
  if(na)
    kjwks_close(na->keys);
}

void kna_free(struct kna *na)
{
  if(!na)
    return;
  kjwks_free(na->keys);
  for(size_t i = 0; i < na->napps; i++)
    free(na->apps[i]);
  free(na);
}

static EVP_PKEY *cache_key(void *ud, const char *kid)
{
  return kjwks_get(ud, kid);
}

enum kna_result kna_verify(struct kna *na, const char *authorization,
                           int64_t now, char tid[KS_ID_MAX + 1], char *why,
                           size_t whylen)
{
  return kna_check(authorization, cache_key, na->keys,
                   (const char *const *)na->apps, na->napps, now, tid, why,
                   whylen);
}

int kna_wait_keys(struct kna *na, void (*done)(void *ud), void *ud)
{
  return kjwks_refresh(na->keys, done, ud);
}
