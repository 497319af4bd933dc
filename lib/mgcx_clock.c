/* SPDX-License-Identifier: MIT */
/* mgcx_clock.c - milliseconds of the monotonic clock. */
#include "mgcx.h"

#include <time.h>

uint64_t mgcx_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
