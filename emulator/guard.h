/* SPDX-License-Identifier: MIT */
/* guard.h - who may use the emulator's control endpoints (/_emulator/...):
 * not a web page of another origin, not a page on a name rebound to the
 * loopback address (DNS rebinding).  Used by router.c. */
#ifndef MGCALL_EMU_GUARD_H
#define MGCALL_EMU_GUARD_H

/* NULL when a request with these Host and Origin headers (NULL: absent) may
 * use /_emulator/..., else why not (for a 403).  Origin, when present, must be
 * http:// or https:// and the Host exactly ("null" and other origins: a web
 * page of another site).  On a loopback listener Host must name loopback:
 * localhost, an address in 127.0.0.0/8 or [::1], with any port (a page on a
 * rebound name sends that name).  No Host at all (HTTP/1.0) is allowed;
 * browsers always send one. */
const char *emu_guard_refuse(int loopback_listener, const char *host,
                             const char *origin);

#endif
