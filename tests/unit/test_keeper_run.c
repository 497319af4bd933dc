/* SPDX-License-Identifier: MIT */
/* test_keeper_run.c - keeper_run() as a whole: it stops on SIGTERM and
 * leaves no thread behind (the signal thread is joined); when the signal
 * thread cannot be made it fails with an error instead of running deaf to
 * SIGTERM.  pthread_create is wrapped to make it fail.
 * mgcall-test-link: -Wl,--wrap=pthread_create */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keeper/keeper.h"
#include "mgcall/mgcall.h"

/* ---- pthread_create, wrapped ------------------------------------------- */
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg);
/* When > 0, the pthread_create this many calls from now fails (EAGAIN). */
static int fail_in;
static int creates;
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg)
{
  creates++;
  if(fail_in > 0 && --fail_in == 0)
    return EAGAIN;
  return __real_pthread_create(t, a, fn, arg);
}

/* ---- a keeper with no calls, its Graph client on a closed port ---------- */
static char dir[64];
static char store[128];

static int make_client(void *ud, mgcall_client **client, void **handle,
                       char *errbuf, size_t errlen)
{
  (void)ud;
  mgcall_credential *cred = NULL;
  if(mgcall_credential_access_token("test-token", &cred))
    return MGCALL_E_INTERNAL;
  mgcall_config cfg;
  mgcall_config_init(&cfg);
  cfg.graph_url = "http://127.0.0.1:9";
  cfg.credential = cred;
  cfg.retries = 0;
  cfg.token_cache = 0;
  int rc = mgcall_client_new(&cfg, client, errbuf, errlen);
  if(rc) {
    mgcall_credential_free(cred);
    return rc;
  }
  *handle = cred;
  return MGCALL_OK;
}

static void free_client(void *ud, mgcall_client *client, void *handle)
{
  (void)ud;
  mgcall_client_free(client);
  mgcall_credential_free(handle);
}

static void opts_init(struct keeper_opts *o)
{
  memset(o, 0, sizeof(*o));
  o->core.sched.interval_ms = 60000;
  o->core.sched.deadline_ms = 180000;
  o->core.store_url = store;
  o->listen = "127.0.0.1:0";
  o->make_client = make_client;
  o->free_client = free_client;
}

static int threads_now(void)
{
  DIR *d = opendir("/proc/self/task");
  assert_non_null(d);
  int n = 0;
  for(struct dirent *e; (e = readdir(d));)
    if(e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

/* Threads may take a moment to be gone from /proc after a join. */
static int threads_settled(int want)
{
  int n = threads_now();
  for(int i = 0; i < 200 && n != want; i++) {
    usleep(10000);
    n = threads_now();
  }
  return n;
}

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/mgcall-keeper-run.XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(store, sizeof(store), "sqlite:%s/keeper.db", dir);
  /* SIGTERM stays pending for the keeper's signal thread (blocked here
   * and in every thread made from now on). */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A pending SIGTERM: keeper_run starts, stops at once, returns OK, and
 * every thread it made is gone. */
static void test_sigterm_no_thread_left(void **state)
{
  (void)state;
  struct keeper_opts o;
  opts_init(&o);
  char err[512] = "";
  /* a first run starts what lives for the whole process (a sanitizer's
   * background thread, say) */
  assert_int_equal(kill(getpid(), SIGTERM), 0);
  snprintf(err, sizeof(err), "stale");
  assert_int_equal(keeper_run(&o, err, sizeof(err)), MGCALL_OK);
  assert_string_equal(err, ""); /* no error: the buffer is emptied */
  int before = threads_now();
  assert_int_equal(kill(getpid(), SIGTERM), 0);
  assert_int_equal(keeper_run(&o, err, sizeof(err)), MGCALL_OK);
  assert_int_equal(threads_settled(before), before);
}

/* The signal thread cannot be made: an error, not a keeper deaf to
 * SIGTERM.  It is the last thread keeper_run makes (with no calls nothing
 * else starts later), so a good run counts the creates first. */
static void test_signal_thread_fails(void **state)
{
  (void)state;
  alarm(30); /* a keeper deaf to SIGTERM would never return */
  struct keeper_opts o;
  opts_init(&o);
  char err[512] = "";
  creates = 0;
  assert_int_equal(kill(getpid(), SIGTERM), 0);
  assert_int_equal(keeper_run(&o, err, sizeof(err)), MGCALL_OK);
  int n = creates;
  assert_true(n >= 1);

  int before = threads_now();
  memset(err, 0, sizeof(err));
  fail_in = n;
  assert_int_equal(kill(getpid(), SIGTERM), 0);
  int rc = keeper_run(&o, err, sizeof(err));
  fail_in = 0;
  assert_int_not_equal(rc, MGCALL_OK);
  assert_non_null(strstr(err, "signal thread"));
  assert_int_equal(threads_settled(before), before);
  /* the start failed: the SIGTERM is still pending; take it */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  struct timespec ts = {0, 0};
  assert_int_equal(sigtimedwait(&set, NULL, &ts), SIGTERM);
  alarm(0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sigterm_no_thread_left),
      cmocka_unit_test(test_signal_thread_fails),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
