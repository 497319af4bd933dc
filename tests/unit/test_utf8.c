/* SPDX-License-Identifier: MIT */
/* test_utf8.c - arbitrary bytes become valid UTF-8 for jansson, cut on
 * character boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mgcx.h"

#include <jansson.h>
#include <string.h>

static void check(const char *in, size_t inlen, size_t cap, const char *want)
{
  char out[256];
  assert_true(cap <= sizeof(out));
  size_t n = mgcx_utf8_clean(out, cap, in, inlen);
  assert_string_equal(out, want);
  assert_int_equal(n, strlen(want));
  /* whatever came in, jansson takes what comes out */
  json_t *s = json_string(out);
  assert_non_null(s);
  json_decref(s);
}

static void test_valid_kept(void **state)
{
  (void)state;
  check("plain", 5, 64, "plain");
  check("\xc3\xa9t\xc3\xa9", 5, 64, "\xc3\xa9t\xc3\xa9"); /* été */
  check("\xe2\x82\xac", 3, 64, "\xe2\x82\xac");           /* € */
  check("\xf0\x9f\x98\x80", 4, 64, "\xf0\x9f\x98\x80");   /* U+1F600 */
  check("\xf4\x8f\xbf\xbf", 4, 64, "\xf4\x8f\xbf\xbf");   /* U+10FFFF */
}

static void test_invalid_escaped(void **state)
{
  (void)state;
  check("a\xff"
        "b",
        3, 64, "a\\xffb");
  check("\xc0\xaf", 2, 64, "\\xc0\\xaf");                   /* overlong '/' */
  check("\xed\xa0\x80", 3, 64, "\\xed\\xa0\\x80");          /* a surrogate */
  check("\xf4\x90\x80\x80", 4, 64, "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
  check("x\xe2\x82", 3, 64, "x\\xe2\\x82"); /* a character cut short */
  check("a\0b", 3, 64, "a\\x00b");          /* NUL does not end the text */
}

static void test_cut_on_boundaries(void **state)
{
  (void)state;
  /* room for 4 bytes + NUL: the 2-byte character would end at 5 */
  check("abc\xc3\xa9", 5, 5, "abc");
  check("abc\xc3\xa9", 5, 6, "abc\xc3\xa9");
  /* an escape is never cut either */
  check("ab\xff", 3, 6, "ab");
  check("ab\xff", 3, 7, "ab\\xff");
  check("abc", 3, 1, "");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_kept),
      cmocka_unit_test(test_invalid_escaped),
      cmocka_unit_test(test_cut_on_boundaries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
