/* SPDX-License-Identifier: MIT */
/* test_error.c - the error model: stable numbers, messages, detail buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mgc_internal.h"

#include <string.h>

/* The numbers are a public contract (SPEC.md exit codes). */
static void test_numbers_are_stable(void **state)
{
  (void)state;
  assert_int_equal(MGCALL_OK, 0);
  assert_int_equal(MGCALL_E_INTERNAL, 1);
  assert_int_equal(MGCALL_E_USAGE, 2);
  assert_int_equal(MGCALL_E_AUTH, 3);
  assert_int_equal(MGCALL_E_NOT_FOUND, 4);
  assert_int_equal(MGCALL_E_ACCESS_DENIED, 5);
  assert_int_equal(MGCALL_E_THROTTLED, 6);
  assert_int_equal(MGCALL_E_NETWORK, 7);
  assert_int_equal(MGCALL_E_HTTP, 8);
}

static void test_strerror(void **state)
{
  (void)state;
  assert_string_equal(mgcall_strerror(MGCALL_OK), "success");
  assert_string_equal(mgcall_strerror(MGCALL_E_NOT_FOUND),
                      "call not found: it has ended");
  assert_string_equal(mgcall_strerror(-1), "unknown error");
  assert_string_equal(mgcall_strerror(9999), "unknown error");
  /* Every known code has a distinct, lower-case message with no period. */
  for(int i = 0; i <= MGCALL_E_HTTP; i++) {
    const char *m = mgcall_strerror(i);
    assert_non_null(m);
    assert_true(m[0] >= 'a' && m[0] <= 'z');
    assert_true(m[strlen(m) - 1] != '.');
    for(int j = 0; j < i; j++)
      assert_string_not_equal(m, mgcall_strerror(j));
  }
}

static void test_code_name(void **state)
{
  (void)state;
  assert_string_equal(mgcall_code_name(MGCALL_E_THROTTLED), "E_THROTTLED");
  assert_string_equal(mgcall_code_name(0), "OK");
  assert_null(mgcall_code_name(42));
}

static void test_detail_buffer(void **state)
{
  (void)state;
  struct mgc_err err;
  mgc__err_clear(&err);
  assert_int_equal(err.code, MGCALL_OK);
  assert_string_equal(err.msg, "");
  assert_int_equal(mgc__err_set(&err, MGCALL_E_USAGE, "bad id '%s'", "x/y"),
                   MGCALL_E_USAGE);
  assert_int_equal(err.code, MGCALL_E_USAGE);
  assert_string_equal(err.msg, "bad id 'x/y'");
  mgc__err_set(&err, MGCALL_E_NETWORK, NULL);
  assert_string_equal(err.msg, "network or TLS failure");
  /* Long messages are cut, not overflowed. */
  char big[2000];
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  mgc__err_set(&err, MGCALL_E_HTTP, "%s", big);
  assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
  /* NULL err is allowed and still returns the code. */
  assert_int_equal(mgc__err_set(NULL, MGCALL_E_AUTH, "x"), MGCALL_E_AUTH);
  mgc__err_clear(NULL);
}

static void test_version(void **state)
{
  (void)state;
  const char *v = mgcall_version();
  int dots = 0;
  for(const char *p = v; *p; p++) {
    if(*p == '.')
      dots++;
    else
      assert_true(*p >= '0' && *p <= '9');
  }
  assert_int_equal(dots, 2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numbers_are_stable),
      cmocka_unit_test(test_strerror),
      cmocka_unit_test(test_code_name),
      cmocka_unit_test(test_detail_buffer),
      cmocka_unit_test(test_version),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
