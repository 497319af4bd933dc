/* SPDX-License-Identifier: MIT */
/* escape.h - text from outside (ids, tenants, Graph's error messages) made
 * safe to print on a terminal or in a one-line log: control characters
 * (C0, DEL, C1), bidirectional-text controls, line separators and invalid
 * UTF-8 become visible escapes, and the result is cut on a character
 * boundary.  No I/O. */
#ifndef MGCALL_ESCAPE_H
#define MGCALL_ESCAPE_H

#include <stddef.h>

/* Write s (NULL prints as "") into out (outlen >= 1, always
 * NUL-terminated): printable UTF-8 as is; \n \r \t \\ as such escapes
 * (with a backslash itself doubled); other C0 bytes, DEL and invalid bytes
 * as \xNN; C1, bidi controls (U+061C, U+200E/F, U+202A..E, U+2066..9) and
 * U+2028/9 as \u{NNNN}.  When it does not fit, it is cut before the
 * character or escape that would not fit.  Returns out. */
char *mgc__escape_text(const char *s, char *out, size_t outlen);

#endif
