/* SPDX-License-Identifier: MIT */
/* test_text.c - lib/text.c: untrusted text escaped to one line of valid
 * UTF-8 and cut between characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "text.h"

static const char *esc(const char *s, size_t len, size_t cap)
{
  static char buf[512];
  assert_true(cap <= sizeof(buf));
  size_t n = mgc__text_escape(buf, cap, s, len);
  assert_int_equal(n, strlen(buf));
  assert_true(cap == 0 || n < cap);
  return buf;
}
#define ESC(s) esc(s, sizeof(s) - 1, 512)

static void test_escape(void **state)
{
  (void)state;
  assert_string_equal(ESC("plain text"), "plain text");
  assert_string_equal(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  assert_string_equal(ESC("a\nb\r\tc"), "a\\nb\\r\\tc");
  assert_string_equal(ESC("x\\n"), "x\\\\n"); /* a backslash doubled */
  assert_string_equal(ESC("\x1b[31mred\x7f"), "\\x1b[31mred\\x7f");
  assert_string_equal(ESC("\xc2\x85next"), "\\u0085next"); /* C1 NEL */
  assert_string_equal(ESC("a\0b"), "a\\x00b");
  /* not UTF-8: lone continuation, cut character, overlong, surrogate, >
   * U+10FFFF */
  assert_string_equal(ESC("\x80"), "\\x80");
  assert_string_equal(ESC("caf\xc3"), "caf\\xc3");
  assert_string_equal(ESC("\xc0\xaf"), "\\xc0\\xaf");
  assert_string_equal(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  assert_string_equal(ESC("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
}

static void test_escape_cut(void **state)
{
  (void)state;
  /* fits exactly: no dots */
  assert_string_equal(esc("abcdef", 6, 7), "abcdef");
  /* one byte short: cut and "..." */
  assert_string_equal(esc("abcdefg", 7, 7), "abc...");
  /* never inside a character: \xe2\x82\xac is 3 bytes */
  assert_string_equal(esc("ab\xe2\x82\xac\xe2\x82\xac", 8, 8), "ab...");
  assert_string_equal(esc("ab\xe2\x82\xac\xe2\x82\xacx", 9, 9),
                      "ab\xe2\x82\xac...");
  assert_string_equal(esc("ab\xe2\x82\xac\xe2\x82\xac", 8, 9),
                      "ab\xe2\x82\xac\xe2\x82\xac");
  /* never inside an escape */
  assert_string_equal(esc("a\n\n\n\n", 5, 8), "a\\n...");
  /* tiny buffers */
  assert_string_equal(esc("abcdef", 6, 1), "");
  assert_string_equal(esc("abcdef", 6, 3), "..");
  char c = 'x';
  assert_int_equal(mgc__text_escape(&c, 0, "a", 1), 0);
  assert_int_equal(c, 'x');
}

static void test_cut(void **state)
{
  (void)state;
  const char *s = "a\xc3\xa9\xe2\x82\xac"; /* a é € : 1 + 2 + 3 bytes */
  assert_int_equal(mgc__text_cut(s, 6, 6), 6);
  assert_int_equal(mgc__text_cut(s, 6, 5), 3);
  assert_int_equal(mgc__text_cut(s, 6, 2), 1);
  assert_int_equal(mgc__text_cut(s, 6, 1), 1);
  assert_int_equal(mgc__text_cut(s, 6, 0), 0);
  assert_int_equal(mgc__text_cut("\xff\xfe", 2, 1), 1); /* malformed: 1 each */
}

static void test_escape_dup(void **state)
{
  (void)state;
  char *d = mgc__text_escape_dup("\n\n\xff");
  assert_string_equal(d, "\\n\\n\\xff");
  free(d);
  assert_null(mgc__text_escape_dup(NULL));
  /* the worst case fits whole */
  char worst[101];
  memset(worst, 0x01, 100);
  worst[100] = '\0';
  d = mgc__text_escape_dup(worst);
  assert_int_equal(strlen(d), 400);
  free(d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escape),
      cmocka_unit_test(test_escape_cut),
      cmocka_unit_test(test_cut),
      cmocka_unit_test(test_escape_dup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
