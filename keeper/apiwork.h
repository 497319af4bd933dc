/* SPDX-License-Identifier: MIT */
/* apiwork.h - one worker thread for control API requests that wait for the
 * disk (POST /notifications: durable before acknowledged).  The API's
 * libmicrohttpd thread suspends such a connection and hands the work over,
 * so it goes on serving /healthz, /metrics and the rest meanwhile; the job
 * resumes the connection with its answer.  Jobs run one at a time, in the
 * order given. */
#ifndef MGCALL_KEEPER_APIWORK_H
#define MGCALL_KEEPER_APIWORK_H

#include <stddef.h>

/* Jobs queued at most; kaw_submit() refuses more (the caller answers 503). */
#define KAW_MAX_QUEUE 1024

struct kaw;

/* Start the worker; NULL when out of memory or no thread. */
struct kaw *kaw_new(void);

/* Queue fn(arg) to run on the worker.  0, or -1 when the queue is full or
 * memory ran out (fn is not called). */
int kaw_submit(struct kaw *w, void (*fn)(void *arg), void *arg);

/* Run every job queued, stop the thread, free.  NULL is a no-op. */
void kaw_free(struct kaw *w);

#endif
