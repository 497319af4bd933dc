/* SPDX-License-Identifier: MIT */
/* mgcx_heap.c - a binary min-heap of fixed-size elements. */
#include "mgcx.h"

#include <stdlib.h>
#include <string.h>

#define AT(h, i) ((h)->v + (i) * (h)->elem_size)

void mgcx_heap_init(struct mgcx_heap *h, size_t elem_size,
                    int (*before)(const void *a, const void *b),
                    void (*moved)(void *ctx, const void *elem, size_t pos),
                    void *ctx)
{
  memset(h, 0, sizeof(*h));
  h->elem_size = elem_size;
  h->before = before;
  h->moved = moved;
  h->ctx = ctx;
}

void mgcx_heap_release(struct mgcx_heap *h)
{
  free(h->v);
  h->v = NULL;
  h->len = h->cap = 0;
}

static void place(struct mgcx_heap *h, size_t i, const void *elem)
{
  memcpy(AT(h, i), elem, h->elem_size);
  if(h->moved)
    h->moved(h->ctx, AT(h, i), i);
}

/* Move elem (not in the heap) up from hole i; place it. */
static void sift_up(struct mgcx_heap *h, size_t i, const void *elem)
{
  while(i && h->before(elem, AT(h, (i - 1) / 2))) {
    place(h, i, AT(h, (i - 1) / 2));
    i = (i - 1) / 2;
  }
  place(h, i, elem);
}

/* Move elem (not in the heap) down from hole i; place it. */
static void sift_down(struct mgcx_heap *h, size_t i, const void *elem)
{
  for(;;) {
    size_t l = 2 * i + 1, r = l + 1, m = l;
    if(l >= h->len)
      break;
    if(r < h->len && h->before(AT(h, r), AT(h, l)))
      m = r;
    if(!h->before(AT(h, m), elem))
      break;
    place(h, i, AT(h, m));
    i = m;
  }
  place(h, i, elem);
}

int mgcx_heap_reserve(struct mgcx_heap *h, size_t n)
{
  if(n <= h->cap)
    return 0;
  size_t cap = h->cap ? h->cap : 64;
  while(cap < n) {
    if(cap > SIZE_MAX / 2)
      return -1;
    cap *= 2;
  }
  if(cap > SIZE_MAX / h->elem_size)
    return -1;
  unsigned char *v = realloc(h->v, cap * h->elem_size);
  if(!v)
    return -1;
  h->v = v;
  h->cap = cap;
  return 0;
}

int mgcx_heap_push(struct mgcx_heap *h, const void *elem)
{
  if(h->len == h->cap && mgcx_heap_reserve(h, h->len + 1))
    return -1;
  h->len++;
  sift_up(h, h->len - 1, elem);
  return 0;
}

void *mgcx_heap_top(const struct mgcx_heap *h)
{
  return h->len ? h->v : NULL;
}

int mgcx_heap_remove(struct mgcx_heap *h, size_t pos, void *out)
{
  if(pos >= h->len)
    return -1;
  unsigned char gone[64],
      *tmp = h->elem_size <= sizeof(gone) ? gone : malloc(h->elem_size);
  if(!tmp)
    return -1;
  memcpy(tmp, AT(h, pos), h->elem_size);
  if(out)
    memcpy(out, tmp, h->elem_size);
  if(h->moved)
    h->moved(h->ctx, tmp, MGCX_HEAP_NONE);
  h->len--;
  if(pos < h->len) {
    /* the last element fills the hole, up or down */
    const unsigned char *last = AT(h, h->len);
    if(pos && h->before(last, AT(h, (pos - 1) / 2)))
      sift_up(h, pos, last);
    else
      sift_down(h, pos, last);
  }
  if(tmp != gone)
    free(tmp);
  return 0;
}

int mgcx_heap_pop(struct mgcx_heap *h, void *out)
{
  return mgcx_heap_remove(h, 0, out);
}

void mgcx_heap_update(struct mgcx_heap *h, size_t pos)
{
  if(pos >= h->len)
    return;
  unsigned char buf[64],
      *tmp = h->elem_size <= sizeof(buf) ? buf : malloc(h->elem_size);
  if(!tmp)
    return; /* keeps the element where it is */
  memcpy(tmp, AT(h, pos), h->elem_size);
  if(pos && h->before(tmp, AT(h, (pos - 1) / 2)))
    sift_up(h, pos, tmp);
  else
    sift_down(h, pos, tmp);
  if(tmp != buf)
    free(tmp);
}
