/* SPDX-License-Identifier: MIT */
/* test_keeper_rank.c - the ordered set with ranks (keeper/rank.h) against a
 * plain sorted model, and the schedule's counts by state, least time left
 * and most urgent calls (kept in that order, sched.h) against a pass over
 * every call, through random registrations, restores, successes, failures,
 * ends, revivals and removals.  Seeded (MGCALL_TEST_SEED repeats a run);
 * the seed is printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keeper/rank.h"
#include "keeper/sched.h"

static uint64_t rng;

static uint64_t next(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static unsigned below(unsigned n)
{
  return (unsigned)(next() % n);
}

static int setup(void **state)
{
  (void)state;
  const char *e = getenv("MGCALL_TEST_SEED");
  uint64_t seed = e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL);
  printf("seed %llu (MGCALL_TEST_SEED=%llu repeats this run)\n",
         (unsigned long long)seed, (unsigned long long)seed);
  rng = seed * 2654435761u + 1;
  return 0;
}

/* ---- the set itself ---- */

#define NODES 600

static int by_key_then_address(const void *a, const void *b)
{
  const struct krank_node *x = *(const struct krank_node *const *)a;
  const struct krank_node *y = *(const struct krank_node *const *)b;
  if(x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return (uintptr_t)x < (uintptr_t)y ? -1 : (uintptr_t)x > (uintptr_t)y;
}

static void test_rank_against_model(void **state)
{
  (void)state;
  static struct krank_node node[NODES];
  static int in[NODES];
  memset(node, 0, sizeof(node));
  memset(in, 0, sizeof(in));
  struct krank t;
  krank_init(&t, next());
  assert_int_equal(krank_size(&t), 0);
  assert_null(krank_nth(&t, 0));
  for(int step = 0; step < 20000; step++) {
    int i = (int)below(NODES);
    if(in[i] && below(3) == 0) { /* out */
      krank_remove(&t, &node[i]);
      in[i] = 0;
    }
    else { /* in, or a new key (out, change, in); few keys: many ties */
      if(in[i])
        krank_remove(&t, &node[i]);
      node[i].key = (int64_t)below(200) - 100;
      krank_insert(&t, &node[i]);
      in[i] = 1;
    }
    if(step % 97)
      continue;
    /* the model: the nodes in the set, sorted */
    struct krank_node *m[NODES];
    size_t n = 0;
    for(int j = 0; j < NODES; j++)
      if(in[j])
        m[n++] = &node[j];
    qsort(m, n, sizeof(m[0]), by_key_then_address);
    assert_int_equal(krank_size(&t), n);
    for(size_t r = 0; r < n; r++)
      assert_ptr_equal(krank_nth(&t, r), m[r]);
    assert_null(krank_nth(&t, n));
    for(int64_t k = -102; k <= 102; k += 3) {
      size_t want = 0;
      while(want < n && m[want]->key < k)
        want++;
      assert_int_equal(krank_count_below(&t, k), want);
    }
  }
}

/* ---- the schedule's by-deadline order ---- */

#define SEC 1000
#define MIN (60 * SEC)
#define CALLS 300

struct pass {
  const struct ks_sched *s;
  int64_t now;
  size_t counts[4];
  int64_t min_left;
  int64_t deadlines[CALLS * 2];
  size_t nlive;
};

static void look(void *ud, struct ks_call *c)
{
  struct pass *p = ud;
  enum ks_state st = ks_state_at(p->s, c, p->now);
  p->counts[st]++;
  if(st == KS_ENDED || st == KS_LOST)
    return;
  int64_t left = ks_deadline_mono(p->s, c) - p->now;
  if(left < 0)
    left = 0;
  if(p->min_left < 0 || left < p->min_left)
    p->min_left = left;
  p->deadlines[p->nlive++] = ks_deadline_mono(p->s, c);
}

static int cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int pick_some(void *ud, const struct ks_call *c)
{
  (void)ud;
  return c->call_id[1] == '7'; /* "c7", "c70".."c79", "c7xx" */
}

/* What the schedule says equals a pass over every call. */
static void check_sched(struct ks_sched *s, int64_t now)
{
  struct pass p = {.s = s, .now = now, .min_left = -1};
  ks_foreach(s, look, &p);
  size_t counts[4];
  ks_count_states(s, now, counts);
  for(int st = 0; st < 4; st++)
    assert_int_equal(counts[st], p.counts[st]);
  assert_int_equal(ks_min_time_left(s, now), p.min_left);
  qsort(p.deadlines, p.nlive, sizeof(p.deadlines[0]), cmp_i64);
  struct ks_call *worst[25];
  size_t n = ks_most_urgent(s, worst, 25);
  assert_int_equal(n, p.nlive < 25 ? p.nlive : 25);
  for(size_t i = 0; i < n; i++) {
    assert_true(worst[i]->state != KS_ENDED && worst[i]->state != KS_LOST);
    assert_int_equal(ks_deadline_mono(s, worst[i]), p.deadlines[i]);
  }
}

static void test_sched_counts_against_a_pass(void **state)
{
  (void)state;
  /* deadline 45 min: at risk under 10 min before it */
  struct ks_config cfg = {15 * MIN, 45 * MIN, 10};
  struct ks_sched *s = ks_sched_new(&cfg, next());
  assert_non_null(s);
  const int64_t wall0 = 1700000000000LL;
  int64_t now = 50 * MIN; /* monotonic */
  check_sched(s, now);
  for(int step = 0; step < 6000; step++) {
    char id[16];
    snprintf(id, sizeof(id), "c%u", below(CALLS));
    struct ks_call *c = ks_find(s, id);
    int64_t wall = wall0 + now;
    switch(below(8)) {
    case 0: /* register (again: revives an ended one), maybe started long
               ago (at risk, or past its deadline) */
      ks_track(s, id, NULL, below(2) ? wall - (int64_t)below(50) * MIN : 0, now,
               wall, NULL);
      break;
    case 1: /* loaded from the store */
      if(!c)
        ks_restore(s, id, NULL, wall - 60 * MIN, 0,
                   below(2) ? wall - (int64_t)below(50) * MIN : 0, 0, NULL, now,
                   wall);
      break;
    case 2: /* its keepAlive goes out and succeeds (sent a while ago) */
    case 3:
      if(c && ks_collect_due(s, now + 60 * MIN)) {
        struct ks_call *r;
        while((r = ks_next_ready(s))) {
          int64_t sent = now - (int64_t)below(30) * SEC;
          if(below(4))
            ks_on_success(s, r, sent, wall0 + sent);
          else if(ks_on_failure(s, r, "503", now))
            ks_end(s, r, KS_REASON_LOST);
        }
      }
      break;
    case 4: /* ended */
      if(c)
        ks_end(s, c, below(5) ? KS_REASON_REMOVED : KS_REASON_LOST);
      break;
    case 5: /* dropped from memory */
      if(c && !below(3))
        ks_forget(s, c);
      break;
    case 6: /* many dropped at once */
      if(!below(40))
        ks_forget_if(s, pick_some, NULL);
      break;
    default: /* time passes */
      now += (int64_t)below(90) * SEC;
      break;
    }
    if(step % 7 == 0)
      check_sched(s, now);
  }
  check_sched(s, now);
  check_sched(s, now + 40 * MIN); /* later: more at risk, none in the past */
  ks_sched_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rank_against_model),
      cmocka_unit_test(test_sched_counts_against_a_pass),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
