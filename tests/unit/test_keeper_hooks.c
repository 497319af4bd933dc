/* SPDX-License-Identifier: MIT */
/* test_keeper_hooks.c - the --on-ended word splitting, and the hook thread:
 * the store's outbox, environment and event id, bounded retries, timeout,
 * the bounded drain at stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keeper/hooks.h"
#include "keeper/log.h"

static char **split_ok(const char *cmd, int want_argc)
{
  int argc = -1;
  char err[128] = "";
  char **argv = khooks_split(cmd, &argc, err, sizeof(err));
  assert_non_null(argv);
  assert_int_equal(argc, want_argc);
  assert_null(argv[argc]);
  return argv;
}

static void test_split(void **state)
{
  (void)state;
  char **a = split_ok("  /bin/echo  a\tb  ", 3);
  assert_string_equal(a[0], "/bin/echo");
  assert_string_equal(a[1], "a");
  assert_string_equal(a[2], "b");
  khooks_argv_free(a);
  a = split_ok(
      "sh -c 'echo $MGCALL_CALL_ID >x' \"a \\\"b\\\" \\n\" c\\ d e'f'g", 6);
  assert_string_equal(a[2], "echo $MGCALL_CALL_ID >x");
  assert_string_equal(a[3], "a \"b\" \\n");
  assert_string_equal(a[4], "c d");
  assert_string_equal(a[5], "efg");
  khooks_argv_free(a);
  a = split_ok("x '' y", 3);
  assert_string_equal(a[1], "");
  khooks_argv_free(a);
  const char *bad[] = {"", "   ", "'open", "\"open", "trailing\\"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int argc;
    char err[128] = "";
    assert_null(khooks_split(bad[i], &argc, err, sizeof(err)));
    assert_true(err[0] != '\0');
  }
  char many[400] = "";
  for(int i = 0; i < 70; i++)
    strcat(many, "w ");
  int argc;
  char err[128];
  assert_null(khooks_split(many, &argc, err, sizeof(err)));
  assert_non_null(strstr(err, "too many"));
}

static char dir[256];

static void slurp(const char *path, char *buf, size_t n)
{
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if(!f)
    return;
  size_t got = fread(buf, 1, n - 1, f);
  buf[got] = '\0';
  fclose(f);
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* The store the hooks run from, and its lock. */
static struct kstore *st;
static pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t pending(void)
{
  struct mgc_err err = {0};
  int64_t n = -1;
  pthread_mutex_lock(&st_lock);
  assert_int_equal(st->ops->hook_pending(st, &n, &err), MGCALL_OK);
  pthread_mutex_unlock(&st_lock);
  return n;
}

/* Wait (at most 20 s) until no job is pending; fails the test otherwise. */
static void wait_delivered(void)
{
  int64_t end = now_ms() + 20000;
  while(pending() > 0 && now_ms() < end)
    nap_ms(20);
  assert_int_equal(pending(), 0);
}

/* End a call the way the keeper does: stage, take, write, kick. */
static void end_call(struct khooks *h, const char *call_id, const char *tenant,
                     const char *reason)
{
  struct mgc_err err = {0};
  struct kstore_call row = {.call_id = call_id,
                            .tenant_id = tenant,
                            .state = "ended",
                            .reason = reason,
                            .added_ms = 1,
                            .ended_ms = 2};
  assert_int_equal(khooks_stage(h, call_id, tenant, reason, 2), 0);
  size_t n = 0;
  struct kstore_hook *jobs = khooks_take(h, &n);
  assert_non_null(jobs);
  assert_int_equal(n, 1);
  size_t again = 9;
  assert_null(khooks_take(h, &again)); /* handed over */
  assert_int_equal(again, 0);
  pthread_mutex_lock(&st_lock);
  assert_int_equal(st->ops->put_outbox(st, &row, 1, jobs, n, 1, &err),
                   MGCALL_OK);
  pthread_mutex_unlock(&st_lock);
  khooks_jobs_free(jobs, n);
  khooks_kick(h);
}

