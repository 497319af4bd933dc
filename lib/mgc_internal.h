/* SPDX-License-Identifier: MIT */
/* mgc_internal.h - helpers shared by the library, the tool, the emulator and
 * the keeper.  Not installed.  Cross-file names start with mgc__. */
#ifndef MGCALL_MGC_INTERNAL_H
#define MGCALL_MGC_INTERNAL_H

#include "mgcall/mgcall.h"
#include "mgcx.h"

#ifndef MGCALL_VERSION_STRING
#define MGCALL_VERSION_STRING "0.0.0"
#endif

/* A sticky error: a code and a detail message (hiredis errstr). */
struct mgc_err {
  int code;
  char msg[512];
};

/* Set err (if not NULL) to code and a printf-formatted detail; fmt NULL uses
 * mgcall_strerror(code).  Returns code, so callers can write
 * `return mgc__err_set(err, MGCALL_E_USAGE, "...")`. */
int mgc__err_set(struct mgc_err *err, int code, const char *fmt, ...)
    MGCX_PRINTF(3, 4);

/* Reset err to MGCALL_OK with an empty message.  NULL is a no-op. */
void mgc__err_clear(struct mgc_err *err);

#endif
