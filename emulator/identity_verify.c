/* SPDX-License-Identifier: MIT */
/* identity_verify.c - verifying the access tokens the Graph side is sent
 * (signature, lifetime, audience, issuer), with a cache of tokens already
 * verified. */
#include "identity_int.h"

#include "jwt.h"

#include <strings.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- verification ------------------------------------------------------ */

const char *emu_verify_message(enum emu_verify_result r)
{
  switch(r) {
  case EMU_TOKEN_OK:
    return "ok";
  case EMU_TOKEN_MISSING:
    return "Access token is empty.";
  case EMU_TOKEN_MALFORMED:
    return "CompactToken parsing failed with error code: 80049217";
  case EMU_TOKEN_BAD_SIGNATURE:
    return "Access token validation failure. Invalid signature.";
  case EMU_TOKEN_EXPIRED:
    return "Lifetime validation failed, the token is expired.";
  case EMU_TOKEN_NOT_YET_VALID:
    return "Lifetime validation failed, the token is not yet valid.";
  case EMU_TOKEN_BAD_AUDIENCE:
    return "Access token validation failure. Invalid audience.";
  case EMU_TOKEN_BAD_ISSUER:
    return "Access token validation failure. Invalid issuer or tenant.";
  }
  return "Access token validation failure.";
}

static int audience_ok(const char *aud, const char *base_url)
{
  char out[512];
  return aud && !emu_scope_audience(aud, base_url, 1, out, sizeof(out));
}

static enum emu_verify_result check_claims(json_t *claims, const char *base,
                                           int64_t now,
                                           struct emu_principal *who)
{
  const char *aud = json_string_value(json_object_get(claims, "aud"));
  const char *tid = json_string_value(json_object_get(claims, "tid"));
  const char *iss = json_string_value(json_object_get(claims, "iss"));
  const char *app = json_string_value(json_object_get(claims, "appid"));
  json_t *exp = json_object_get(claims, "exp");
  json_t *nbf = json_object_get(claims, "nbf");
  if(!json_is_integer(exp) || !app || !tid)
    return EMU_TOKEN_MALFORMED;
  if(json_integer_value(exp) <= now)
    return EMU_TOKEN_EXPIRED;
  if(json_is_integer(nbf) && json_integer_value(nbf) > now + EMU_CLOCK_SKEW_S)
    return EMU_TOKEN_NOT_YET_VALID;
  if(!audience_ok(aud, base))
    return EMU_TOKEN_BAD_AUDIENCE;
  char want[256];
  snprintf(want, sizeof(want), "https://sts.windows.net/%s/", tid);
  if(!iss || strcmp(iss, want) || strlen(tid) >= sizeof(who->tenant) ||
     strlen(app) >= sizeof(who->app))
    return EMU_TOKEN_BAD_ISSUER;
  memset(who, 0, sizeof(*who));
  snprintf(who->tenant, sizeof(who->tenant), "%s", tid);
  snprintf(who->app, sizeof(who->app), "%s", app);
  who->exp = json_integer_value(exp);
  json_t *roles = json_object_get(claims, "roles");
  size_t i;
  json_t *r;
  size_t len = 0;
  json_array_foreach(roles, i, r)
  {
    const char *s = json_string_value(r);
    if(!s)
      continue;
    if(!strcmp(s, "Calls.Initiate.All") || !strcmp(s, "Calls.AccessMedia.All"))
      who->has_calls_role = 1;
    int w = snprintf(who->roles + len, sizeof(who->roles) - len, "%s%s",
                     len ? "," : "", s);
    if(w > 0 && (size_t)w < sizeof(who->roles) - len)
      len += (size_t)w;
  }
  return EMU_TOKEN_OK;
}

enum emu_verify_result emu_identity_verify(struct emu_identity *id,
                                           const char *authorization,
                                           const char *base_url, int64_t now,
                                           struct emu_principal *who)
{
  if(!authorization || strncasecmp(authorization, "Bearer ", 7))
    return EMU_TOKEN_MISSING;
  const char *token = authorization + 7;
  while(*token == ' ')
    token++;
  if(!*token)
    return EMU_TOKEN_MISSING;
  size_t len = strnlen(token, MGC_JWT_MAX_LEN + 1);
  if(len > MGC_JWT_MAX_LEN)
    return EMU_TOKEN_MALFORMED;
  /* Hash the tail (the signature: unique per token); strcmp decides. */
  uint64_t h = 1469598103934665603ULL;
  for(size_t i = len > 64 ? len - 64 : 0; i < len; i++) {
    h ^= (unsigned char)token[i];
    h *= 1099511628211ULL;
  }
  struct cached *slot = &id->cache[h % VERIFY_CACHE];
  pthread_mutex_lock(&id->cache_lock);
  if(slot->token && slot->hash == h && !strcmp(slot->token, token)) {
    struct emu_principal p = slot->who;
    int aud_ok = audience_ok(slot->aud, base_url);
    pthread_mutex_unlock(&id->cache_lock);
    if(p.exp <= now)
      return EMU_TOKEN_EXPIRED;
    if(!aud_ok)
      return EMU_TOKEN_BAD_AUDIENCE;
    *who = p;
    return EMU_TOKEN_OK;
  }
  pthread_mutex_unlock(&id->cache_lock);

  json_t *claims = NULL;
  if(mgc__jwt_decode(token, NULL, NULL, NULL))
    return EMU_TOKEN_MALFORMED;
  if(mgc__jwt_verify(token, id->key, MGC_JWT_RS256, NULL, &claims, NULL))
    return EMU_TOKEN_BAD_SIGNATURE;
  enum emu_verify_result r = check_claims(claims, base_url, now, who);
  if(r == EMU_TOKEN_OK) {
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    char *copy = strdup(token);
    if(copy && aud && strlen(aud) < sizeof(slot->aud)) {
      pthread_mutex_lock(&id->cache_lock);
      free(slot->token);
      slot->token = copy;
      slot->hash = h;
      slot->who = *who;
      snprintf(slot->aud, sizeof(slot->aud), "%s", aud);
      pthread_mutex_unlock(&id->cache_lock);
    }
    else
      free(copy);
  }
  json_decref(claims);
  return r;
}
