/* SPDX-License-Identifier: MIT */
/* rank.h - an ordered set with ranks: an intrusive treap (a binary search
 * tree kept balanced by random priorities, expected depth O(log n)) whose
 * nodes know the size of their subtree.  Insert, remove, "how many keys
 * are below k" and "the i-th smallest" all take O(log n), so the keeper's
 * status page and metrics read the calls closest to their deadline and
 * the number at risk without a pass over every call (sched.c).
 *
 * Keys are int64_t; equal keys are ordered by node address, so every node
 * has one place.  A node's key must not change while it is in the set
 * (remove, change, insert).  Not thread-safe. */
#ifndef MGCALL_KEEPER_RANK_H
#define MGCALL_KEEPER_RANK_H

#include <stddef.h>
#include <stdint.h>

struct krank_node {
  struct krank_node *left, *right;
  int64_t key;
  uint32_t prio; /* heap order: a parent's is >= its children's */
  uint32_t size; /* nodes in this subtree, this one included */
};

struct krank {
  struct krank_node *root;
  uint64_t rng;
};

/* An empty set; seed varies the priorities (any value). */
void krank_init(struct krank *t, uint64_t seed);
/* Add n (not in the set) with the key n->key. */
void krank_insert(struct krank *t, struct krank_node *n);
/* Take n (in the set) out. */
void krank_remove(struct krank *t, struct krank_node *n);
/* How many nodes the set holds. */
size_t krank_size(const struct krank *t);
/* How many nodes have a key < key. */
size_t krank_count_below(const struct krank *t, int64_t key);
/* The node of rank i (0 = the smallest key), NULL when i >= size. */
struct krank_node *krank_nth(const struct krank *t, size_t i);

#endif
