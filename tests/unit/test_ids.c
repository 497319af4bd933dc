/* SPDX-License-Identifier: MIT */
/* test_ids.c - call id and tenant id rules (lib/ids.c), terminal-safe
 * escaping (lib/escape.c) and percent-decoding (lib/url.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mgcx.h"
#include "ids.h"

static void test_call_ids(void **state)
{
  (void)state;
  char max[MGC_ID_MAX + 2];
  memset(max, 'a', sizeof(max));
  max[MGC_ID_MAX] = '\0';
  const char *good[] = {"2e1a0b00-2db4-4022-9570-243709c565ab", "a/b c",
                        "caf\xc3\xa9", "\xf0\x9f\x93\x9e", max};
  for(size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_true(mgc__call_id_ok(good[i]));
  max[MGC_ID_MAX] = 'a';
  max[MGC_ID_MAX + 1] = '\0';
  const char *bad[] = {NULL,
                       "",
                       max,
                       "a\x1b]0;x",
                       "a\x07",
                       "a\nb",
                       "a\x7f",
                       "a\xc2\x85",     /* C1 NEL */
                       "a\xe2\x80\xae", /* U+202E */
                       "a\xe2\x81\xa6", /* U+2066 */
                       "a\xd8\x9c",     /* U+061C */
                       "a\xe2\x80\xa8", /* U+2028 */
                       "\xff",
                       "\xc0\xaf",     /* overlong */
                       "\xed\xa0\x80", /* surrogate */
                       "\xe2\x80"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_false(mgc__call_id_ok(bad[i]));
}

static void test_tenant_ids(void **state)
{
  (void)state;
  assert_true(mgc__tenant_id_ok("72f988bf-86f1-41af-91ab-2d7cd011db47"));
  assert_true(mgc__tenant_id_ok("contoso.onmicrosoft.com"));
  assert_true(mgc__tenant_id_ok("tenant_1"));
  const char *bad[] = {NULL,  "",          ".",  "..", "../../evil?x=#",
                       "a b", "t\x1b[31m", "a/b"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_false(mgc__tenant_id_ok(bad[i]));
  char longt[300];
  memset(longt, 'a', 257);
  longt[257] = '\0';
  assert_false(mgc__tenant_id_ok(longt));
  longt[256] = '\0';
  assert_true(mgc__tenant_id_ok(longt));
}

static void test_escape(void **state)
{
  (void)state;
  char out[128];
  assert_string_equal(mgcx_escape_text("plain caf\xc3\xa9", out, sizeof(out)),
                      "plain caf\xc3\xa9");
  assert_string_equal(mgcx_escape_text("a\x1b]0;x\x07\nb\\", out, sizeof(out)),
                      "a\\x1B]0;x\\x07\\nb\\\\");
  assert_string_equal(
      mgcx_escape_text("x\xe2\x80\xaey\xc2\x85", out, sizeof(out)),
      "x\\u{202E}y\\u{0085}");
  assert_string_equal(mgcx_escape_text("\xff\xc3", out, sizeof(out)),
                      "\\xFF\\xC3");
  assert_string_equal(mgcx_escape_text(NULL, out, sizeof(out)), "");
  /* cut before what does not fit, never inside a character or escape */
  char small[6];
  assert_string_equal(mgcx_escape_text("ab\xc3\xa9xyz", small, sizeof(small)),
                      "ab\xc3\xa9x");
  assert_string_equal(mgcx_escape_text("abcd\n", small, sizeof(small)), "abcd");
  assert_string_equal(mgcx_escape_text("abcd\xc3\xa9", small, sizeof(small)),
                      "abcd");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_call_ids),
      cmocka_unit_test(test_tenant_ids),
      cmocka_unit_test(test_escape),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