static void test_runs_with_env_and_retries(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/mgcall-hooks.XXXXXX");
  assert_non_null(mkdtemp(dir));
  char url[400], cmd[1024], path[300], log[1024];
  struct mgc_err serr = {0};
  snprintf(url, sizeof(url), "sqlite:%s/k.db", dir);
  assert_int_equal(kstore_open(url, &st, &serr), MGCALL_OK);
  snprintf(path, sizeof(path), "%s/log", dir);
  /* fails twice (exit 1), then succeeds: 3 attempts with --hook-retries 3,
   * each with the same event id */
  snprintf(cmd, sizeof(cmd),
           "sh -c 'echo \"$MGCALL_CALL_ID|$MGCALL_TENANT_ID|$MGCALL_REASON|"
           "$MGCALL_EVENT_ID\" >>%s/log; test $(wc -l <%s/log) -ge 3'",
           dir, dir);
  struct kmetrics *m = km_new();
  struct khooks_config cfg = {
      .command = cmd, .timeout_ms = 5000, .retries = 3, .retry_delay_ms = 10};
  struct khooks *h = NULL;
  char err[128] = "";
  klog_setup(KLOG_TEXT, KLOG_ERROR);
  setenv("MGCALL_EVENT_ID", "inherited-must-not-leak", 1);
  assert_int_equal(khooks_new(&cfg, m, st, &st_lock, &h, err, sizeof(err)),
                   MGCALL_OK);
  end_call(h, "call-1", "tenant-1", "not-found");
  wait_delivered();
  khooks_free(h);
  slurp(path, log, sizeof(log));
  char ev[64] = "";
  assert_int_equal(sscanf(log, "call-1|tenant-1|not-found|%63[0-9a-f-]", ev),
                   1);
  assert_int_equal(strlen(ev), 36); /* a UUID */
  char want[512];
  snprintf(want, sizeof(want),
           "call-1|tenant-1|not-found|%s\ncall-1|tenant-1|not-found|%s\n"
           "call-1|tenant-1|not-found|%s\n",
           ev, ev, ev);
  assert_string_equal(log, want);
  assert_int_equal(km_hook_runs(m, KM_HOOK_COMMAND, 0), 2);
  assert_int_equal(km_hook_runs(m, KM_HOOK_COMMAND, 1), 1);
  unlink(path);

  /* a hook that hangs is killed at the timeout, retried a bounded number
   * of times, then given up (no longer pending) */
  struct khooks_config slow = {.command = "sleep 30",
                               .timeout_ms = 100,
                               .retries = 1,
                               .retry_delay_ms = 10};
  assert_int_equal(khooks_new(&slow, m, st, &st_lock, &h, err, sizeof(err)),
                   MGCALL_OK);
  end_call(h, "call-2", NULL, "lost");
  wait_delivered();
  khooks_free(h);
  assert_int_equal(km_hook_runs(m, KM_HOOK_COMMAND, 0), 4);

  /* a program that does not exist fails cleanly */
  struct khooks_config none = {.command = "/nonexistent/hook", .retries = 0};
  assert_int_equal(khooks_new(&none, m, st, &st_lock, &h, err, sizeof(err)),
                   MGCALL_OK);
  end_call(h, "call-3", NULL, "removed");
  wait_delivered();
  khooks_free(h);
  assert_int_equal(km_hook_runs(m, KM_HOOK_COMMAND, 0), 5);

  /* bad settings */
  struct khooks_config bad = {.command = "'x"};
  assert_int_equal(khooks_new(&bad, m, st, &st_lock, &h, err, sizeof(err)),
                   MGCALL_E_USAGE);
  assert_non_null(strstr(err, "--on-ended"));
  struct khooks_config badurl = {.url = "ftp://x"};
  assert_int_equal(khooks_new(&badurl, m, st, &st_lock, &h, err, sizeof(err)),
                   MGCALL_E_USAGE);
  /* no hook configured: staging is a no-op */
  struct khooks_config off = {0};
  assert_int_equal(khooks_new(&off, m, st, &st_lock, &h, err, sizeof(err)),
                   MGCALL_OK);
  assert_int_equal(khooks_stage(h, "x", NULL, "lost", 1), 0);
  size_t n = 9;
  assert_null(khooks_take(h, &n));
  assert_int_equal(n, 0);
  khooks_free(h);
  khooks_free(NULL);
  km_free(m);
  kstore_close(st);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* --stop-timeout: a hook still running when it runs out is killed, its job
 * stays pending with that attempt not counted, and runs at the next start.
 */
static void test_stop_timeout_leaves_the_job_pending(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/mgcall-hooks.XXXXXX");
  assert_non_null(mkdtemp(dir));
  char url[400], cmd[1024], started[300], ran[300];
  struct mgc_err serr = {0};
  snprintf(url, sizeof(url), "sqlite:%s/k.db", dir);
  assert_int_equal(kstore_open(url, &st, &serr), MGCALL_OK);
  snprintf(started, sizeof(started), "%s/started", dir);
  snprintf(ran, sizeof(ran), "%s/ran", dir);
  /* hangs the first time (marker written), succeeds after */
  snprintf(cmd, sizeof(cmd),
           "sh -c 'if [ -e %s ]; then echo \"$MGCALL_EVENT_ID\" >>%s; else "
           "touch %s; exec sleep 60; fi'",
           started, ran, started);
  struct kmetrics *m = km_new();
  struct khooks_config cfg = {.command = cmd,
                              .timeout_ms = 60000,
                              .retries = 0,
                              .stop_timeout_ms = 300};
  struct khooks *h = NULL;
  char err[128] = "";
  klog_setup(KLOG_TEXT, KLOG_ERROR);
  assert_int_equal(khooks_new(&cfg, m, st, &st_lock, &h, err, sizeof(err)),
                   MGCALL_OK);
  end_call(h, "call-s", NULL, "removed");
  int64_t end = now_ms() + 20000;
  while(access(started, F_OK) && now_ms() < end)
    nap_ms(20);
  assert_int_equal(access(started, F_OK), 0);
  int64_t t0 = now_ms();
  khooks_free(h); /* 300 ms, not the 60 s of the hook */
  int64_t took = now_ms() - t0;
  printf("# khooks_free with a hanging hook took %lld ms\n", (long long)took);
  assert_true(took < 20000);
  assert_int_equal(pending(), 1);
  assert_int_equal(km_hook_runs(m, KM_HOOK_COMMAND, 0), 0); /* not counted */
  assert_int_not_equal(access(ran, F_OK), 0);
  /* the next start runs it once (retries 0: the cut attempt did not count) */
  assert_int_equal(khooks_new(&cfg, m, st, &st_lock, &h, err, sizeof(err)),
                   MGCALL_OK);
  wait_delivered();
  khooks_free(h);
  assert_int_equal(km_hook_runs(m, KM_HOOK_COMMAND, 1), 1);
  char log[256];
  slurp(ran, log, sizeof(log));
  assert_int_equal(strlen(log), 37); /* one event id and a newline */
  km_free(m);
  kstore_close(st);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split),
      cmocka_unit_test(test_runs_with_env_and_retries),
      cmocka_unit_test(test_stop_timeout_leaves_the_job_pending),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
