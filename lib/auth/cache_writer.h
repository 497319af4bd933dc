/* SPDX-License-Identifier: MIT */
/* cache_writer.h - writes to the token cache file off the caller's thread.
 *
 * A token source hands each new token to the writer; one background thread
 * (started on the first token, joined by mgc__cache_writer_free()) reads
 * the file, merges the token into it (mgc__token_cache_update()) and
 * writes it back (mgc__token_cache_write(), with its fsync).  So the batch
 * that fetched the token never waits for the disk.  A file the reader
 * refuses (writable by others ...) is left alone.  Warnings are kept and
 * handed out by mgc__cache_writer_warning() on the owner's thread. */
#ifndef MGCALL_AUTH_CACHE_WRITER_H
#define MGCALL_AUTH_CACHE_WRITER_H

#include "token_cache.h"

#include <stddef.h>
#include <time.h>

struct mgc_cache_writer;

/* A writer for the cache file path (copied).  NULL when out of memory. */
struct mgc_cache_writer *mgc__cache_writer_new(const char *path);

/* Queue key -> token (all copied) for writing.  0, or -1 when out of
 * memory (the token is then not written; the cache is only a cache). */
int mgc__cache_writer_put(struct mgc_cache_writer *w,
                          const struct mgc_cache_key *key, const char *token,
                          time_t expires_at);

/* Copy the oldest warning not yet handed out into buf (size n) and return
 * 1; 0 when there is none. */
int mgc__cache_writer_warning(struct mgc_cache_writer *w, char *buf, size_t n);

/* Write what is queued, stop the thread and free.  NULL is a no-op.
 * Warnings of the last writes are passed to warn (may be NULL). */
void mgc__cache_writer_free(struct mgc_cache_writer *w,
                            void (*warn)(void *ud, const char *msg), void *ud);

#endif
