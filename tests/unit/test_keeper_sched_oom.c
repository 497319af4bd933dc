/* SPDX-License-Identifier: MIT */
/* test_keeper_sched_oom.c - the schedule out of memory: putting a tracked
 * call back on the heap (after a keepAlive, on revival) never allocates, so
 * it cannot drop a live call or free one still referenced; a registration
 * that finds no memory is refused cleanly.  realloc is wrapped (see
 * tests/CMakeLists.txt) to fail on demand.
 * mgcall-test-link: -Wl,--wrap=realloc */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "keeper/sched.h"

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
static int fail_realloc; /* every realloc fails while set */
void *__wrap_realloc(void *p, size_t n)
{
  if(fail_realloc)
    return NULL;
  return __real_realloc(p, n);
}

#define MIN (60 * 1000)
#define NOW_WALL 1700000000000

static struct ks_sched *mk(void)
{
  struct ks_config cfg = {15 * MIN, 45 * MIN, 0};
  struct ks_sched *s = ks_sched_new(&cfg, 42);
  assert_non_null(s);
  return s;
}

/* track ids prefix0 .. prefix(n-1) at 1000 */
static void track_n(struct ks_sched *s, const char *prefix, int n)
{
  char id[32];
  for(int i = 0; i < n; i++) {
    snprintf(id, sizeof(id), "%s%d", prefix, i);
    assert_non_null(ks_track(s, id, NULL, 0, 1000, NOW_WALL, NULL));
  }
}

/* A keepAlive that succeeds puts its call back on the heap, which is full
 * (the heap had room for 256; 256 more calls came while one was out). */
static void test_success_reschedules_without_memory(void **state)
{
  (void)state;
  struct ks_sched *s = mk();
  track_n(s, "a", 256);
  assert_int_equal(ks_collect_due(s, 1000), 256);
  struct ks_call *c = ks_next_ready(s);
  assert_non_null(c);
  track_n(s, "b", 256);
  fail_realloc = 1;
  ks_on_success(s, c, 1000, NOW_WALL);
  fail_realloc = 0;
  assert_int_equal(c->state, KS_ACTIVE);
  assert_true(c->heap_idx != KS_NOT_QUEUED); /* still scheduled */
  assert_int_equal(c->due_mono, 1000 + 15 * MIN);
  ks_sched_free(s);
}

/* Same for a failed keepAlive that is retried. */
static void test_retry_reschedules_without_memory(void **state)
{
  (void)state;
  struct ks_sched *s = mk();
  track_n(s, "a", 256);
  assert_int_equal(ks_collect_due(s, 1000), 256);
  struct ks_call *c = ks_next_ready(s);
  track_n(s, "b", 256);
  fail_realloc = 1;
  int lost = ks_on_failure(s, c, "HTTP 503", 1000);
  fail_realloc = 0;
  assert_int_equal(lost, 0);
  assert_true(c->heap_idx != KS_NOT_QUEUED);
  ks_sched_free(s);
}

/* Reviving an ended call (still on the dirty list) on a full heap: it is
 * scheduled again, never freed. */
static void test_revive_without_memory(void **state)
{
  (void)state;
  struct ks_sched *s = mk();
  track_n(s, "a", 256);
  (void)ks_take_dirty(s);
  struct ks_call *x = ks_find(s, "a0");
  assert_int_equal(ks_end(s, x, KS_REASON_REMOVED), 0); /* dirty now */
  track_n(s, "b", 1); /* the heap is full again */
  fail_realloc = 1;
  int created = 0;
  struct ks_call *again = ks_track(s, "a0", NULL, 0, 2000, NOW_WALL, &created);
  fail_realloc = 0;
  assert_ptr_equal(again, x);
  assert_int_equal(created, 1);
  assert_true(x->heap_idx != KS_NOT_QUEUED);
  /* the dirty list still holds the call, alive */
  int found = 0;
  for(struct ks_call *d = ks_take_dirty(s); d; d = d->next_dirty)
    if(d == x && !strcmp(d->call_id, "a0"))
      found = 1;
  assert_true(found);
  ks_sched_free(s);
}

/* A new registration without memory for its heap slot: refused, nothing
 * else changed; it works once memory is back. */
static void test_register_without_memory(void **state)
{
  (void)state;
  struct ks_sched *s = mk();
  track_n(s, "a", 256);
  fail_realloc = 1;
  assert_null(ks_track(s, "new", NULL, 0, 1000, NOW_WALL, NULL));
  fail_realloc = 0;
  assert_null(ks_find(s, "new"));
  assert_int_equal(ks_collect_due(s, 1000), 256);
  assert_non_null(ks_track(s, "new", NULL, 0, 1000, NOW_WALL, NULL));
  assert_int_equal(ks_collect_due(s, 1000), 1);
  ks_sched_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_success_reschedules_without_memory),
      cmocka_unit_test(test_retry_reschedules_without_memory),
      cmocka_unit_test(test_revive_without_memory),
      cmocka_unit_test(test_register_without_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
