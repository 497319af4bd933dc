/* SPDX-License-Identifier: MIT */
/* test_keeper_sched.c - the keeper's schedule: heap order, ready list,
 * jitter, retries before the deadline, states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keeper/sched.h"

#define SEC 1000
#define MIN (60 * SEC)

static struct ks_sched *mk(int64_t interval, int64_t deadline, unsigned jit)
{
  struct ks_config cfg = {interval, deadline, jit};
  struct ks_sched *s = ks_sched_new(&cfg, 42);
  assert_non_null(s);
  return s;
}

static void test_config_checked(void **state)
{
  (void)state;
  struct ks_config bad1 = {45 * MIN, 45 * MIN, 10};
  struct ks_config bad2 = {15 * MIN, 45 * MIN, 51};
  struct ks_config bad3 = {0, 45 * MIN, 10};
  assert_null(ks_sched_new(&bad1, 1));
  assert_null(ks_sched_new(&bad2, 1));
  assert_null(ks_sched_new(&bad3, 1));
}

static void test_first_at_once_then_interval(void **state)
{
  (void)state;
  struct ks_sched *s = mk(15 * MIN, 45 * MIN, 0);
  int created = -1;
  struct ks_call *c = ks_track(s, "a", "t1", 0, 1000, 1700000000000, &created);
  assert_non_null(c);
  assert_int_equal(created, 1);
  assert_string_equal(c->tenant_id, "t1");
  assert_int_equal(ks_wait_ms(s, 1000), 0);
  assert_int_equal(ks_collect_due(s, 1000), 1);
  assert_ptr_equal(ks_next_ready(s), c);
  assert_null(ks_next_ready(s));
  assert_int_equal(c->in_flight, 1);
  assert_int_equal(ks_wait_ms(s, 1000), -1);
  ks_on_success(s, c, 1000, 1700000000000);
  assert_int_equal(c->in_flight, 0);
  assert_int_equal(c->due_mono, 1000 + 15 * MIN); /* no jitter */
  assert_int_equal(ks_wait_ms(s, 1000), 15 * MIN);
  assert_int_equal(ks_collect_due(s, 1000 + 15 * MIN - 1), 0);
  assert_int_equal(ks_collect_due(s, 1000 + 15 * MIN), 1);
  /* a second add of the same id is not a new registration */
  assert_ptr_equal(ks_track(s, "a", NULL, 0, 2000, 0, &created), c);
  assert_int_equal(created, 0);
  ks_sched_free(s);
}

static void test_started_at(void **state)
{
  (void)state;
  struct ks_sched *s = mk(15 * MIN, 45 * MIN, 0);
  int64_t wall = 1700000000000;
  /* started 5 minutes ago: due 10 minutes from now, deadline in 40 */
  struct ks_call *c =
      ks_track(s, "b", NULL, wall - 5 * MIN, 100000, wall, NULL);
  assert_non_null(c);
  assert_null(c->tenant_id);
  assert_int_equal(c->due_mono, 100000 + 10 * MIN);
  assert_int_equal(ks_deadline_mono(s, c), 100000 + 40 * MIN);
  /* started an hour ago: at once, last chance */
  struct ks_call *d =
      ks_track(s, "c", NULL, wall - 60 * MIN, 100000, wall, NULL);
  assert_int_equal(d->due_mono, 100000);
  assert_int_equal(d->last_chance, 1);
  ks_sched_free(s);
}

static void test_heap_order_and_fifo(void **state)
{
  (void)state;
  struct ks_sched *s = mk(10 * SEC, 30 * SEC, 0);
  char id[16];
  /* 100 calls, due at pseudo-random times via successes */
  for(int i = 0; i < 100; i++) {
    snprintf(id, sizeof(id), "c%03d", i);
    assert_non_null(ks_track(s, id, NULL, 0, 0, 0, NULL));
  }
  assert_int_equal(ks_collect_due(s, 0), 100);
  /* equal deadlines: registration order (sequence tie-break) */
  for(int i = 0; i < 100; i++) {
    struct ks_call *c = ks_next_ready(s);
    snprintf(id, sizeof(id), "c%03d", i);
    assert_string_equal(c->call_id, id);
    int64_t sent = (i * 7919) % 1000; /* scrambled send times */
    ks_on_success(s, c, sent, sent);
  }
  assert_int_equal(ks_scheduled(s), 100);
  assert_int_equal(ks_collect_due(s, 10 * SEC + 999), 100);
  int64_t prev = -1;
  struct ks_call *c;
  while((c = ks_next_ready(s))) {
    assert_true(c->due_mono >= prev);
    prev = c->due_mono;
  }
  ks_sched_free(s);
}

