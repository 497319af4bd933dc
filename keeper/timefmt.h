/* SPDX-License-Identifier: MIT */
/* timefmt.h - RFC 3339 timestamps <-> epoch milliseconds (no I/O; fuzzed by
 * fuzz/fuzz_rfc3339.c). */
#ifndef MGCALL_KEEPER_TIMEFMT_H
#define MGCALL_KEEPER_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Parse "2026-11-27T13:00:00Z", with optional fraction (".5", ".123456")
 * and a "Z" or "+hh:mm"/"-hh:mm" offset ('t'/'z' and a space for 'T' are
 * accepted too).  Years 1970..9999.  Returns 0 and sets *ms, or -1. */
int kt_parse_rfc3339(const char *s, int64_t *ms);

/* Format ms as "2026-11-27T13:00:00.000Z" into buf (>= 25 bytes). */
char *kt_format_rfc3339(int64_t ms, char *buf, size_t len);

#endif
