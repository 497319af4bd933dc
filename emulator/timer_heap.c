/* SPDX-License-Identifier: MIT */
/* timer_heap.c - (due, seq, item) timers on mgcx_heap. */
#include "timer_heap.h"

static int before(const void *x, const void *y)
{
  const struct emu_timer *a = x, *b = y;
  if(a->due != b->due)
    return a->due < b->due;
  /* seq wraps after 4 billion timers: compare as a circular counter. */
  return (int32_t)(a->seq - b->seq) < 0;
}

static void moved(void *ctx, const void *elem, size_t pos)
{
  struct emu_timer_heap *h = ctx;
  if(h->move)
    h->move(h->ctx, ((const struct emu_timer *)elem)->item,
            pos == MGCX_HEAP_NONE ? EMU_HEAP_NONE : (uint32_t)pos);
}

void emu_heap_init(struct emu_timer_heap *h, emu_heap_move_fn move, void *ctx)
{
  mgcx_heap_init(&h->h, sizeof(struct emu_timer), before, moved, h);
  h->seq = 0;
  h->move = move;
  h->ctx = ctx;
}

void emu_heap_release(struct emu_timer_heap *h)
{
  mgcx_heap_release(&h->h);
}

int emu_heap_push(struct emu_timer_heap *h, int64_t due, uint32_t item)
{
  if(h->h.len >= EMU_HEAP_NONE)
    return -1;
  struct emu_timer t = {due, h->seq++, item};
  return mgcx_heap_push(&h->h, &t);
}

void emu_heap_update(struct emu_timer_heap *h, uint32_t pos, int64_t due)
{
  struct emu_timer *t = pos < h->h.len ? (struct emu_timer *)h->h.v + pos
                                       : NULL;
  if(!t)
    return;
  t->due = due;
  t->seq = h->seq++;
  mgcx_heap_update(&h->h, pos);
}

void emu_heap_remove(struct emu_timer_heap *h, uint32_t pos)
{
  mgcx_heap_remove(&h->h, pos, NULL);
}

const struct emu_timer *emu_heap_top(const struct emu_timer_heap *h)
{
  return mgcx_heap_top(&h->h);
}