static void test_jitter_spreads_within_bounds(void **state)
{
  (void)state;
  struct ks_sched *s = mk(15 * MIN, 45 * MIN, 10);
  char id[16];
  int64_t lo = INT64_MAX, hi = 0;
  for(int i = 0; i < 500; i++) {
    snprintf(id, sizeof(id), "j%d", i);
    struct ks_call *c = ks_track(s, id, NULL, 0, 0, 0, NULL);
    ks_collect_due(s, 0);
    ks_next_ready(s);
    ks_on_success(s, c, 0, 0);
    if(c->due_mono < lo)
      lo = c->due_mono;
    if(c->due_mono > hi)
      hi = c->due_mono;
  }
  assert_true(lo >= 15 * MIN - 90 * SEC);
  assert_true(hi <= 15 * MIN + 90 * SEC);
  assert_true(hi - lo > 60 * SEC); /* actually spread */
  ks_sched_free(s);
}

/* Whatever fails, every retry lands before the deadline, and the delays
 * grow until the halving bound takes over. */
static void check_retries_before_deadline(int64_t interval, int64_t deadline)
{
  struct ks_sched *s = mk(interval, deadline, 10);
  struct ks_call *c = ks_track(s, "r", NULL, 0, 0, 0, NULL);
  ks_collect_due(s, 0);
  ks_next_ready(s);
  ks_on_success(s, c, 0, 0);
  int64_t now = c->due_mono;
  int64_t dl = ks_deadline_mono(s, c);
  int64_t prev_delay = 0;
  int lost = 0, tries = 0;
  for(tries = 0; tries < 200 && !lost; tries++) {
    assert_true(now < dl);
    assert_int_equal(ks_collect_due(s, now), 1);
    assert_ptr_equal(ks_next_ready(s), c);
    lost = ks_on_failure(s, c, "503", now);
    if(lost)
      break;
    int64_t delay = c->due_mono - now;
    assert_true(c->due_mono < dl);
    if(tries < 2)
      assert_true(delay >= prev_delay);
    prev_delay = delay;
    now = c->due_mono;
  }
  assert_true(tries >= 3); /* several retries fit */
  assert_true(tries < 200);
  /* the last retries happen near the deadline and the call is then lost */
  assert_int_equal(lost, 1);
  assert_int_equal(ks_end(s, c, KS_REASON_LOST), 0);
  assert_int_equal(c->state, KS_LOST);
  assert_int_equal(c->reason, KS_REASON_LOST);
  ks_sched_free(s);
}

static void test_retry_before_deadline(void **state)
{
  (void)state;
  check_retries_before_deadline(15 * MIN, 45 * MIN);
  check_retries_before_deadline(1 * SEC, 3 * SEC);
  check_retries_before_deadline(60 * SEC, 180 * SEC);
}

