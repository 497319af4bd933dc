/* SPDX-License-Identifier: MIT */
/* utf8.h - make arbitrary bytes safe for a JSON writer (jansson refuses
 * invalid UTF-8) and cut text on character boundaries.  No I/O. */
#ifndef MGCALL_UTF8_H
#define MGCALL_UTF8_H

#include <stddef.h>

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) at s (n bytes available), or 0 when
 * the bytes there are not one. */
size_t mgc__utf8_seq(const unsigned char *s, size_t n);

/* Copy srclen bytes of src (any bytes) into dst as valid UTF-8: well-formed
 * characters are kept; every other byte, a NUL included, becomes the four
 * characters \xHH.  The copy is cut before a character or an escape that
 * would not fit, never inside one.  dst is always NUL-terminated (dstlen
 * must be at least 1).  Returns the length written. */
size_t mgc__utf8_clean(char *dst, size_t dstlen, const char *src,
                       size_t srclen);

#endif
