/* SPDX-License-Identifier: MIT */
/* test_keeper_api.c - the control API's --listen parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "listen.h"

static int parse(const char *s, int *loopback, unsigned *port, int *family)
{
  struct sockaddr_storage ss;
  socklen_t len = 0;
  int rc = mgc__listen_parse(s, &ss, &len, loopback);
  if(!rc) {
    *family = ss.ss_family;
    *port = ss.ss_family == AF_INET
                ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  }
  return rc;
}

static void test_listen(void **state)
{
  (void)state;
  int lo = 0, fam = 0;
  unsigned port = 0;
  assert_int_equal(parse("127.0.0.1:8787", &lo, &port, &fam), 0);
  assert_true(lo && port == 8787 && fam == AF_INET);
  assert_int_equal(parse("127.1.2.3:0", &lo, &port, &fam), 0);
  assert_true(lo && port == 0);
  assert_int_equal(parse("[::1]:9000", &lo, &port, &fam), 0);
  assert_true(lo && port == 9000 && fam == AF_INET6);
  assert_int_equal(parse("localhost:1", &lo, &port, &fam), 0);
  assert_true(lo);
  assert_int_equal(parse(":8787", &lo, &port, &fam), 0);
  assert_true(lo); /* empty host = loopback */
  assert_int_equal(parse("0.0.0.0:8787", &lo, &port, &fam), 0);
  assert_false(lo);
  assert_int_equal(parse("[::]:8787", &lo, &port, &fam), 0);
  assert_false(lo);
  assert_int_equal(parse("10.0.0.1:80", &lo, &port, &fam), 0);
  assert_false(lo);
  const char *bad[] = {"",
                       "8787",
                       "127.0.0.1",
                       "127.0.0.1:",
                       "1.2.3.4:-1",
                       "1.2.3.4:65536",
                       "host:80",
                       "[::1:80",
                       "[::1]80",
                       "1.2.3.4:8x",
                       "::1:80",
                       "[127.0.0.1]:1",
                       "1.2.3.4:+80",
                       "1.2.3.4: 80",
                       "1.2.3.4:0080080"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(parse(bad[i], &lo, &port, &fam), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_listen),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
