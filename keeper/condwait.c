/* SPDX-License-Identifier: MIT */
/* condwait.c - monotonic timed waits on condition variables. */
#include "condwait.h"

#include <errno.h>
#include <time.h>

int kcw_init(pthread_cond_t *cond)
{
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(cond, &ca);
  pthread_condattr_destroy(&ca);
  return rc;
}

int kcw_wait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t ms)
{
  if(ms <= 0)
    return ETIMEDOUT;
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += (time_t)(ms / 1000);
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if(until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  return pthread_cond_timedwait(cond, lock, &until);
}
