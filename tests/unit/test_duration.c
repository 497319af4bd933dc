/* SPDX-License-Identifier: MIT */
/* test_duration.c - parsing and formatting "250ms", "15m", "1h30m". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mgcx.h"

static uint64_t parse_ok(const char *s)
{
  uint64_t ms = 12345;
  assert_int_equal(mgcx_duration_parse(s, &ms), 0);
  return ms;
}

static void test_parse_units(void **state)
{
  (void)state;
  assert_int_equal(parse_ok("250ms"), 250);
  assert_int_equal(parse_ok("3s"), 3000);
  assert_int_equal(parse_ok("15m"), 900000);
  assert_int_equal(parse_ok("1h"), 3600000);
  assert_int_equal(parse_ok("1d"), 86400000);
  assert_int_equal(parse_ok("1h30m"), 5400000);
  assert_int_equal(parse_ok("1m500ms"), 60500);
  assert_int_equal(parse_ok("0"), 0);
  assert_int_equal(parse_ok("0s"), 0);
}

static void test_parse_rejects(void **state)
{
  (void)state;
  const char *bad[] = {"",
                       "s",
                       "15",
                       "15x",
                       "-1s",
                       "1.5s",
                       " 1s",
                       "1s ",
                       "ms",
                       "1sm",
                       "1hh",
                       "367d",
                       "99999999999999999999s"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint64_t ms = 7;
    assert_int_equal(mgcx_duration_parse(bad[i], &ms), -1);
    assert_int_equal(ms, 7); /* untouched on error */
  }
  uint64_t ms;
  assert_int_equal(mgcx_duration_parse(NULL, &ms), -1);
}

static void test_format_roundtrip(void **state)
{
  (void)state;
  char buf[32];
  assert_string_equal(mgcx_duration_format(0, buf, sizeof(buf)), "0s");
  assert_string_equal(mgcx_duration_format(250, buf, sizeof(buf)), "250ms");
  assert_string_equal(mgcx_duration_format(5400000, buf, sizeof(buf)), "1h30m");
  assert_string_equal(mgcx_duration_format(90061001, buf, sizeof(buf)),
                      "1d1h1m1s1ms");
  const uint64_t samples[] = {1, 999, 1000, 61000, 2700000, 86400001};
  for(size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
    uint64_t back;
    mgcx_duration_format(samples[i], buf, sizeof(buf));
    assert_int_equal(mgcx_duration_parse(buf, &back), 0);
    assert_int_equal(back, samples[i]);
  }
  /* A small buffer is cut, still terminated. */
  char tiny[4];
  mgcx_duration_format(5400000, tiny, sizeof(tiny));
  assert_string_equal(tiny, "1h");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_units),
      cmocka_unit_test(test_parse_rejects),
      cmocka_unit_test(test_format_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
