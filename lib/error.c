/* SPDX-License-Identifier: MIT */
/* error.c - mgcall_strerror() and friends, generated from MGCALL_CODE_MAP. */
#include "mgcall/mgcall.h"
#include "mgc_internal.h"

#include <stdarg.h>
#include <stdio.h>

const char *mgcall_strerror(int code)
{
  switch(code) {
#define STRERROR_GEN(name, num, msg)                                           \
  case num:                                                                    \
    return msg;
    MGCALL_CODE_MAP(STRERROR_GEN)
#undef STRERROR_GEN
  default:
    return "unknown error";
  }
}

const char *mgcall_code_name(int code)
{
  switch(code) {
#define NAME_GEN(name, num, msg)                                               \
  case num:                                                                    \
    return #name;
    MGCALL_CODE_MAP(NAME_GEN)
#undef NAME_GEN
  default:
    return NULL;
  }
}

const char *mgcall_version(void)
{
  return MGCALL_VERSION_STRING;
}

int mgc__err_set(struct mgc_err *err, int code, const char *fmt, ...)
{
  if(!err)
    return code;
  err->code = code;
  if(fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
  }
  else {
    snprintf(err->msg, sizeof(err->msg), "%s", mgcall_strerror(code));
  }
  return code;
}

void mgc__err_clear(struct mgc_err *err)
{
  if(!err)
    return;
  err->code = MGCALL_OK;
  err->msg[0] = '\0';
}
