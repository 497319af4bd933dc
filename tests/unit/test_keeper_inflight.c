/* SPDX-License-Identifier: MIT */
/* test_keeper_inflight.c - the in-flight controller on an injected clock:
 * Little's law sizing, limits, AIMD on pushback, rates, the warning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "keeper/inflight.h"

static struct kif *mk(unsigned fixed, unsigned max, int64_t interval)
{
  struct kif_config cfg = {fixed, max, interval};
  struct kif *f = kif_new(&cfg, 0);
  assert_non_null(f);
  return f;
}

/* Answer n keepAlives of latency ms each, one at a time, at now. */
static void answers(struct kif *f, int64_t now, int n, int64_t lat,
                    enum kif_answer a)
{
  for(int i = 0; i < n; i++)
    kif_done(f, now, lat, a, 100);
}

static void test_littles_law(void **state)
{
  (void)state;
  /* 5000 calls every 5 s = 1000/s; 100 ms latency: 100 in flight on
   * average, 200 with the headroom */
  struct kif *f = mk(0, 1000, 5000);
  answers(f, 10, 1, 100, KIF_ANSWER_OK);
  assert_int_equal(kif_tick(f, 10, 5000, 0), 0);
  assert_int_equal(kif_target(f), 200);
  struct kif_stats st;
  kif_get_stats(f, &st);
  assert_true(st.need_per_s > 999.9 && st.need_per_s < 1000.1);
  /* 300 ms: three times as many */
  for(int i = 0; i < 200; i++)
    kif_done(f, 20, 300, KIF_ANSWER_OK, 100);
  kif_tick(f, 20, 5000, 0);
  assert_in_range(kif_target(f), 590, 600);
  /* a backlog of due calls is planned to drain within a second */
  kif_tick(f, 30, 5000, 500);
  assert_in_range(kif_target(f), 890, 900);
  /* no more than the maximum */
  kif_tick(f, 40, 5000, 100000);
  assert_int_equal(kif_target(f), 1000);
  assert_int_equal(kif_max(f), 1000);
  /* at least the floor */
  kif_tick(f, 50, 1, 0);
  assert_int_equal(kif_target(f), KIF_FLOOR);
  kif_free(f);
}

static void test_default_max_and_small_max(void **state)
{
  (void)state;
  struct kif *f = mk(0, 0, 1000);
  assert_int_equal(kif_max(f), KIF_DEFAULT_MAX);
  kif_free(f);
  f = mk(0, 3, 1000);
  kif_tick(f, 0, 0, 0);
  assert_int_equal(kif_target(f), 3); /* the floor never exceeds max */
  kif_tick(f, 0, 100000, 0);
  assert_int_equal(kif_target(f), 3);
  kif_free(f);
}

static void test_fixed(void **state)
{
  (void)state;
  struct kif *f = mk(64, 1000, 5000);
  assert_int_equal(kif_target(f), 64);
  assert_int_equal(kif_max(f), 64);
  kif_tick(f, 0, 1000000, 100000);
  assert_int_equal(kif_target(f), 64);
  answers(f, 100, 50, 100, KIF_ANSWER_PUSHBACK);
  assert_int_equal(kif_target(f), 64); /* fixed means fixed */
  struct kif_stats st;
  kif_get_stats(f, &st);
  assert_int_equal(st.decreases, 0);
  assert_true(st.latency_ms > 99 && st.latency_ms < 101);
  kif_free(f);
}

static unsigned ceiling_of(const struct kif *f)
{
  struct kif_stats st;
  kif_get_stats(f, &st);
  return st.ceiling;
}