static void test_retry_delay_shape(void **state)
{
  (void)state;
  struct ks_sched *s = mk(15 * MIN, 45 * MIN, 10);
  /* plenty of time: 3 s, 6 s, 12 s ... capped at 1/40 of the slack (30
   * min): 45 s, so the attempts stay spread over the whole slack */
  assert_int_equal(ks_retry_delay(s, 1, 30 * MIN), 3 * SEC);
  assert_int_equal(ks_retry_delay(s, 2, 30 * MIN), 6 * SEC);
  assert_int_equal(ks_retry_delay(s, 3, 30 * MIN), 12 * SEC);
  assert_int_equal(ks_retry_delay(s, 5, 30 * MIN), 45 * SEC);
  assert_int_equal(ks_retry_delay(s, 20, 30 * MIN), 45 * SEC);
  /* little time: half of what remains minus the guard */
  assert_true(ks_retry_delay(s, 20, 60 * SEC) < 30 * SEC);
  ks_sched_free(s);
  /* the base is 1/40 of the slack between interval and deadline, and so
   * is the cap: below 2 minutes of slack (base clamped to 3 s) a fixed
   * step (the chaos soak: 1 s, where doubling left 8 s between the third
   * and the fourth attempt) */
  s = mk(20 * SEC, 60 * SEC, 10);
  assert_int_equal(ks_retry_delay(s, 1, 40 * SEC), 1 * SEC);
  assert_int_equal(ks_retry_delay(s, 2, 40 * SEC), 1 * SEC);
  assert_int_equal(ks_retry_delay(s, 3, 40 * SEC), 1 * SEC);
  ks_sched_free(s);
  s = mk(5 * MIN, 15 * MIN, 10);
  assert_int_equal(ks_retry_delay(s, 1, 10 * MIN), 3 * SEC);
  assert_int_equal(ks_retry_delay(s, 2, 10 * MIN), 6 * SEC);
  assert_int_equal(ks_retry_delay(s, 3, 10 * MIN), 12 * SEC);
  assert_int_equal(ks_retry_delay(s, 4, 10 * MIN), 15 * SEC);
  ks_sched_free(s);
  s = mk(1 * SEC, 3 * SEC, 10);
  assert_int_equal(ks_retry_delay(s, 1, 2 * SEC), 50);
  assert_int_equal(ks_retry_delay(s, 5, 2 * SEC), 50);
  /* near the deadline: half the room, but never under 1% of the deadline,
   * so a run of failures gets many attempts before it is lost */
  assert_int_equal(ks_retry_delay(s, 9, 500), 50); /* cap, < (500-300)/2 */
  assert_int_equal(ks_retry_delay(s, 9, 360), 30); /* (360 - 300) / 2 */
  assert_int_equal(ks_retry_delay(s, 9, 330), 30);
  assert_int_equal(ks_retry_delay(s, 9, 310), 30);
  ks_sched_free(s);
  s = mk(15 * MIN, 45 * MIN, 10);
  assert_int_equal(ks_retry_delay(s, 20, 6 * SEC), 27 * SEC); /* 1% of 45m */
  ks_sched_free(s);
}

/* Attempts a run of failures gets between the due time and the deadline
 * (interval 1 s, deadline 3 s, each attempt taking rtt ms). */
static int attempts_in_window(int64_t rtt)
{
  struct ks_sched *s = mk(1 * SEC, 3 * SEC, 10);
  int64_t remaining = 2 * SEC, n = 0;
  for(int failures = 1; failures < 1000; failures++) {
    n++;
    remaining -= rtt;
    int64_t d = ks_retry_delay(s, failures, remaining);
    if(d >= remaining)
      break;
    remaining -= d;
  }
  ks_sched_free(s);
  return (int)n;
}

static void test_retry_attempts_near_deadline(void **state)
{
  (void)state;
  /* 30% random faults must need a long run of failures to lose a call:
   * at least 30 attempts (0.3^30 = 2e-16) with 10 ms round trips (37 with
   * the waits capped at 1/40 of the slack; 15 when the cap was d/4). */
  assert_true(attempts_in_window(10) >= 30);
  assert_true(attempts_in_window(1) >= 36);
}

/* Retry-After: the retry waits at least that long (never less than the
 * backoff), but never past deadline - guard; reaching beyond is flagged. */
static struct ks_call *failing_call(struct ks_sched *s, const char *id)
{
  struct ks_call *c = ks_track(s, id, NULL, 0, 0, 0, NULL);
  ks_collect_due(s, 0);
  assert_ptr_equal(ks_next_ready(s), c);
  return c;
}

static void requeue(struct ks_sched *s, struct ks_call *c)
{
  assert_int_equal(ks_collect_due(s, c->due_mono), 1);
  assert_ptr_equal(ks_next_ready(s), c);
}

