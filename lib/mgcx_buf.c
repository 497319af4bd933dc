/* SPDX-License-Identifier: MIT */
/* mgcx_buf.c - a capped growable buffer. */
#include "mgcx.h"

#include <stdlib.h>
#include <string.h>

void mgcx_buf_init(struct mgcx_buf *b, size_t max)
{
  b->data = NULL;
  b->len = b->cap = 0;
  b->max = max;
}

void mgcx_buf_release(struct mgcx_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int mgcx_buf_reserve(struct mgcx_buf *b, size_t n)
{
  if(n > b->max)
    return MGCX_BUF_TOO_BIG;
  if(n + 1 <= b->cap)
    return 0;
  char *d = realloc(b->data, n + 1);
  if(!d)
    return MGCX_BUF_NOMEM;
  if(!b->data)
    d[0] = '\0';
  b->data = d;
  b->cap = n + 1;
  return 0;
}

int mgcx_buf_add(struct mgcx_buf *b, const void *p, size_t n)
{
  if(n > b->max || b->len > b->max - n)
    return MGCX_BUF_TOO_BIG;
  if(b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while(cap < b->len + n + 1)
      cap *= 2;
    if(cap > b->max + 1)
      cap = b->max + 1;
    char *d = realloc(b->data, cap);
    if(!d)
      return MGCX_BUF_NOMEM;
    b->data = d;
    b->cap = cap;
  }
  if(n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}
