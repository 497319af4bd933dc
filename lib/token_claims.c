/* SPDX-License-Identifier: MIT */
/* token_claims.c - what a bearer token says about itself
 * (mgcall_token_claims(), for `mgcall token`). */
#include "jwt.h"

#include <stdlib.h>

int mgcall_token_claims(const char *token, char **claims_json)
{
  if(!claims_json)
    return MGCALL_E_USAGE;
  *claims_json = NULL;
  if(!token)
    return MGCALL_E_USAGE;
  json_t *claims = NULL;
  struct mgc_err err;
  if(mgc__jwt_decode(token, NULL, &claims, &err))
    return MGCALL_E_USAGE; /* not a JWT: an opaque token */
  *claims_json = json_dumps(claims, JSON_COMPACT);
  json_decref(claims);
  return *claims_json ? MGCALL_OK : MGCALL_E_INTERNAL;
}
