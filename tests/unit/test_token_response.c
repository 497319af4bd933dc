/* SPDX-License-Identifier: MIT */
/* test_token_response.c - token endpoint / IMDS answers and AAD errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/aad_error.h"
#include "auth/token_response.h"

#include <string.h>

#define NOW ((time_t)1700000000)

static int parse(const char *body, long status, struct mgc_token_response *r,
                 struct mgc_err *err)
{
  mgc__err_clear(err);
  return mgc__token_response_parse(body, strlen(body), status, NOW,
                                   "token endpoint", r, err);
}

static void test_token_endpoint(void **state)
{
  (void)state;
  struct mgc_token_response r;
  struct mgc_err err;
  assert_int_equal(
      parse("{\"token_type\":\"Bearer\",\"expires_in\":3599,"
            "\"ext_expires_in\":3599,\"access_token\":\"eyJ.a.b\"}",
            200, &r, &err),
      MGCALL_OK);
  assert_string_equal(r.access_token, "eyJ.a.b");
  assert_int_equal(r.expires_at, NOW + 3599);
  mgc__token_response_release(&r);
  assert_null(r.access_token);
}

static void test_expires_in_string(void **state)
{
  (void)state;
  struct mgc_token_response r;
  struct mgc_err err;
  assert_int_equal(parse("{\"token_type\":\"Bearer\",\"expires_in\":\"3600\","
                         "\"access_token\":\"tok\"}",
                         200, &r, &err),
                   MGCALL_OK);
  assert_int_equal(r.expires_at, NOW + 3600);
  mgc__token_response_release(&r);
}

static void test_imds(void **state)
{
  (void)state;
  struct mgc_token_response r;
  struct mgc_err err;
  /* IMDS: every number a string, expires_in and expires_on both. */
  assert_int_equal(
      parse("{\"access_token\":\"eyJ0eXAi\",\"client_id\":\"c\","
            "\"expires_in\":\"86399\",\"expires_on\":\"1700086399\","
            "\"ext_expires_in\":\"86399\",\"not_before\":\"1699999700\","
            "\"resource\":\"https://graph.microsoft.com\","
            "\"token_type\":\"Bearer\"}",
            200, &r, &err),
      MGCALL_OK);
  assert_int_equal(r.expires_at, NOW + 86399);
  mgc__token_response_release(&r);
  /* App Service 2019-08-01: expires_on only (epoch seconds as a string). */
  assert_int_equal(
      parse("{\"access_token\":\"t\",\"expires_on\":\"1700003600\","
            "\"resource\":\"r\",\"token_type\":\"Bearer\"}",
            200, &r, &err),
      MGCALL_OK);
  assert_int_equal(r.expires_at, NOW + 3600);
  mgc__token_response_release(&r);
}

static void test_aad_error_verbatim(void **state)
{
  (void)state;
  struct mgc_token_response r;
  struct mgc_err err;
  const char *body =
      "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "
      "Invalid client secret provided. Ensure the secret being sent in the "
      "request is the client secret value, not the client secret ID.\\r\\n"
      "Trace ID: 1\\r\\nCorrelation ID: 2\\r\\nTimestamp: 2024-01-01 "
      "00:00:00Z\",\"error_codes\":[7000215],\"timestamp\":\"2024\","
      "\"trace_id\":\"tr-1\",\"correlation_id\":\"co-2\"}";
  assert_int_equal(parse(body, 401, &r, &err), MGCALL_E_AUTH);
  assert_null(r.access_token);
  assert_non_null(strstr(err.msg, "token endpoint refused: invalid_client: "
                                  "AADSTS7000215: Invalid client secret "
                                  "provided."));
  assert_non_null(strstr(err.msg, "error codes 7000215"));
  assert_non_null(strstr(err.msg, "trace id tr-1"));
  assert_non_null(strstr(err.msg, "correlation id co-2"));
  assert_null(strchr(err.msg, '\n'));
  assert_null(strchr(err.msg, '\r'));
  /* An error body wins even with status 200. */
  assert_int_equal(parse("{\"error\":\"x\"}", 200, &r, &err), MGCALL_E_AUTH);
}