static void test_aimd(void **state)
{
  (void)state;
  struct kif *f = mk(0, 1000, 5000);
  int64_t now = 0;
  answers(f, now, 1, 100, KIF_ANSWER_OK);
  kif_tick(f, now, 5000, 0);
  assert_int_equal(kif_target(f), 200);
  /* a 429 with 150 out: the ceiling becomes 0.7 x 150 = 105 */
  kif_done(f, now, 100, KIF_ANSWER_PUSHBACK, 149);
  assert_int_equal(kif_target(f), 105);
  /* more 429s to requests sent before that cut do not cut again */
  kif_done(f, now + 50, 100, KIF_ANSWER_PUSHBACK, 149);
  kif_done(f, now + 99, 100, KIF_ANSWER_PUSHBACK, 149);
  kif_done(f, now + 100, 100, KIF_ANSWER_PUSHBACK, 149);
  assert_int_equal(kif_target(f), 105);
  /* one to a request sent after it does, from what is in flight */
  now += 101;
  kif_done(f, now, 100, KIF_ANSWER_PUSHBACK, 59);
  assert_int_equal(ceiling_of(f), 42);
  assert_int_equal(kif_target(f), 42);
  struct kif_stats st;
  kif_get_stats(f, &st);
  assert_int_equal(st.decreases, 2);
  /* however many of the answers to requests sent before that cut are
   * pushback, they cut nothing more */
  for(int i = 0; i < 1000; i++)
    kif_done(f, now + 1 + i / 100, 100,
             i % 8 ? KIF_ANSWER_OK : KIF_ANSWER_PUSHBACK, 100);
  kif_get_stats(f, &st);
  assert_int_equal(st.decreases, 2);
  /* never below the floor */
  for(int i = 0; i < 50; i++) {
    now += 200;
    kif_done(f, now, 100, KIF_ANSWER_PUSHBACK, 0);
  }
  assert_int_equal(ceiling_of(f), KIF_FLOOR);
  assert_int_equal(kif_target(f), KIF_FLOOR);
  /* answers raise it again: 1% of the max (10) per round trip, that is
   * 10 / ceiling per answer: 8 answers take it from 8 to 15.2 */
  answers(f, now, KIF_FLOOR, 100, KIF_ANSWER_OK);
  assert_int_equal(ceiling_of(f), 15);
  /* a network failure is neutral */
  unsigned t = ceiling_of(f);
  answers(f, now, 100, 100, KIF_ANSWER_NONE);
  assert_int_equal(ceiling_of(f), t);
  /* back to the demand after enough answers, never above it */
  answers(f, now, 5000, 100, KIF_ANSWER_OK);
  kif_tick(f, now, 5000, 0);
  assert_int_equal(kif_target(f), 200);
  kif_get_stats(f, &st);
  assert_true(st.ceiling > 200);
  kif_free(f);
}

/* A small share of 429/503 at any rate (a flaky service: the chaos soak's
 * 30% faults are 6% 429 and 6% 503) is noise, not a throttle: no cut.  A
 * share of a fifth or more is. */
static void test_pushback_share(void **state)
{
  (void)state;
  struct kif *f = mk(0, 1000, 5000);
  int64_t now = 0;
  for(int i = 0; i < 2000; i++, now += 1) /* 1 in 8: 12.5% */
    kif_done(f, now, 1, i % 8 == 7 ? KIF_ANSWER_PUSHBACK : KIF_ANSWER_OK, 100);
  struct kif_stats st;
  kif_get_stats(f, &st);
  assert_int_equal(st.decreases, 0);
  assert_int_equal(st.ceiling, 1000);
  for(int i = 0; i < 2000; i++, now += 1) /* 1 in 3: 33% */
    kif_done(f, now, 1, i % 3 == 2 ? KIF_ANSWER_PUSHBACK : KIF_ANSWER_OK, 100);
  kif_get_stats(f, &st);
  assert_true(st.decreases > 0);
  assert_true(st.ceiling < 1000);
  kif_free(f);
}

/* Latency is the mean over the window: a few slow answers among many fast
 * ones count for what they are (Little's law), not for the last one. */
