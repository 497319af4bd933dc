/* SPDX-License-Identifier: MIT */
/* condwait.h - condition variables on the monotonic clock, waited on for a
 * number of milliseconds (a wall-clock step neither shortens nor stretches
 * the wait).  Used by the keeper's background threads (hooks, retention). */
#ifndef MGCALL_KEEPER_CONDWAIT_H
#define MGCALL_KEEPER_CONDWAIT_H

#include <pthread.h>
#include <stdint.h>

/* pthread_cond_init() with CLOCK_MONOTONIC.  Returns its result. */
int kcw_init(pthread_cond_t *cond);

/* Wait on cond (lock held) at most ms milliseconds (<= 0: not at all).
 * Returns 0 when signalled (or spuriously woken), ETIMEDOUT otherwise. */
int kcw_wait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t ms);

#endif
