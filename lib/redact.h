/* SPDX-License-Identifier: MIT */
/* redact.h - hide secrets in text that is about to be logged (--debug,
 * --verbose, the emulator's --record).  No I/O. */
#ifndef MGCALL_REDACT_H
#define MGCALL_REDACT_H

#include <stddef.h>

#define MGC_REDACTED "[REDACTED]"

/* Return a malloc'd, NUL-terminated copy of len bytes of text in which these
 * are replaced by [REDACTED] (caller frees; NULL when out of memory):
 *  - the value of the headers Authorization, Proxy-Authorization,
 *    X-IDENTITY-HEADER, secret (any case), to the end of the line, and
 *    in "[name: value]" (libcurl's HTTP/2 trace) to the ']';
 *  - form fields access_token, client_secret, client_assertion,
 *    refresh_token: the value up to '&', whitespace or the end;
 *  - JSON members with those names whose value is a string.
 * NUL bytes inside text are kept as they are. */
char *mgc__redact(const char *text, size_t len);

#endif
