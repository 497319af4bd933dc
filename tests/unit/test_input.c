/* SPDX-License-Identifier: MIT */
/* test_input.c - keep-alive input items (src/input.c, the tool's own,
 * compiled into this test), uuids, path segments. */
/* Before cmocka.h, whose fail() macro would clash with a static function
 * of the file. */
#include "input.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "url.h"
#include "uuid.h"

#include <stdlib.h>
#include <string.h>

static enum mgc_input_kind line(const char *s, char **id, char *err)
{
  return mgc_input_parse_line(s, strlen(s), id, NULL, err, 256);
}

static void expect_id(const char *s, const char *want)
{
  char *id = NULL, err[256];
  assert_int_equal(line(s, &id, err), MGC_INPUT_ID);
  assert_string_equal(id, want);
  free(id);
}

static void expect_error(const char *s, const char *msg)
{
  char *id = (char *)"x", err[256];
  assert_int_equal(line(s, &id, err), MGC_INPUT_ERROR);
  assert_null(id);
  assert_non_null(strstr(err, msg));
}

static void test_lines(void **state)
{
  (void)state;
  char *id, err[256];
  expect_id("abc", "abc");
  expect_id("  abc \r\n", "abc");
  expect_id("a b/c?d#e", "a b/c?d#e");
  expect_id("{\"CallId\": \"x-1\"}", "x-1");
  expect_id("{\"callid\":\"x-2\",\"TenantId\":\"t\",\"other\":[1]}", "x-2");
  expect_id("  {\"CALLID\":\"x-3\"}\n", "x-3");
  expect_id("{\"CallId\":\"caf\\u00e9\"}", "caf\xc3\xa9");
  assert_int_equal(line("", &id, err), MGC_INPUT_SKIP);
  assert_int_equal(line("   \t\r\n", &id, err), MGC_INPUT_SKIP);
  assert_int_equal(line("# comment", &id, err), MGC_INPUT_SKIP);
  assert_int_equal(line("  #x", &id, err), MGC_INPUT_SKIP);
  assert_null(id);
  expect_error("{\"id\":\"x\"}", "input object has no CallId");
  expect_error("{\"CallId\":\"\"}", "CallId");
  expect_error("{\"CallId\":7}", "CallId");
  expect_error("{\"CallId\":\"a\\u0000b\"}", "NUL");
  expect_error("{\"CallId\":", "bad JSON");
  expect_error("{\"CallId\":\"x\"} trailing", "bad JSON");
  id = (char *)"x";
  assert_int_equal(mgc_input_parse_line("a\0b", 3, &id, NULL, err, sizeof(err)),
                   MGC_INPUT_ERROR);
  assert_non_null(strstr(err, "NUL"));
  char *big = malloc(MGC_INPUT_MAX_LINE + 2);
  memset(big, 'a', MGC_INPUT_MAX_LINE + 1);
  big[MGC_INPUT_MAX_LINE + 1] = '\0';
  expect_error(big, "too long");
  big[MGC_INPUT_MAX_LINE] = '\0';
  char *want = strdup(big);
  expect_id(big, want);
  free(want);
  free(big);
}

static void test_object(void **state)
{
  (void)state;
  char *id = NULL, err[256];
  const char *o = "{\"CallId\":\"abc\"}";
  assert_int_equal(mgc_input_parse_object(o, strlen(o), &id, NULL, err, 256),
                   MGC_INPUT_ID);
  assert_string_equal(id, "abc");
  free(id);
  assert_int_equal(mgc_input_parse_object("abc", 3, &id, NULL, err, 256),
                   MGC_INPUT_ERROR);
  assert_int_equal(mgc_input_parse_object("[1]", 3, &id, NULL, err, 256),
                   MGC_INPUT_ERROR);
  assert_string_equal(err, "input object is not a JSON object");
  assert_int_equal(mgc_input_parse_object(" ", 1, &id, NULL, err, 256),
                   MGC_INPUT_ERROR);
  assert_int_equal(mgc_input_parse_object("{}", 2, &id, NULL, err, 256),
                   MGC_INPUT_ERROR);
  assert_string_equal(err, "input object has no CallId");
  /* TenantId: optional, case-insensitive key, a non-empty string */
  char *tenant = NULL;
  o = "{\"callid\":\"c1\",\"TENANTID\":\"contoso\",\"x\":1}";
  assert_int_equal(mgc_input_parse_line(o, strlen(o), &id, &tenant, err, 256),
                   MGC_INPUT_ID);
  assert_string_equal(id, "c1");
  assert_string_equal(tenant, "contoso");
  free(id);
  free(tenant);
  o = "{\"CallId\":\"c2\"}";
  assert_int_equal(mgc_input_parse_line(o, strlen(o), &id, &tenant, err, 256),
                   MGC_INPUT_ID);
  assert_null(tenant);
  free(id);
  const char *bad[] = {"{\"CallId\":\"c\",\"TenantId\":\"\"}",
                       "{\"CallId\":\"c\",\"TenantId\":7}",
                       "{\"CallId\":\"c\",\"TenantId\":null}"};
  for(size_t i = 0; i < 3; i++) {
    assert_int_equal(
        mgc_input_parse_line(bad[i], strlen(bad[i]), &id, &tenant, err, 256),
        MGC_INPUT_ERROR);
    assert_null(id);
    assert_null(tenant);
    assert_string_equal(err,
                        "input object's TenantId is not a non-empty string");
  }
  /* a bare id has no tenant */
  assert_int_equal(mgc_input_parse_line("abc", 3, &id, &tenant, err, 256),
                   MGC_INPUT_ID);
  assert_null(tenant);
  free(id);
}

static void expect_segment(const char *in, const char *want)
{
  char *s = mgc__url_segment(in, strlen(in));
  assert_non_null(s);
  assert_string_equal(s, want);
  free(s);
}

static void test_segment(void **state)
{
  (void)state;
  expect_segment("2e1a0b00-2db4-4022-9570-243709c565ab",
                 "2e1a0b00-2db4-4022-9570-243709c565ab");
  expect_segment("a/b", "a%2Fb");
  expect_segment("..", "%2E%2E");
  expect_segment(".", "%2E");
  expect_segment("...", "...");
  expect_segment("../x", "..%2Fx");
  expect_segment("a?b#c d", "a%3Fb%23c%20d");
  expect_segment("100%", "100%25");
  expect_segment("caf\xc3\xa9", "caf%C3%A9");
  expect_segment("a+b&c=d", "a%2Bb%26c%3Dd");
  assert_null(mgc__url_segment("", 0));
  assert_null(mgc__url_segment("a\0b", 3));
}

static void test_uuid(void **state)
{
  (void)state;
  char a[MGC_UUID_LEN + 1], b[MGC_UUID_LEN + 1];
  assert_int_equal(mgc__uuid_v4(a), 0);
  assert_int_equal(mgc__uuid_v4(b), 0);
  assert_int_equal(strlen(a), 36);
  assert_string_not_equal(a, b);
  assert_int_equal(a[8], '-');
  assert_int_equal(a[14], '4');
  assert_non_null(strchr("89ab", a[19]));
  unsigned char ff[16];
  memset(ff, 0xff, sizeof(ff));
  mgc__uuid_format_v4(ff, a);
  assert_string_equal(a, "ffffffff-ffff-4fff-bfff-ffffffffffff");
  memset(ff, 0, sizeof(ff));
  mgc__uuid_format_v4(ff, a);
  assert_string_equal(a, "00000000-0000-4000-8000-000000000000");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lines),
      cmocka_unit_test(test_object),
      cmocka_unit_test(test_segment),
      cmocka_unit_test(test_uuid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