static void test_aad_error_parser(void **state)
{
  (void)state;
  struct mgc_aad_error e;
  const char *sc =
      "{\"error\":\"invalid_scope\",\"error_codes\":[70011,50001]}";
  assert_int_equal(mgc__aad_error_parse(sc, strlen(sc), &e), 1);
  assert_string_equal(e.error, "invalid_scope");
  assert_string_equal(e.codes, "70011, 50001");
  assert_string_equal(e.description, "");
  const char *as = "{\"statusCode\":400,\"message\":\"No identity\"}";
  assert_int_equal(mgc__aad_error_parse(as, strlen(as), &e), 1);
  assert_string_equal(e.error, "status 400");
  assert_string_equal(e.description, "No identity");
  const char *odata = "{\"error\":{\"code\":\"Forbidden\",\"message\":\"m\"}}";
  assert_int_equal(mgc__aad_error_parse(odata, strlen(odata), &e), 1);
  assert_string_equal(e.error, "Forbidden");
  assert_int_equal(mgc__aad_error_parse("{\"access_token\":\"x\"}", 20, &e), 0);
  assert_int_equal(mgc__aad_error_parse("<html>", 6, &e), 0);
  assert_int_equal(mgc__aad_error_parse("[]", 2, &e), 0);
  assert_int_equal(mgc__aad_error_parse(NULL, 0, &e), 0);
  char line[256];
  const char *ab = "{\"error\":\"a\",\"error_description\":\"b\"}";
  assert_int_equal(mgc__aad_error_parse(ab, strlen(ab), &e), 1);
  mgc__aad_error_format(&e, line, sizeof(line));
  assert_string_equal(line, "a: b");
}

static void test_html_and_garbage(void **state)
{
  (void)state;
  struct mgc_token_response r;
  struct mgc_err err;
  assert_int_equal(
      parse("<!DOCTYPE html><html><body>Sign in</body></html>", 200, &r, &err),
      MGCALL_E_AUTH);
  assert_non_null(strstr(err.msg, "HTML page"));
  assert_int_equal(parse("<html>502 Bad Gateway</html>", 502, &r, &err),
                   MGCALL_E_NETWORK);
  assert_non_null(strstr(err.msg, "HTTP 502"));
  assert_int_equal(parse("\x01\x02garbage", 200, &r, &err), MGCALL_E_AUTH);
  assert_non_null(strstr(err.msg, "not a JSON token response"));
  assert_int_equal(parse("", 200, &r, &err), MGCALL_E_AUTH);
  assert_non_null(strstr(err.msg, "empty body"));
  assert_int_equal(parse("", 503, &r, &err), MGCALL_E_THROTTLED);
  assert_int_equal(parse("", 500, &r, &err), MGCALL_E_NETWORK);
  /* an error body with 429/503/504: throttled, not refused */
  assert_int_equal(parse("{\"error\":\"temporarily_unavailable\","
                         "\"error_description\":\"AADSTS90033: try again\"}",
                         503, &r, &err),
                   MGCALL_E_THROTTLED);
  assert_non_null(strstr(err.msg, "token endpoint answered HTTP 503: "
                                  "temporarily_unavailable: AADSTS90033"));
  assert_int_equal(parse("{\"error\":\"x\"}", 429, &r, &err),
                   MGCALL_E_THROTTLED);
  assert_int_equal(parse("{\"error\":\"x\"}", 500, &r, &err), MGCALL_E_NETWORK);
  assert_int_equal(parse("not json", 404, &r, &err), MGCALL_E_AUTH);
}

static void test_bad_tokens(void **state)
{
  (void)state;
  struct mgc_token_response r;
  struct mgc_err err;
  /* no access_token */
  assert_int_equal(parse("{\"expires_in\":3600}", 200, &r, &err),
                   MGCALL_E_AUTH);
  /* no usable expiry */
  assert_int_equal(parse("{\"access_token\":\"t\"}", 200, &r, &err),
                   MGCALL_E_AUTH);
  assert_int_equal(
      parse("{\"access_token\":\"t\",\"expires_in\":\"x1\"}", 200, &r, &err),
      MGCALL_E_AUTH);
  assert_int_equal(
      parse("{\"access_token\":\"t\",\"expires_in\":-5}", 200, &r, &err),
      MGCALL_E_AUTH);
  assert_int_equal(
      parse("{\"access_token\":\"t\",\"expires_in\":0}", 200, &r, &err),
      MGCALL_E_AUTH);
  /* a token that would break the Authorization header */
  assert_int_equal(parse("{\"access_token\":\"a\\r\\nX: y\",\"expires_in\":1}",
                         200, &r, &err),
                   MGCALL_E_AUTH);
  assert_null(strstr(err.msg, "X: y"));
  /* not a bearer token */
  assert_int_equal(parse("{\"access_token\":\"t\",\"token_type\":\"pop\","
                         "\"expires_in\":60}",
                         200, &r, &err),
                   MGCALL_E_AUTH);
  /* the message never quotes a body holding a token */
  assert_int_equal(parse("{\"access_token\":\"SECRETTOKEN\"}", 200, &r, &err),
                   MGCALL_E_AUTH);
  assert_null(strstr(err.msg, "SECRETTOKEN"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_token_endpoint),
      cmocka_unit_test(test_expires_in_string),
      cmocka_unit_test(test_imds),
      cmocka_unit_test(test_aad_error_verbatim),
      cmocka_unit_test(test_aad_error_parser),
      cmocka_unit_test(test_html_and_garbage),
      cmocka_unit_test(test_bad_tokens),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
