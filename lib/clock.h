/* SPDX-License-Identifier: MIT */
/* clock.h - milliseconds of a monotonic clock (CLOCK_MONOTONIC). */
#ifndef MGCALL_CLOCK_H
#define MGCALL_CLOCK_H

#include <stdint.h>

uint64_t mgc__now_ms(void);

#endif
