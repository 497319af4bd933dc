/* SPDX-License-Identifier: MIT */
/* text.h - untrusted text (Graph's error messages, ids and tenants from
 * requests, anything read from the network) made safe for one line of a log
 * or a terminal, and cut without splitting a UTF-8 character.  No I/O, no
 * allocation but in mgc__text_escape_dup.  Used by the keeper's log (text
 * and JSON), `mgcall keeper list/show` and the tool's messages. */
#ifndef MGCALL_TEXT_H
#define MGCALL_TEXT_H

#include <stddef.h>

/* Length of the longest prefix of s (len bytes) that has at most max bytes
 * and does not end inside a well-formed UTF-8 character (malformed bytes
 * count one each).  Use it instead of "%.Ns", which may cut a character in
 * two: printf("%.*s", (int)mgc__text_cut(s, strlen(s), 150), s). */
size_t mgc__text_cut(const char *s, size_t len, size_t max);

/* Write len bytes of s to dst (cap bytes, always NUL-terminated when
 * cap > 0) as one printable line of valid UTF-8:
 *  - well-formed UTF-8 (no overlongs, no surrogates) is copied as it is,
 *    except the control characters: \n \r \t as those two-character
 *    escapes, the other C0 ones, DEL and C1 as \xHH (C1 as \u0080-style
 *    \u00HH); a backslash becomes \\ so the escaping can be undone;
 *  - every byte that is not part of well-formed UTF-8 becomes \xHH.
 * When the result does not fit, it is cut between two characters or
 * escapes and ends with "..." (within cap).  Returns the bytes written
 * (without the NUL).  s may hold NUL bytes (written as \x00). */
size_t mgc__text_escape(char *dst, size_t cap, const char *s, size_t len);

/* The same, whole, in a malloc'd string (caller frees); NULL when out of
 * memory or s is NULL. */
char *mgc__text_escape_dup(const char *s);

#endif
