/* SPDX-License-Identifier: MIT */
/* test_retry.c - retry policy: statuses, Retry-After, backoff, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "retry.h"

static void test_statuses(void **state)
{
  (void)state;
  assert_true(mgc__retry_status(429));
  assert_true(mgc__retry_status(503));
  assert_true(mgc__retry_status(504));
  long no[] = {200, 400, 401, 403, 404, 500, 502, 0};
  for(size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
    assert_false(mgc__retry_status(no[i]));
}

static void test_retry_after(void **state)
{
  (void)state;
  uint64_t ms = 0;
  time_t now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
  assert_int_equal(mgc__retry_after_parse("120", now, &ms), 0);
  assert_int_equal(ms, 120000);
  assert_int_equal(mgc__retry_after_parse(" 0 ", now, &ms), 0);
  assert_int_equal(ms, 0);
  assert_int_equal(
      mgc__retry_after_parse("Wed, 21 Oct 2015 07:28:30 GMT", now, &ms), 0);
  assert_int_equal(ms, 30000);
  /* RFC 850 and asctime forms */
  assert_int_equal(
      mgc__retry_after_parse("Wednesday, 21-Oct-15 07:29:00 GMT", now, &ms), 0);
  assert_int_equal(ms, 60000);
  assert_int_equal(mgc__retry_after_parse("Wed Oct 21 07:28:05 2015", now, &ms),
                   0);
  assert_int_equal(ms, 5000);
  /* in the past: no wait */
  assert_int_equal(
      mgc__retry_after_parse("Wed, 21 Oct 2015 07:00:00 GMT", now, &ms), 0);
  assert_int_equal(ms, 0);
  const char *bad[] = {"", "  ", "-1", "1.5", "12abc", "soon", "#", NULL};
  for(size_t i = 0; bad[i]; i++)
    assert_int_equal(mgc__retry_after_parse(bad[i], now, &ms), -1);
  assert_int_equal(mgc__retry_after_parse(NULL, now, &ms), -1);
}

static void test_backoff(void **state)
{
  (void)state;
  assert_int_equal(mgc__retry_backoff_ms(1, 0), 3000);
  assert_int_equal(mgc__retry_backoff_ms(2, 0), 6000);
  assert_int_equal(mgc__retry_backoff_ms(3, 0), 12000);
  assert_int_equal(mgc__retry_backoff_ms(7, 0), 180000); /* 192 s capped */
  assert_int_equal(mgc__retry_backoff_ms(10, 0xffffffffu), 180000);
  /* jitter: within [d, 1.25 d] */
  for(uint32_t r = 0; r < 5000; r += 97) {
    uint64_t d = mgc__retry_backoff_ms(2, r * 2654435761u);
    assert_true(d >= 6000 && d <= 7500);
  }
  assert_int_not_equal(mgc__retry_backoff_ms(1, 1234), 3000);
}

static void test_next_delay(void **state)
{
  (void)state;
  struct mgc_retry_policy p = {3, 0};
  assert_int_equal(mgc__retry_next_delay(&p, 0, 0, -1, 0), 3000);
  assert_int_equal(mgc__retry_next_delay(&p, 1, 3000, -1, 0), 6000);
  assert_int_equal(mgc__retry_next_delay(&p, 2, 9000, -1, 0), 12000);
  assert_int_equal(mgc__retry_next_delay(&p, 3, 21000, -1, 0), -1);
  /* Retry-After wins over the backoff, even 0 */
  assert_int_equal(mgc__retry_next_delay(&p, 0, 0, 1000, 0), 1000);
  assert_int_equal(mgc__retry_next_delay(&p, 0, 0, 0, 0), 0);
  assert_int_equal(mgc__retry_next_delay(&p, 0, 0, 46LL * 60 * 1000, 0), -1);
  /* no retries */
  p.retries = 0;
  assert_int_equal(mgc__retry_next_delay(&p, 0, 0, 1, 0), -1);
  /* total time bound */
  p.retries = 10;
  p.max_time_ms = 10000;
  assert_int_equal(mgc__retry_next_delay(&p, 0, 0, -1, 0), 3000);
  assert_int_equal(mgc__retry_next_delay(&p, 1, 3000, -1, 0), 6000);
  assert_int_equal(mgc__retry_next_delay(&p, 2, 9000, -1, 0), -1);
  assert_int_equal(mgc__retry_next_delay(&p, 0, 0, 10001, 0), -1);
  assert_int_equal(mgc__retry_next_delay(&p, 0, 10000, 0, 0), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_statuses),
      cmocka_unit_test(test_retry_after),
      cmocka_unit_test(test_backoff),
      cmocka_unit_test(test_next_delay),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
