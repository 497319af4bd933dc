/* SPDX-License-Identifier: MIT */
/* duration.h - "250ms", "3s", "15m", "1h", "1h30m" <-> milliseconds. */
#ifndef MGCALL_DURATION_H
#define MGCALL_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Largest duration accepted: 366 days. */
#define MGC_DURATION_MAX_MS (366ULL * 24 * 3600 * 1000)

/* Parse s: one or more <digits><unit> groups, unit one of ms, s, m, h, d
 * ("0" alone is also accepted).  Returns 0 and sets *ms, or -1 for empty,
 * unknown unit, missing unit, overflow or a value above MGC_DURATION_MAX_MS. */
int mgc__duration_parse(const char *s, uint64_t *ms);

/* Format ms into buf in the shortest exact form ("1h30m", "250ms", "0s").
 * Returns buf. */
char *mgc__duration_format(uint64_t ms, char *buf, size_t buflen);

#endif
