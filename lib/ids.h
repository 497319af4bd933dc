/* SPDX-License-Identifier: MIT */
/* ids.h - what a call id and a tenant id may be, for everyone who takes
 * them (the library's token requests, the keeper's control API and
 * notifications): one rule each, so the keeper never accepts an id the
 * library later refuses.  No I/O. */
#ifndef MGCALL_IDS_H
#define MGCALL_IDS_H

#include <stddef.h>
#include <stdint.h>

/* Longest call id and tenant id, in bytes. */
#define MGC_ID_MAX 256

/* A call id: 1..MGC_ID_MAX bytes of valid UTF-8 without control
 * characters (C0, DEL, C1), bidirectional-text controls (U+061C,
 * U+200E/F, U+202A..U+202E, U+2066..U+2069) or line/paragraph separators
 * (U+2028/9): mgcx_char_unsafe().  Anything else is allowed ("/" included: ids
 * are opaque and percent-encoded into URLs).  Returns 1 when s (NUL-terminated,
 * may be NULL) is one. */
int mgc__call_id_ok(const char *s);

/* A tenant id goes into a URL path: 1..MGC_ID_MAX characters of
 * A-Z a-z 0-9 - . _ (GUIDs and domain names), not "." or "..".  Returns 1
 * when s (may be NULL) is one. */
int mgc__tenant_id_ok(const char *s);

#endif
