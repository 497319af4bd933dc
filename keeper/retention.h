/* SPDX-License-Identifier: MIT */
/* retention.h - --retention: a thread of its own that purges, from the
 * store, ended and lost calls and finished hook jobs (delivered or given
 * up) older than the retention, in small batches (each its own
 * transaction under the store lock, so the writer and the API wait for one
 * batch at most). */
#ifndef MGCALL_KEEPER_RETENTION_H
#define MGCALL_KEEPER_RETENTION_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "keeper/store.h"

/* Rows per purge transaction. */
#define KRET_BATCH 500
/* Time between passes at most, in ms (shorter for a short retention: a
 * quarter of it, at least one second). */
#define KRET_PERIOD_MS 60000

struct kretention;

/* Start purging st (borrowed; store_lock guards every use) of what is
 * older than retention_ms (> 0) by wall_ms() (NULL: the real clock); the
 * first pass runs at once.  NULL when the thread cannot start. */
struct kretention *kret_start(struct kstore *st, pthread_mutex_t *store_lock,
                              int64_t retention_ms, int64_t (*wall_ms)(void));

/* One pass now, in the caller's thread: purge batches until one comes back
 * short.  Returns the rows purged, or -1 on a store error (logged). */
long kret_pass(struct kstore *st, pthread_mutex_t *store_lock,
               int64_t cutoff_ms);

/* Stop the thread (an ongoing batch finishes) and free.  NULL: no-op. */
void kret_stop(struct kretention *r);

#endif
