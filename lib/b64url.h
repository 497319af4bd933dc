/* SPDX-License-Identifier: MIT */
/* b64url.h - base64url (RFC 4648 section 5, no padding) on top of OpenSSL. */
#ifndef MGCALL_B64URL_H
#define MGCALL_B64URL_H

#include <stddef.h>

/* Encode len bytes of in.  Returns a NUL-terminated malloc'd string without
 * '=' padding (caller frees), or NULL when out of memory. */
char *mgc__b64url_encode(const unsigned char *in, size_t len);

/* Decode inlen characters of in (base64url, padding optional).  On success
 * returns 0 and sets *out (malloc'd, caller frees, NUL-terminated for
 * convenience; the terminator is not counted) and *outlen.  Returns -1 for a
 * character outside the alphabet, an impossible length, or no memory. */
int mgc__b64url_decode(const char *in, size_t inlen, unsigned char **out,
                       size_t *outlen);

#endif
