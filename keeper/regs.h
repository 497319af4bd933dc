/* SPDX-License-Identifier: MIT */
/* regs.h - the body of POST /calls -> registrations, in bounded memory.
 * A bulk array is split into its elements without building it (so the
 * count is known, and refused, before anything is parsed), then each
 * element, at most KREGS_MAX_ELEMENT bytes, is parsed on its own: memory
 * stays about the size of the body plus the registrations, whatever the
 * body holds.  Bytes in, values out: no I/O (fuzzed by
 * fuzz/fuzz_keeper_api.c). */
#ifndef MGCALL_KEEPER_REGS_H
#define MGCALL_KEEPER_REGS_H

#include <stddef.h>

#include "keeper/core.h"

/* Largest registration object, in bytes of JSON text. */
#define KREGS_MAX_ELEMENT 8192

struct kregs {
  struct kcore_reg *v; /* n registrations; strings owned */
  size_t n;
  int bulk; /* the body was an array */
};

/* Parse body (len bytes): {"callId", "tenantId"?, "startedAt"?} or an
 * array of 1..max of them.  callId must pass mgc__call_id_ok(), tenantId
 * (null = the default tenant) mgc__tenant_id_ok(), startedAt RFC 3339.
 * Returns 0, or the HTTP status to answer (400, or 413 for more than max
 * registrations) with a one-line reason in why; out is then empty. */
int kregs_parse(const char *body, size_t len, size_t max, struct kregs *out,
                char *why, size_t whylen);
/* Free what kregs_parse() filled; an empty one is a no-op. */
void kregs_release(struct kregs *r);

#endif
