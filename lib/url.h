/* SPDX-License-Identifier: MIT */
/* url.h - percent-encoding of one URL path segment (RFC 3986).  No I/O.
 * Decoding: mgcx_pct_decode() (mgcx.h). */
#ifndef MGCALL_URL_H
#define MGCALL_URL_H

#include <stddef.h>

/* Percent-encode len bytes of s so that the result is exactly one path
 * segment: only the unreserved characters A-Z a-z 0-9 - . _ ~ stay as they
 * are; every other byte (including '/', '?', '#', '%', space, non-ASCII
 * UTF-8 bytes) becomes %XX (upper-case hex).  The segments "." and ".."
 * (which a client or server would collapse) are encoded as "%2E" and
 * "%2E%2E".  Returns a malloc'd string (caller frees), NULL when len is 0,
 * s contains a NUL, or out of memory. */
char *mgc__url_segment(const char *s, size_t len);

#endif