static void test_retry_after(void **state)
{
  (void)state;
  /* 15 min / 45 min: guard 5 s, first backoff 3 s */
  struct ks_sched *s = mk(15 * MIN, 45 * MIN, 0);
  struct ks_call *c = failing_call(s, "ra");
  int clamped = -1;
  /* Retry-After 20 s beats the 3 s backoff */
  assert_int_equal(ks_on_failure_after(s, c, "429", 0, 20 * SEC, &clamped), 0);
  assert_int_equal(c->due_mono, 20 * SEC);
  assert_int_equal(clamped, 0);
  /* a Retry-After shorter than the backoff (6 s now) changes nothing */
  requeue(s, c);
  assert_int_equal(
      ks_on_failure_after(s, c, "503", 20 * SEC, 1 * SEC, &clamped), 0);
  assert_int_equal(c->due_mono, 26 * SEC);
  assert_int_equal(clamped, 0);
  /* none given (-1): the backoff (12 s) */
  requeue(s, c);
  assert_int_equal(ks_on_failure_after(s, c, "503", 26 * SEC, -1, &clamped), 0);
  assert_int_equal(c->due_mono, 38 * SEC);
  /* beyond the bound: at half of what remains minus the guard, flagged */
  requeue(s, c);
  assert_int_equal(
      ks_on_failure_after(s, c, "429", 38 * SEC, 50 * MIN, &clamped), 0);
  assert_int_equal(c->due_mono, 38 * SEC + (45 * MIN - 38 * SEC - 5 * SEC) / 2);
  assert_int_equal(clamped, 1);
  /* Retry-After never pushes a retry past the deadline: the waits keep
   * halving, every retry lands before it, then the call is lost */
  int lost = 0, tries;
  for(tries = 0; tries < 100 && !lost; tries++) {
    assert_true(c->due_mono < ks_deadline_mono(s, c));
    requeue(s, c);
    lost = ks_on_failure_after(s, c, "429", c->due_mono, 50 * MIN, &clamped);
  }
  assert_int_equal(lost, 1);
  assert_true(tries > 5);
  ks_sched_free(s);

  /* second-scale: 1 s / 3 s, guard 300 ms, first backoff 50 ms */
  s = mk(1 * SEC, 3 * SEC, 0);
  c = failing_call(s, "rb");
  assert_int_equal(ks_on_failure_after(s, c, "429", 0, 1 * SEC, &clamped), 0);
  assert_int_equal(c->due_mono, 1 * SEC); /* bound (3000 - 300) / 2 = 1350 */
  assert_int_equal(clamped, 0);
  requeue(s, c);
  assert_int_equal(ks_on_failure_after(s, c, "503", 1 * SEC, 5 * SEC, &clamped),
                   0);
  assert_int_equal(c->due_mono, 1 * SEC + (2 * SEC - 300) / 2);
  assert_int_equal(clamped, 1);
  /* a plain ks_on_failure() is the same as no Retry-After */
  struct ks_call *d = failing_call(s, "rc");
  assert_int_equal(ks_on_failure(s, d, "503", 0), 0);
  assert_int_equal(d->due_mono, 50);
  ks_sched_free(s);
}

static void test_success_after_failures_resets(void **state)
{
  (void)state;
  struct ks_sched *s = mk(1 * SEC, 3 * SEC, 0);
  struct ks_call *c = ks_track(s, "x", NULL, 0, 0, 0, NULL);
  ks_collect_due(s, 0);
  ks_next_ready(s);
  assert_int_equal(ks_on_failure(s, c, "http 503", 0), 0);
  assert_int_equal(c->failures, 1);
  assert_string_equal(c->last_error, "http 503");
  ks_collect_due(s, c->due_mono);
  ks_next_ready(s);
  ks_on_success(s, c, 500, 1500);
  assert_int_equal(c->failures, 0);
  assert_null(c->last_error);
  assert_int_equal(c->last_success_wall, 1500);
  assert_int_equal(ks_deadline_mono(s, c), 3500);
  ks_sched_free(s);
}

