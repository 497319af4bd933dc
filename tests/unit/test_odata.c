/* SPDX-License-Identifier: MIT */
/* test_odata.c - Graph OData error bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "odata.h"

#include <string.h>

static int parse(const char *s, struct mgc_odata_error *e)
{
  return mgc__odata_parse(s, strlen(s), e);
}

static void test_emulator_body(void **state)
{
  (void)state;
  struct mgc_odata_error e;
  assert_int_equal(
      parse("{\"error\":{\"code\":\"itemNotFound\",\"message\":\"Call not "
            "found.\",\"innerError\":{\"code\":\"8522\",\"request-id\":\"r-1\","
            "\"date\":\"2026-01-02T03:04:05\",\"client-request-id\":\"c-1\"}}}",
            &e),
      0);
  assert_string_equal(e.code, "itemNotFound");
  assert_string_equal(e.message, "Call not found.");
  assert_string_equal(e.inner_code, "8522");
  assert_string_equal(e.request_id, "r-1");
  assert_string_equal(e.client_request_id, "c-1");
  assert_string_equal(e.date, "2026-01-02T03:04:05");
}

static void test_innererror_spelling(void **state)
{
  (void)state;
  struct mgc_odata_error e;
  assert_int_equal(parse("{\"error\":{\"code\":\"Forbidden\",\"innererror\":{"
                         "\"request-id\":\"abc\",\"date\":\"d\"}}}",
                         &e),
                   0);
  assert_string_equal(e.code, "Forbidden");
  assert_string_equal(e.message, "");
  assert_string_equal(e.request_id, "abc");
  assert_string_equal(e.date, "d");
  /* nested one level deeper */
  assert_int_equal(parse("{\"error\":{\"code\":\"x\",\"innerError\":{"
                         "\"innerError\":{\"client-request-id\":\"deep\"}}}}",
                         &e),
                   0);
  assert_string_equal(e.client_request_id, "deep");
}

static void test_wrong_types_and_garbage(void **state)
{
  (void)state;
  struct mgc_odata_error e;
  assert_int_equal(parse("{\"error\":{\"code\":42,\"message\":null}}", &e), 0);
  assert_string_equal(e.code, "");
  assert_int_equal(parse("<html>502 Bad Gateway</html>", &e), -1);
  assert_string_equal(e.code, "");
  assert_int_equal(parse("{\"error\":\"invalid_client\"}", &e), -1);
  assert_int_equal(parse("[]", &e), -1);
  assert_int_equal(parse("", &e), -1);
  assert_int_equal(mgc__odata_parse(NULL, 0, &e), -1);
  /* truncated to the buffer, NUL-terminated */
  char big[3000];
  strcpy(big, "{\"error\":{\"code\":\"");
  size_t n = strlen(big);
  memset(big + n, 'a', 2000);
  strcpy(big + n + 2000, "\"}}");
  assert_int_equal(parse(big, &e), 0);
  assert_int_equal(strlen(e.code), sizeof(e.code) - 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_emulator_body),
      cmocka_unit_test(test_innererror_spelling),
      cmocka_unit_test(test_wrong_types_and_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
