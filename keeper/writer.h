/* SPDX-License-Identifier: MIT */
/* writer.h - the one thread that writes to the store.  Jobs are written in
 * the order they were queued (so an older row never overwrites a newer one),
 * each as one transaction, without holding the keeper's lock: a slow disk
 * delays no keepAlive.  Registrations wait for their job (durable before
 * acknowledged); schedule progress does not. */
#ifndef MGCALL_KEEPER_WRITER_H
#define MGCALL_KEEPER_WRITER_H

#include <pthread.h>
#include <stddef.h>

#include "keeper/hooks.h"
#include "keeper/store.h"

/* Progress jobs queued at most; beyond it kwriter_put() refuses (the caller
 * keeps its rows dirty and tries again later). */
#define KWRITER_MAX_BACKLOG 64

struct kwriter;
struct kwjob;

/* Make the writer on st (its thread, an mgcx_jobs worker, starts with the
 * first job); store_lock (borrowed) guards every use of st, the writer
 * takes it around each write.  hooks (borrowed, may be NULL) is
 * kicked when hook jobs were written. */
struct kwriter *kwriter_new(struct kstore *st, pthread_mutex_t *store_lock,
                            struct khooks *hooks);

/* Queue n rows (deep-copied) of schedule progress as one transaction,
 * written without waiting for the disk, with nhooks hook jobs (from
 * khooks_take(), owned by the writer once queued; jobs make the write
 * durable).  Returns MGCALL_OK, or MGCALL_E_INTERNAL when the backlog is
 * full, memory ran out or the thread could not start (nothing queued: the
 * caller keeps the rows dirty and the jobs).  A failed write is logged. */
int kwriter_put(struct kwriter *w, const struct kstore_call *rows, size_t n,
                struct kstore_hook *hooks, size_t nhooks, struct mgc_err *err);

/* Queue n rows (deep-copied) as one durable transaction and return a
 * ticket for kwriter_wait(); NULL (err set, the caller keeps the hook
 * jobs) when memory ran out or the thread could not start.  Cheap:
 * call it under the keeper's lock so that queue order = change order. */
struct kwjob *kwriter_put_durable(struct kwriter *w,
                                  const struct kstore_call *rows, size_t n,
                                  struct kstore_hook *hooks, size_t nhooks,
                                  struct mgc_err *err);

/* Wait (without the keeper's lock) until the job is on disk; returns its
 * result (err set on failure) and frees the ticket. */
int kwriter_wait(struct kwriter *w, struct kwjob *job, struct mgc_err *err);

/* Jobs not yet written. */
size_t kwriter_backlog(struct kwriter *w);

/* Write everything queued, stop the thread, free.  NULL is a no-op. */
void kwriter_free(struct kwriter *w);

#endif