static void test_states(void **state)
{
  (void)state;
  struct ks_sched *s = mk(15 * MIN, 45 * MIN, 0);
  assert_int_equal(ks_at_risk_ms(s), 10 * MIN);
  struct ks_call *c = ks_track(s, "s", NULL, 0, 0, 0, NULL);
  assert_int_equal(ks_state_at(s, c, 0), KS_ACTIVE);
  assert_int_equal(ks_state_at(s, c, 35 * MIN), KS_ACTIVE);
  assert_int_equal(ks_state_at(s, c, 35 * MIN + 1), KS_AT_RISK);
  size_t counts[4];
  ks_count_states(s, 40 * MIN, counts);
  assert_int_equal(counts[KS_AT_RISK], 1);
  assert_int_equal(ks_min_time_left(s, 40 * MIN), 5 * MIN);
  /* end: removed from the schedule once; a second end changes nothing */
  assert_int_equal(ks_end(s, c, KS_REASON_NOT_FOUND), 0);
  assert_int_equal(ks_end(s, c, KS_REASON_TERMINATED), -1);
  assert_int_equal(c->state, KS_ENDED);
  assert_int_equal(c->reason, KS_REASON_NOT_FOUND);
  assert_int_equal(ks_scheduled(s), 0);
  assert_int_equal(ks_wait_ms(s, 0), -1);
  assert_int_equal(ks_min_time_left(s, 0), -1);
  assert_string_equal(ks_state_name(KS_AT_RISK), "at-risk");
  assert_string_equal(ks_reason_name(KS_REASON_NOT_FOUND), "not-found");
  assert_int_equal(ks_state_parse("lost"), KS_LOST);
  assert_int_equal(ks_state_parse("nope"), -1);
  /* a result arriving after the end is ignored */
  ks_on_success(s, c, 1, 1);
  assert_int_equal(c->state, KS_ENDED);
  /* re-adding an ended call revives it */
  int created = 0;
  assert_ptr_equal(ks_track(s, "s", "t", 0, 100, 100, &created), c);
  assert_int_equal(created, 1);
  assert_int_equal(c->state, KS_ACTIVE);
  ks_sched_free(s);
  /* short deadlines scale the at-risk margin: 2/9 of 3 s */
  s = mk(1 * SEC, 3 * SEC, 0);
  assert_int_equal(ks_at_risk_ms(s), 666);
  ks_sched_free(s);
}

/* Due calls go out earliest deadline first: a retry whose deadline is
 * near is not stuck behind fresh calls that came due before it (a backlog
 * after an outage or under pushback). */
static void test_ready_earliest_deadline_first(void **state)
{
  (void)state;
  struct ks_sched *s = mk(10 * SEC, 30 * SEC, 0);
  struct ks_call *old = ks_track(s, "old", NULL, 0, 0, 0, NULL);
  ks_collect_due(s, 0);
  assert_ptr_equal(ks_next_ready(s), old);
  assert_int_equal(ks_on_failure(s, old, "503", 0), 0);
  int64_t retry = old->due_mono;
  assert_true(retry > 1);
  char id[16];
  for(int i = 0; i < 100; i++) { /* due at 1 ms, deadlines 1 ms later */
    snprintf(id, sizeof(id), "f%03d", i);
    assert_non_null(ks_track(s, id, NULL, 0, 1, 1, NULL));
  }
  assert_int_equal(ks_collect_due(s, retry), 101);
  assert_ptr_equal(ks_peek_ready(s), old);
  assert_ptr_equal(ks_next_ready(s), old);
  for(int i = 0; i < 100; i++) { /* equal deadlines: registration order */
    struct ks_call *c = ks_next_ready(s);
    snprintf(id, sizeof(id), "f%03d", i);
    assert_string_equal(c->call_id, id);
  }
  assert_null(ks_next_ready(s));
  ks_sched_free(s);
}

