/* SPDX-License-Identifier: MIT */
/* timer_heap.h - a binary min-heap of (due, seq, item) timers (libuv style),
 * on the one heap of lib/mgcx.h.
 * Each item (a uint32 index chosen by the caller) is in the heap at most
 * once; the caller keeps the position the heap reports through the
 * move callback so an item's timer can be changed or removed in O(log n).
 * Not thread-safe: the owner locks. */
#ifndef EMU_TIMER_HEAP_H
#define EMU_TIMER_HEAP_H

#include "mgcx.h"

#include <stddef.h>
#include <stdint.h>

#define EMU_HEAP_NONE UINT32_MAX

struct emu_timer {
  int64_t due;  /* monotonic milliseconds */
  uint32_t seq; /* insertion order: ties fire first-in first-out */
  uint32_t item;
};

/* Called whenever item moves to position pos (EMU_HEAP_NONE: removed). */
typedef void (*emu_heap_move_fn)(void *ctx, uint32_t item, uint32_t pos);

struct emu_timer_heap {
  struct mgcx_heap h; /* of struct emu_timer */
  uint32_t seq;
  emu_heap_move_fn move;
  void *ctx;
};

void emu_heap_init(struct emu_timer_heap *h, emu_heap_move_fn move, void *ctx);
void emu_heap_release(struct emu_timer_heap *h);

/* Add item due at due.  Returns 0, or -1 when out of memory. */
int emu_heap_push(struct emu_timer_heap *h, int64_t due, uint32_t item);

/* Change the due time of the timer at pos. */
void emu_heap_update(struct emu_timer_heap *h, uint32_t pos, int64_t due);

/* Remove the timer at pos. */
void emu_heap_remove(struct emu_timer_heap *h, uint32_t pos);

/* The earliest timer, or NULL when empty. */
const struct emu_timer *emu_heap_top(const struct emu_timer_heap *h);

#endif
