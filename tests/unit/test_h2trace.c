/* SPDX-License-Identifier: MIT */
/* test_h2trace.c - libcurl's trace lines about HTTP/2 streams, and which
 * failed stream is provably unprocessed (sent again at once, uncounted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "h2trace.h"

#include <string.h>

static enum mgc_h2t_kind parse(const char *s, struct mgc_h2t_line *l)
{
  return mgc__h2trace_parse(s, strlen(s), l);
}

static void test_parse(void **state)
{
  (void)state;
  struct mgc_h2t_line l;
  /* libcurl 7.88's lines, as a batch printed them */
  assert_int_equal(
      parse("Connected to 127.0.0.1 (127.0.0.1) port 46423 (#0)\n", &l),
      MGC_H2T_CONN);
  assert_int_equal(l.conn, 0);
  assert_int_equal(
      parse("Re-using existing connection #12 with host 127.0.0.1\n", &l),
      MGC_H2T_CONN);
  assert_int_equal(l.conn, 12);
  assert_int_equal(
      parse("Re-using existing connection! (#7) with host localhost\n", &l),
      MGC_H2T_CONN);
  assert_int_equal(l.conn, 7);
  assert_int_equal(
      parse("Using Stream ID: 599 (easy handle 0x563cfae70730)\n", &l),
      MGC_H2T_STREAM);
  assert_int_equal(l.id, 599);
  assert_int_equal(parse("recveived GOAWAY, error=0, last_stream=0\n", &l),
                   MGC_H2T_GOAWAY);
  assert_int_equal(l.id, 0);
  assert_int_equal(parse("received GOAWAY, error=7, last_stream=41", &l),
                   MGC_H2T_GOAWAY);
  assert_int_equal(l.id, 41);
  assert_int_equal(parse("using HTTP/2\n", &l), MGC_H2T_H2);
  /* anything else proves nothing */
  const char *none[] = {
      "",
      "Using Stream ID: 1f (easy handle 0x1)\n", /* hex, older libcurl */
      "Using Stream ID: 0 (easy handle 0x1)\n",
      "Using Stream ID: 99999999999 (easy handle 0x1)\n",
      "Using Stream ID: \n",
      "received GOAWAY, error=0, last_stream=\n",
      "received GOAWAY, error=0, last_stream=3 and more\n",
      "received GOAWAY, error=x, last_stream=3\n",
      "received GOAWAY, error=0, last_stream=4294967295\n",
      "Connected to 127.0.0.1 (127.0.0.1) port 46423\n",
      "Connected to x (#)\n",
      "Connected to (#3) x\n",
      "Re-using existing connection with host 127.0.0.1\n",
      "Re-using existing connection #x with host\n",
      "Re-using existing connection #5",
      "ALPN: server accepted h2\n",
      "h2h3 [:method: POST]\n",
      "using HTTP/2, server supports multiplexing\n",
      "using HTTP/1.1\n",
  };
  for(size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
    assert_int_equal(parse(none[i], &l), MGC_H2T_NONE);
    assert_int_equal(l.kind, MGC_H2T_NONE);
  }
  assert_int_equal(mgc__h2trace_parse(NULL, 0, &l), MGC_H2T_NONE);
  /* not NUL-terminated: the length bounds it */
  assert_int_equal(mgc__h2trace_parse("Using Stream ID: 35", 18, &l),
                   MGC_H2T_STREAM);
  assert_int_equal(l.id, 3);
}

/* Feed a transfer's own lines. */
static void own(struct mgc_h2t_stream *s, const char *line)
{
  struct mgc_h2t_line l;
  assert_int_not_equal(parse(line, &l), MGC_H2T_NONE);
  mgc__h2trace_own(s, &l);
}

static void test_unprocessed(void **state)
{
  (void)state;
  struct mgc_h2t_stream a, b;
  mgc__h2trace_start(&a);
  mgc__h2trace_start(&b);
  own(&a, "Connected to h (1.2.3.4) port 443 (#3)\n");
  own(&a, "Using Stream ID: 1 (easy handle 0x1)\n");
  own(&b, "Re-using existing connection #3 with host h\n");
  own(&b, "Using Stream ID: 5 (easy handle 0x2)\n");
  /* nothing known: a session error with no answer is not proof */
  assert_false(mgc__h2trace_unprocessed(CURLE_HTTP2, 0, &a));
  assert_false(mgc__h2trace_unprocessed(CURLE_HTTP2, 0, &b));
  /* GOAWAY last-stream-id 3 on connection 3: 5 refused, 1 processed */
  mgc__h2trace_goaway(&a, 3, 3);
  mgc__h2trace_goaway(&b, 3, 3);
  assert_false(mgc__h2trace_unprocessed(CURLE_HTTP2, 0, &a));
  assert_true(mgc__h2trace_unprocessed(CURLE_HTTP2, 0, &b));
  assert_true(mgc__h2trace_unprocessed(CURLE_HTTP2_STREAM, 0, &b));
  /* an answer, or success, is never resent */
  assert_false(mgc__h2trace_unprocessed(CURLE_HTTP2, 200, &b));
  assert_false(mgc__h2trace_unprocessed(CURLE_OK, 0, &b));
  /* a GOAWAY on another connection says nothing of this one */
  struct mgc_h2t_stream c;
  mgc__h2trace_start(&c);
  own(&c, "Connected to h (1.2.3.4) port 443 (#4)\n");
  own(&c, "Using Stream ID: 9 (easy handle 0x3)\n");
  mgc__h2trace_goaway(&c, 3, 0);
  mgc__h2trace_goaway(&c, -1, 0);
  assert_false(mgc__h2trace_unprocessed(CURLE_HTTP2, 0, &c));
  /* no stream yet on the connection: nothing was sent there */
  struct mgc_h2t_stream d;
  mgc__h2trace_start(&d);
  own(&d, "Re-using existing connection #4 with host h\n");
  mgc__h2trace_goaway(&d, 4, 0);
  assert_false(mgc__h2trace_unprocessed(CURLE_HTTP2, 0, &d));
  /* libcurl sent b again on a new connection: the old refusal is gone */
  own(&b, "Connected to h (1.2.3.4) port 443 (#5)\n");
  assert_false(mgc__h2trace_unprocessed(CURLE_HTTP2, 0, &b));
  own(&b, "Using Stream ID: 1 (easy handle 0x2)\n");
  assert_false(mgc__h2trace_unprocessed(CURLE_HTTP2, 0, &b));
  /* a new attempt starts from nothing */
  mgc__h2trace_goaway(&b, 5, 0);
  assert_true(mgc__h2trace_unprocessed(CURLE_HTTP2, 0, &b));
  mgc__h2trace_start(&b);
  assert_false(mgc__h2trace_unprocessed(CURLE_HTTP2, 0, &b));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_unprocessed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