static void test_end_while_ready_or_queued(void **state)
{
  (void)state;
  struct ks_sched *s = mk(1 * SEC, 3 * SEC, 0);
  struct ks_call *a = ks_track(s, "a", NULL, 0, 0, 0, NULL);
  struct ks_call *b = ks_track(s, "b", NULL, 0, 0, 0, NULL);
  struct ks_call *c = ks_track(s, "c", NULL, 0, 0, 0, NULL);
  ks_collect_due(s, 0);
  assert_int_equal(ks_end(s, b, KS_REASON_REMOVED), 0); /* middle of list */
  assert_ptr_equal(ks_next_ready(s), a);
  assert_int_equal(ks_end(s, c, KS_REASON_REMOVED), 0); /* tail */
  assert_null(ks_next_ready(s));
  struct ks_call *d = ks_track(s, "d", NULL, 0, 0, 0, NULL);
  ks_collect_due(s, 0);
  assert_ptr_equal(ks_next_ready(s), d); /* tail pointer still right */
  ks_forget(s, b);
  assert_null(ks_find(s, "b"));
  assert_int_equal(ks_count(s), 3);
  ks_sched_free(s);
}

static void test_restore(void **state)
{
  (void)state;
  struct ks_sched *s = mk(15 * MIN, 45 * MIN, 0);
  int64_t wall = 1700000000000;
  /* last success 5 min ago: due in 10 min, deadline in 40 */
  struct ks_call *c = ks_restore(s, "a", "t", wall - 60 * MIN, 0,
                                 wall - 5 * MIN, 0, NULL, 50000, wall);
  assert_non_null(c);
  assert_int_equal(c->due_mono, 50000 + 10 * MIN);
  assert_int_equal(ks_deadline_mono(s, c), 50000 + 40 * MIN);
  assert_int_equal(c->last_chance, 0);
  /* never kept alive: at once */
  c = ks_restore(s, "b", NULL, wall - 1000, 0, 0, 0, NULL, 50000, wall);
  assert_int_equal(c->due_mono, 50000);
  /* the deadline passed while down: at once, one last chance */
  c = ks_restore(s, "c", NULL, wall - 120 * MIN, 0, wall - 50 * MIN, 2, "x",
                 50000, wall);
  assert_int_equal(c->due_mono, 50000);
  assert_int_equal(c->last_chance, 1);
  assert_int_equal(c->failures, 2);
  ks_collect_due(s, 50000);
  /* both due: the one whose deadline passed goes first (earliest deadline) */
  struct ks_call *last = ks_next_ready(s);
  assert_ptr_equal(last, c);
  assert_ptr_equal(ks_next_ready(s), ks_find(s, "b"));
  assert_int_equal(ks_on_failure(s, c, "503", 50001), 1);
  assert_int_equal(ks_end(s, c, KS_REASON_LOST), 0);
  assert_int_equal(c->state, KS_LOST);
  assert_int_equal(c->reason, KS_REASON_LOST);
  /* duplicate ids are refused */
  assert_null(ks_restore(s, "a", NULL, 0, 0, 0, 0, NULL, 0, wall));
  ks_sched_free(s);
}

/* The start-up surge: many restored calls overdue at once are spread over
 * 1/8 of the time left before their deadlines (most urgent first), and a
 * registration made meanwhile is due at once, ahead of the backlog. */
static void test_restart_surge(void **state)
{
  (void)state;
  struct ks_sched *s = mk(20 * SEC, 60 * SEC, 0);
  int64_t wall = 1700000000000, now = 500000;
  enum { N = 1000 };
  /* last successes 21..55.9 s ago: all overdue, deadlines 39..4.1 s away,
   * restored in an order unrelated to their deadlines */
  for(int i = 0; i < N; i++) {
    char id[16];
    int k = (i * 7919) % N;
    snprintf(id, sizeof(id), "c%d", k);
    int64_t age = 21 * SEC + k * 35;
    assert_non_null(
        ks_restore(s, id, NULL, wall - MIN, 0, wall - age, 0, NULL, now, wall));
  }
  /* the most urgent (4.1 s left) comes after 4.1 / 8 s, the least urgent
   * (39 s left) after 39 / 8 s: not all at once */
  const struct ks_call *most = ks_find(s, "c999"), *least = ks_find(s, "c0");
  assert_int_equal(most->due_mono, now + (60 * SEC - 21 * SEC - 999 * 35) / 8);
  assert_int_equal(least->due_mono, now + 39 * SEC / 8);
  assert_int_equal(ks_collect_due(s, now), 0);
  /* a registration during the surge: at once */
  int created;
  struct ks_call *fresh =
      ks_track(s, "new", NULL, 0, now + 100, wall + 100, &created);
  assert_int_equal(ks_collect_due(s, now + 100), 1);
  assert_ptr_equal(ks_next_ready(s), fresh);
  /* the backlog in deadline order, spread over 0.5 .. 4.9 s */
  int64_t prev_deadline = 0, t = now + 100;
  size_t taken = 0;
  while(taken < N) {
    t += 10;
    ks_collect_due(s, t);
    struct ks_call *c;
    while((c = ks_next_ready(s))) {
      int64_t d = ks_deadline_mono(s, c);
      assert_true(d >= prev_deadline);
      prev_deadline = d;
      taken++;
    }
    assert_true(t < now + 5 * SEC);
  }
  assert_true(t > now + 4800);
  ks_sched_free(s);
}