static void test_latency_mean(void **state)
{
  (void)state;
  struct kif *f = mk(0, 1000, 5000);
  /* 94 answers of 1 ms, 6 of 2 s: mean 120.94 ms */
  for(int i = 0; i < 100; i++)
    kif_done(f, 100, i % 16 == 15 ? 2000 : 1, KIF_ANSWER_OK, 10);
  struct kif_stats st;
  kif_get_stats(f, &st);
  assert_true(st.latency_ms > 120 && st.latency_ms < 122);
  /* 1000/s needed: 2 x 1000 x 0.121 s = 242 in flight */
  kif_tick(f, 100, 5000, 0);
  assert_in_range(kif_target(f), 240, 244);
  /* the same answers, the last ones fast: the same mean */
  kif_free(f);
  f = mk(0, 1000, 5000);
  for(int i = 0; i < 100; i++)
    kif_done(f, 100, i < 6 ? 2000 : 1, KIF_ANSWER_OK, 10);
  kif_get_stats(f, &st);
  assert_true(st.latency_ms > 120 && st.latency_ms < 122);
  /* answers older than the window (5 s) no longer count */
  kif_done(f, 100 + 6000, 50, KIF_ANSWER_OK, 10);
  kif_get_stats(f, &st);
  assert_true(st.latency_ms > 49.9 && st.latency_ms < 50.1);
  kif_free(f);
}

static void test_rates(void **state)
{
  (void)state;
  struct kif *f = mk(0, 1000, 60000);
  /* 200 sends a second for 10 s, 20 retries a second */
  int64_t now = 0;
  for(int s = 0; s < 10; s++)
    for(int i = 0; i < 200; i++) {
      now = s * 1000 + i * 5;
      kif_sent(f, now, 0);
      if(i % 10 == 0)
        kif_retry(f, now);
      kif_tick(f, now, 6000, 0); /* 6000 calls / 60 s = 100/s */
    }
  struct kif_stats st;
  kif_get_stats(f, &st);
  assert_true(st.achieved_per_s > 195 && st.achieved_per_s < 205);
  assert_true(st.need_per_s > 115 && st.need_per_s < 125); /* 100 + 20 */
  /* after 5 s of silence the window is empty */
  kif_tick(f, now + 5250, 6000, 0);
  kif_get_stats(f, &st);
  assert_true(st.achieved_per_s < 0.001);
  assert_true(st.need_per_s > 99.9 && st.need_per_s < 100.1);
  /* a long gap clears everything at once */
  kif_sent(f, now + 60000, 0);
  kif_tick(f, now + 60000, 6000, 0);
  kif_get_stats(f, &st);
  assert_true(st.achieved_per_s > 0 && st.achieved_per_s <= 4);
  kif_free(f);
}

static void test_warning(void **state)
{
  (void)state;
  struct kif *f = mk(0, 1000, 5000);
  int64_t now = 0;
  /* on time: no warning however long */
  for(int i = 1; i <= 20; i++) {
    now = i * 1000;
    kif_sent(f, now, 30);
    assert_int_equal(kif_tick(f, now, 5000, 0), 0);
  }
  /* lateness grows past 1 s: one warning, then none for 30 s while it
   * keeps growing, then another */
  int warnings = 0;
  int64_t first = -1, second = -1;
  for(int i = 1; i <= 60; i++) {
    now += 1000;
    kif_sent(f, now, i * 200);
    if(kif_tick(f, now, 5000, 3000)) {
      warnings++;
      if(first < 0)
        first = now;
      else if(second < 0)
        second = now;
    }
  }
  assert_int_equal(warnings, 2);
  assert_true(second - first >= KIF_WARN_EVERY_MS);
  char msg[512];
  kif_describe(f, msg, sizeof(msg));
  assert_non_null(strstr(msg, "falling behind: keepAlives sent up to"));
  assert_non_null(strstr(msg, "3000 due not sent"));
  /* late but no longer growing: quiet */
  for(int i = 1; i <= 60; i++) {
    now += 1000;
    kif_sent(f, now, 5000);
    assert_int_equal(kif_tick(f, now, 5000, 0), 0);
  }
  kif_free(f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_littles_law),
      cmocka_unit_test(test_default_max_and_small_max),
      cmocka_unit_test(test_fixed),
      cmocka_unit_test(test_aimd),
      cmocka_unit_test(test_latency_mean),
      cmocka_unit_test(test_pushback_share),
      cmocka_unit_test(test_rates),
      cmocka_unit_test(test_warning),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
