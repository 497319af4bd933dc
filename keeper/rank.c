/* SPDX-License-Identifier: MIT */
/* rank.c - the ordered set with ranks (rank.h): a treap with subtree
 * sizes, split and merge on (key, address). */
#include "rank.h"

static uint32_t size_of(const struct krank_node *n)
{
  return n ? n->size : 0;
}

static void resize(struct krank_node *n)
{
  n->size = 1 + size_of(n->left) + size_of(n->right);
}

/* a sorts before b */
static int before(const struct krank_node *a, const struct krank_node *b)
{
  return a->key < b->key || (a->key == b->key && (uintptr_t)a < (uintptr_t)b);
}

/* Every node of a sorts before every node of b. */
static struct krank_node *merge(struct krank_node *a, struct krank_node *b)
{
  if(!a)
    return b;
  if(!b)
    return a;
  if(a->prio >= b->prio) {
    a->right = merge(a->right, b);
    resize(a);
    return a;
  }
  b->left = merge(a, b->left);
  resize(b);
  return b;
}

/* t into the nodes before pivot (*lo) and the others (*hi). */
static void split(struct krank_node *t, const struct krank_node *pivot,
                  struct krank_node **lo, struct krank_node **hi)
{
  if(!t) {
    *lo = *hi = NULL;
    return;
  }
  if(before(t, pivot)) {
    split(t->right, pivot, &t->right, hi);
    resize(t);
    *lo = t;
  }
  else {
    split(t->left, pivot, lo, &t->left);
    resize(t);
    *hi = t;
  }
}

void krank_init(struct krank *t, uint64_t seed)
{
  t->root = NULL;
  t->rng = seed ? seed : 0x9e3779b97f4a7c15u;
}

void krank_insert(struct krank *t, struct krank_node *n)
{
  /* xorshift64 */
  t->rng ^= t->rng << 13;
  t->rng ^= t->rng >> 7;
  t->rng ^= t->rng << 17;
  n->prio = (uint32_t)(t->rng >> 32);
  n->left = n->right = NULL;
  n->size = 1;
  struct krank_node *lo, *hi;
  split(t->root, n, &lo, &hi);
  t->root = merge(merge(lo, n), hi);
}

static struct krank_node *take(struct krank_node *t, struct krank_node *n)
{
  if(!t) /* not in the set: nothing to do */
    return NULL;
  if(t == n)
    return merge(t->left, t->right);
  if(before(n, t))
    t->left = take(t->left, n);
  else
    t->right = take(t->right, n);
  resize(t);
  return t;
}

void krank_remove(struct krank *t, struct krank_node *n)
{
  t->root = take(t->root, n);
  n->left = n->right = NULL;
  n->size = 0;
}

size_t krank_size(const struct krank *t)
{
  return size_of(t->root);
}

size_t krank_count_below(const struct krank *t, int64_t key)
{
  size_t below = 0;
  for(const struct krank_node *n = t->root; n;) {
    if(n->key < key) {
      below += size_of(n->left) + 1u;
      n = n->right;
    }
    else
      n = n->left;
  }
  return below;
}

struct krank_node *krank_nth(const struct krank *t, size_t i)
{
  for(struct krank_node *n = t->root; n;) {
    size_t left = size_of(n->left);
    if(i < left)
      n = n->left;
    else if(i == left)
      return n;
    else {
      i -= left + 1;
      n = n->right;
    }
  }
  return NULL;
}