/* An adoption (a dead keeper's calls, fleet mode): the overdue ones are
 * due at once, not spread, and come out earliest deadline first, ahead of
 * a registration made at the same moment; one not overdue keeps its
 * regular time. */
static void test_adopt_at_once(void **state)
{
  (void)state;
  struct ks_sched *s = mk(60 * SEC, 180 * SEC, 0);
  int64_t wall = 1700000000000, now = 500000;
  enum { N = 1000 };
  for(int i = 0; i < N; i++) {
    char id[16];
    int k = (i * 7919) % N;
    snprintf(id, sizeof(id), "c%d", k);
    int64_t age = 61 * SEC + k * 50; /* 61 .. 110.95 s: all overdue */
    assert_non_null(
        ks_adopt(s, id, NULL, wall - 5 * MIN, 0, wall - age, 0, NULL, now,
                 wall));
  }
  /* kept 30 s ago: due in 30 s, as by its schedule */
  struct ks_call *fine =
      ks_adopt(s, "fine", NULL, wall - MIN, 0, wall - 30 * SEC, 0, NULL, now,
               wall);
  assert_non_null(fine);
  assert_int_equal(fine->due_mono, now + 30 * SEC);
  /* never kept alive: at once too */
  assert_non_null(ks_adopt(s, "fresh", NULL, wall - SEC, 0, 0, 0, NULL, now,
                           wall));
  int created;
  struct ks_call *reg = ks_track(s, "reg", NULL, 0, now, wall, &created);
  assert_non_null(reg);
  /* every overdue one, the never-kept one and the registration: now */
  assert_int_equal(ks_collect_due(s, now), N + 2);
  int64_t prev_deadline = 0;
  for(int i = 0; i < N; i++) {
    struct ks_call *c = ks_next_ready(s);
    assert_non_null(c);
    assert_ptr_not_equal(c, reg);
    int64_t d = ks_deadline_mono(s, c);
    assert_true(d >= prev_deadline);
    prev_deadline = d;
  }
  /* the most urgent first: c999 (110.95 s old) came before all */
  assert_int_equal(prev_deadline, now + 180 * SEC - 61 * SEC);
  assert_non_null(ks_next_ready(s));
  assert_non_null(ks_next_ready(s));
  assert_null(ks_next_ready(s));
  /* the same rows restored after a restart would be spread */
  struct ks_sched *r = mk(60 * SEC, 180 * SEC, 0);
  struct ks_call *c = ks_restore(r, "x", NULL, wall - 5 * MIN, 0,
                                 wall - 100 * SEC, 0, NULL, now, wall);
  assert_int_equal(c->due_mono, now + 80 * SEC / KS_RESTORE_SPREAD);
  ks_sched_free(r);
  ks_sched_free(s);
}

static void test_bad_ids(void **state)
{
  (void)state;
  struct ks_sched *s = mk(1 * SEC, 3 * SEC, 0);
  char big[KS_ID_MAX + 2];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_null(ks_track(s, "", NULL, 0, 0, 0, NULL));
  assert_null(ks_track(s, big, NULL, 0, 0, 0, NULL));
  assert_int_equal(ks_count(s), 0);
  ks_sched_free(s);
  ks_sched_free(NULL);
}

