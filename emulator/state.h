/* SPDX-License-Identifier: MIT */
/* state.h - --state FILE: the calls and the token signing key survive a
 * restart.  The file (mode 0600, replaced atomically) is JSON lines:
 *
 *   {"format":"mgcall-emulator-state","version":1,"savedAt":"...Z",
 *    "signingKey":"-----BEGIN PRIVATE KEY-----\n..."}
 *   {"id":"...","state":"established","tenantId":"...","appId":"...",
 *    "callbackUri":"...","createdMs":1764249600000,"lastKeepAliveMs":0,
 *    "endedMs":0,"endReason":0,"keepAlives":0,"modalities":1,"media":0}
 *   ...
 * Times are Unix milliseconds.  A live call whose inactivity deadline
 * passed while the emulator was down ends (408/8537) right after start. */
#ifndef EMU_STATE_H
#define EMU_STATE_H

#include "calls.h"
#include "identity.h"

#include <stddef.h>

/* Read path.  A missing file is not an error (returns 0, *key_pem NULL).
 * On success *key_pem is the saved signing key (caller frees) and the calls
 * are restored into calls.  -1 with err set for an unreadable or corrupt
 * file. */
int emu_state_load(const char *path, struct emu_calls *calls, char **key_pem,
                   char *err, size_t errlen);

/* Parse one call line (parser, no I/O).  0 and *out (strings point into
 * *holder, which the caller json_decref()s), or -1. */
int emu_state_parse_call(const char *line, size_t len,
                         struct emu_call_info *out, void **holder);

/* Write every call and the key to path (via path.tmp + rename). 0 or -1. */
int emu_state_save(const char *path, struct emu_calls *calls,
                   const struct emu_identity *id, char *err, size_t errlen);

#endif
