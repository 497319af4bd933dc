/* SPDX-License-Identifier: MIT */
/* header.h - an extra request header "Name: value" (--header, the
 * library's mgcall_config.headers).  No I/O. */
#ifndef MGCALL_HEADER_H
#define MGCALL_HEADER_H

#include <stddef.h>

/* Largest extra header line accepted (bytes). */
#define MGC_HEADER_MAX 8192

/* 0 when line is an acceptable extra request header "Name: value": a token
 * name (RFC 9110), no CR, LF or NUL anywhere, not Authorization, Host or
 * Content-Length.  Else -1 and the reason in errbuf. */
int mgc__header_check(const char *line, char *errbuf, size_t errlen);

#endif