static void test_dirty_list(void **state)
{
  (void)state;
  struct ks_sched *s = mk(1 * SEC, 3 * SEC, 0);
  struct ks_call *a = ks_track(s, "a", NULL, 0, 0, 0, NULL);
  struct ks_call *b = ks_track(s, "b", NULL, 0, 0, 0, NULL);
  ks_mark_dirty(s, a);
  ks_mark_dirty(s, a);
  ks_mark_dirty(s, b);
  int n = 0;
  for(struct ks_call *c = ks_take_dirty(s); c; c = c->next_dirty)
    n++;
  assert_int_equal(n, 2);
  assert_null(ks_take_dirty(s));
  assert_int_equal(a->dirty, 0);
  ks_sched_free(s);
}

static void test_many_calls(void **state)
{
  (void)state;
  struct ks_sched *s = mk(60 * SEC, 180 * SEC, 10);
  char id[32];
  for(int i = 0; i < 20000; i++) {
    snprintf(id, sizeof(id), "call-%d", i);
    assert_non_null(ks_track(s, id, NULL, 0, i, i, NULL));
  }
  assert_int_equal(ks_count(s), 20000);
  assert_non_null(ks_find(s, "call-19999"));
  assert_int_equal(ks_collect_due(s, 9999), 10000);
  ks_sched_free(s);
}

static int even_id(void *ud, const struct ks_call *c)
{
  (void)ud;
  return atoi(c->call_id + 1) % 2 == 0;
}

/* ks_forget_if: many calls out at once, the ready and dirty lists and the
 * heap stay consistent, a call with a request out stays. */
static void test_forget_if(void **state)
{
  (void)state;
  struct ks_sched *s = mk(1000, 3000, 0);
  char id[16];
  for(int i = 0; i < 1000; i++) {
    snprintf(id, sizeof(id), "c%d", i);
    int created;
    assert_non_null(ks_track(s, id, NULL, 0, 0, 0, &created));
  }
  assert_int_equal(ks_collect_due(s, 0), 1000);
  struct ks_call *out = ks_next_ready(s); /* c0: in flight, in a batch */
  assert_string_equal(out->call_id, "c0");
  out->in_batch = 1;
  for(int i = 0; i < 1000; i += 3) {
    snprintf(id, sizeof(id), "c%d", i);
    ks_mark_dirty(s, ks_find(s, id));
  }
  assert_int_equal(ks_forget_if(s, even_id, NULL), 499); /* not c0 */
  assert_int_equal(ks_count(s), 501);
  assert_non_null(ks_find(s, "c0"));
  assert_null(ks_find(s, "c2"));
  size_t n = 0;
  for(struct ks_call *c; (c = ks_next_ready(s)) != NULL; n++)
    assert_int_equal(atoi(c->call_id + 1) % 2, 1);
  assert_int_equal(n, 500);
  n = 0;
  for(struct ks_call *c = ks_take_dirty(s); c; c = c->next_dirty, n++)
    assert_true(atoi(c->call_id + 1) % 2 == 1 || c == out);
  assert_int_equal(n, 167 + 1); /* odd multiples of 3 below 1000, and c0 */
  ks_sched_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_checked),
      cmocka_unit_test(test_first_at_once_then_interval),
      cmocka_unit_test(test_started_at),
      cmocka_unit_test(test_heap_order_and_fifo),
      cmocka_unit_test(test_jitter_spreads_within_bounds),
      cmocka_unit_test(test_retry_before_deadline),
      cmocka_unit_test(test_retry_delay_shape),
      cmocka_unit_test(test_retry_attempts_near_deadline),
      cmocka_unit_test(test_success_after_failures_resets),
      cmocka_unit_test(test_states),
      cmocka_unit_test(test_end_while_ready_or_queued),
      cmocka_unit_test(test_ready_earliest_deadline_first),
      cmocka_unit_test(test_restore),
      cmocka_unit_test(test_restart_surge),
      cmocka_unit_test(test_adopt_at_once),
      cmocka_unit_test(test_bad_ids),
      cmocka_unit_test(test_dirty_list),
      cmocka_unit_test(test_many_calls),
      cmocka_unit_test(test_retry_after),
      cmocka_unit_test(test_forget_if),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
