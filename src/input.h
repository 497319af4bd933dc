/* SPDX-License-Identifier: MIT */
/* input.h - one item of `mgcall keep-alive` input (stdin line or
 * --input-object): a bare call id, or an identity object {"CallId": "..."}
 * with an optional "TenantId" (keys matched case-insensitively, other keys
 * ignored).  Blank lines and lines whose first non-blank character is '#'
 * are skipped.  No I/O.  The tool's own (the library takes ids, not
 * lines); tests/unit/test_input.c and fuzz/fuzz_input.c compile input.c
 * in. */
#ifndef MGCALL_INPUT_H
#define MGCALL_INPUT_H

#include <stddef.h>

/* Longest line accepted (bytes, without the newline). */
#define MGC_INPUT_MAX_LINE 8192

enum mgc_input_kind {
  MGC_INPUT_ERROR = -1, /* malformed: reason in errbuf */
  MGC_INPUT_ID = 0,     /* *call_id set (malloc'd, caller frees), and
                         *tenant_id when the object names one */
  MGC_INPUT_SKIP = 1    /* blank or comment line */
};

/* Parse one line of len bytes (a trailing "\n" or "\r\n" is ignored;
 * leading and trailing blanks are trimmed).  A line that starts with '{' is
 * an identity object; anything else is a bare id.  tenant_id (may be NULL:
 * then a TenantId is ignored) is set to a malloc'd copy of the object's
 * TenantId, or NULL when it has none.  Errors: NUL byte, longer than
 * MGC_INPUT_MAX_LINE, bad JSON, not an object, "input object has no
 * CallId", CallId or TenantId not a non-empty string, out of memory. */
enum mgc_input_kind mgc_input_parse_line(const char *line, size_t len,
                                         char **call_id, char **tenant_id,
                                         char *errbuf, size_t errlen);

/* Parse an --input-object value: like a line, but it must be a JSON
 * object (blank is an error too). */
enum mgc_input_kind mgc_input_parse_object(const char *json, size_t len,
                                           char **call_id, char **tenant_id,
                                           char *errbuf, size_t errlen);

#endif
