/* SPDX-License-Identifier: MIT */
/* record.h - --record FILE: one JSON line per request, secrets redacted.
 *
 * {"time":"...Z","method":"POST","path":"/v1.0/...","query":{...},
 *  "headers":{"authorization":"[REDACTED]","client-request-id":"..."},
 *  "form":{"client_id":"..","client_secret":"[REDACTED]"},"status":200,
 *  "requestId":"..."}
 * Header names are lower-case; a repeated header's values are joined with
 * ", ".  Thread-safe; each line is written with one write(2). */
#ifndef EMU_RECORD_H
#define EMU_RECORD_H

#include <jansson.h>

struct emu_record;

/* Open (create, mode 0600, append) path.  NULL with err set. */
struct emu_record *emu_record_open(const char *path, char *err, size_t errlen);
void emu_record_close(struct emu_record *r);

/* Append obj as one line (obj is not stolen). */
void emu_record_write(struct emu_record *r, const json_t *obj);

/* Whether a header (lower-case name) or form field holds a secret. */
int emu_record_is_secret(const char *name);

#define EMU_REDACTED "[REDACTED]"

#endif
