/* SPDX-License-Identifier: MIT */
/* test_redact.c - secrets never reach a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "redact.h"

#include <stdlib.h>
#include <string.h>

static void check(const char *in, const char *want)
{
  char *got = mgc__redact(in, strlen(in));
  assert_non_null(got);
  assert_string_equal(got, want);
  free(got);
}

static void test_headers(void **state)
{
  (void)state;
  check("POST /v1.0/x HTTP/1.1\r\nAuthorization: Bearer eyJ.abc.def\r\n"
        "Accept: */*\r\n",
        "POST /v1.0/x HTTP/1.1\r\nAuthorization: [REDACTED]\r\n"
        "Accept: */*\r\n");
  check("authorization: Basic dXNlcjpwYXNz\n", "authorization: [REDACTED]\n");
  check("X-IDENTITY-HEADER: s3cr3t\r\n", "X-IDENTITY-HEADER: [REDACTED]\r\n");
  /* Only at a line start: a header name inside a value is left alone. */
  check("X-Note: authorization: fine\r\n", "X-Note: authorization: fine\r\n");
  check("Authorization:", "Authorization: [REDACTED]");
  /* libcurl's HTTP/2 trace lines (7.88 and 8.x) */
  check("h2h3 [authorization: Bearer eyJ.abc.def]\n",
        "h2h3 [authorization: [REDACTED]]\n");
  check("[HTTP/2] [1] [authorization: Bearer eyJ.abc.def]\n",
        "[HTTP/2] [1] [authorization: [REDACTED]]\n");
  check("h2h3 [authorization: Bearer eyJ.abc",
        "h2h3 [authorization: [REDACTED]");
  check("h2h3 [accept: */*]\n", "h2h3 [accept: */*]\n");
}

static void test_form(void **state)
{
  (void)state;
  check("grant_type=client_credentials&client_id=abc&client_secret=p%40ss&"
        "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
        "grant_type=client_credentials&client_id=abc&client_secret=[REDACTED]&"
        "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default");
  check("client_assertion_type=urn&client_assertion=eyJ.x.y",
        "client_assertion_type=urn&client_assertion=[REDACTED]");
  check("access_token=abc", "access_token=[REDACTED]");
  /* Not a field start: my_client_secret=... is someone else's name. */
  check("my_client_secret=x", "my_client_secret=x");
}

static void test_json(void **state)
{
  (void)state;
  check("{\"token_type\":\"Bearer\",\"access_token\":\"eyJ.a.b\",\"expires_"
        "in\":3599}",
        "{\"token_type\":\"Bearer\",\"access_token\":\"[REDACTED]\",\"expires_"
        "in\":3599}");
  check("{ \"access_token\" : \"a\\\"b\" }",
        "{ \"access_token\" : \"[REDACTED]\" }");
  check("{\"refresh_token\":\"\"}", "{\"refresh_token\":\"[REDACTED]\"}");
  /* A non-string value is not a secret we know how to cut: left alone. */
  check("{\"access_token\":null}", "{\"access_token\":null}");
  /* Unterminated string: everything after the quote is hidden. */
  check("{\"client_secret\":\"abc", "{\"client_secret\":\"[REDACTED]");
}

static void test_nothing_to_hide(void **state)
{
  (void)state;
  check("", "");
  check("HTTP/1.1 200 OK\r\nrequest-id: 1\r\n",
        "HTTP/1.1 200 OK\r\nrequest-id: 1\r\n");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_headers),
      cmocka_unit_test(test_form),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_nothing_to_hide),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
