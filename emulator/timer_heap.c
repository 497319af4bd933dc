/* SPDX-License-Identifier: MIT */
/* timer_heap.c - binary min-heap keyed on (due, seq). */
#include "timer_heap.h"

#include <stdlib.h>

void emu_heap_init(struct emu_timer_heap *h, emu_heap_move_fn move, void *ctx)
{
  h->v = NULL;
  h->len = h->cap = h->seq = 0;
  h->move = move;
  h->ctx = ctx;
}

void emu_heap_release(struct emu_timer_heap *h)
{
  free(h->v);
  h->v = NULL;
  h->len = h->cap = 0;
}

static int before(const struct emu_timer *a, const struct emu_timer *b)
{
  if(a->due != b->due)
    return a->due < b->due;
  /* seq wraps after 4 billion timers: compare as a circular counter. */
  return (int32_t)(a->seq - b->seq) < 0;
}

static void place(struct emu_timer_heap *h, uint32_t pos, struct emu_timer t)
{
  h->v[pos] = t;
  if(h->move)
    h->move(h->ctx, t.item, pos);
}

static void sift_up(struct emu_timer_heap *h, uint32_t pos)
{
  struct emu_timer t = h->v[pos];
  while(pos > 0) {
    uint32_t parent = (pos - 1) / 2;
    if(!before(&t, &h->v[parent]))
      break;
    place(h, pos, h->v[parent]);
    pos = parent;
  }
  place(h, pos, t);
}

static void sift_down(struct emu_timer_heap *h, uint32_t pos)
{
  struct emu_timer t = h->v[pos];
  for(;;) {
    uint32_t child = 2 * pos + 1;
    if(child >= h->len)
      break;
    if(child + 1 < h->len && before(&h->v[child + 1], &h->v[child]))
      child++;
    if(!before(&h->v[child], &t))
      break;
    place(h, pos, h->v[child]);
    pos = child;
  }
  place(h, pos, t);
}

int emu_heap_push(struct emu_timer_heap *h, int64_t due, uint32_t item)
{
  if(h->len == h->cap) {
    uint32_t cap = h->cap ? h->cap * 2 : 1024;
    if(cap <= h->cap)
      return -1;
    struct emu_timer *v = realloc(h->v, (size_t)cap * sizeof(*v));
    if(!v)
      return -1;
    h->v = v;
    h->cap = cap;
  }
  struct emu_timer t = {due, h->seq++, item};
  h->v[h->len] = t;
  sift_up(h, h->len++);
  return 0;
}

void emu_heap_update(struct emu_timer_heap *h, uint32_t pos, int64_t due)
{
  if(pos >= h->len)
    return;
  h->v[pos].due = due;
  h->v[pos].seq = h->seq++;
  /* Either direction: if it moved up, whatever now sits at pos is already
   * in order and sift_down leaves it. */
  sift_up(h, pos);
  sift_down(h, pos);
}

void emu_heap_remove(struct emu_timer_heap *h, uint32_t pos)
{
  if(pos >= h->len)
    return;
  uint32_t item = h->v[pos].item;
  h->len--;
  if(pos != h->len) {
    h->v[pos] = h->v[h->len];
    sift_up(h, pos);
    sift_down(h, pos);
  }
  if(h->move)
    h->move(h->ctx, item, EMU_HEAP_NONE);
}

const struct emu_timer *emu_heap_top(const struct emu_timer_heap *h)
{
  return h->len ? &h->v[0] : NULL;
}
