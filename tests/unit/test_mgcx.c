/* SPDX-License-Identifier: MIT */
/* test_mgcx.c - the shared helpers of lib/mgcx.h, tested once: the heap
 * (order, FIFO ties, positions reported, removal and update from the
 * middle, against a sorted model with random keys), the capped buffer, the
 * bounded integer parser and RFC 3339 timestamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mgcx.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ev {
  int64_t due;
  uint32_t seq;
  uint32_t id;
};

static size_t pos_of[1000]; /* id -> position, MGCX_HEAP_NONE when out */

static int ev_before(const void *a, const void *b)
{
  const struct ev *x = a, *y = b;
  return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

static void ev_moved(void *ctx, const void *elem, size_t pos)
{
  (void)ctx;
  pos_of[((const struct ev *)elem)->id] = pos;
}

static void check_positions(const struct mgcx_heap *h)
{
  for(size_t i = 0; i < h->len; i++) {
    const struct ev *e = (const struct ev *)(h->v + i * h->elem_size);
    assert_int_equal(pos_of[e->id], i);
    if(i)
      assert_false(ev_before(e, h->v + (i - 1) / 2 * h->elem_size));
  }
}

static void test_heap(void **state)
{
  (void)state;
  struct mgcx_heap h;
  mgcx_heap_init(&h, sizeof(struct ev), ev_before, ev_moved, NULL);
  assert_null(mgcx_heap_top(&h));
  assert_int_equal(mgcx_heap_pop(&h, NULL), -1);
  unsigned seed = 12345;
  printf("seed %u\n", seed);
  srand(seed);
  int64_t due_of[1000];
  for(uint32_t i = 0; i < 1000; i++) {
    struct ev e = {rand() % 50, i, i}; /* many ties */
    due_of[i] = e.due;
    assert_int_equal(mgcx_heap_push(&h, &e), 0);
  }
  check_positions(&h);
  /* remove 100 from the middle, move 100 others */
  for(uint32_t i = 0; i < 1000; i += 10) {
    struct ev out;
    assert_int_equal(mgcx_heap_remove(&h, pos_of[i], &out), 0);
    assert_int_equal(out.id, i);
    assert_int_equal(pos_of[i], MGCX_HEAP_NONE);
    due_of[i] = -1;
  }
  for(uint32_t i = 5; i < 1000; i += 10) {
    struct ev *e = (struct ev *)(h.v + pos_of[i] * h.elem_size);
    e->due = due_of[i] = (i % 20) ? 60 : -5; /* later, or first */
    mgcx_heap_update(&h, pos_of[i]);
  }
  check_positions(&h);
  assert_int_equal(h.len, 900);
  /* pops come in (due, seq) order */
  struct ev prev = {INT64_MIN, 0, 0};
  size_t n = 0;
  struct ev e;
  while(mgcx_heap_pop(&h, &e) == 0) {
    assert_int_equal(e.due, due_of[e.id]);
    assert_true(prev.due < e.due || (prev.due == e.due && prev.seq < e.seq));
    prev = e;
    n++;
  }
  assert_int_equal(n, 900);
  mgcx_heap_release(&h);
}

/* reserve: room for n, then n pushes never move the storage (the
 * keeper's schedule relies on it: putting a call back cannot fail). */
static void test_heap_reserve(void **state)
{
  (void)state;
  struct mgcx_heap h;
  mgcx_heap_init(&h, sizeof(struct ev), ev_before, ev_moved, NULL);
  assert_int_equal(mgcx_heap_reserve(&h, 1000), 0);
  assert_true(h.cap >= 1000);
  unsigned char *v = h.v;
  size_t cap = h.cap;
  for(uint32_t i = 0; i < 1000; i++) {
    struct ev e = {(int64_t)(i * 7919 % 1000), i, i};
    assert_int_equal(mgcx_heap_push(&h, &e), 0);
  }
  assert_ptr_equal(h.v, v);
  assert_int_equal(h.cap, cap);
  assert_int_equal(mgcx_heap_reserve(&h, 10), 0); /* never shrinks */
  assert_int_equal(h.cap, cap);
  check_positions(&h);
  assert_int_equal(mgcx_heap_reserve(&h, SIZE_MAX), -1); /* h unchanged */
  assert_int_equal(h.len, 1000);
  int64_t last = -1;
  struct ev e;
  while(!mgcx_heap_pop(&h, &e)) {
    assert_true(e.due >= last);
    last = e.due;
  }
  mgcx_heap_release(&h);
}

static void test_buf(void **state)
{
  (void)state;
  struct mgcx_buf b;
  mgcx_buf_init(&b, 10);
  assert_int_equal(mgcx_buf_add(&b, "hello", 5), 0);
  assert_int_equal(mgcx_buf_add(&b, "", 0), 0);
  assert_int_equal(mgcx_buf_add(&b, "world", 5), 0);
  assert_string_equal(b.data, "helloworld");
  assert_int_equal(mgcx_buf_add(&b, "!", 1), MGCX_BUF_TOO_BIG);
  assert_int_equal(b.len, 10); /* unchanged */
  assert_int_equal(mgcx_buf_add(&b, "x", SIZE_MAX), MGCX_BUF_TOO_BIG);
  assert_true(b.cap <= 11);
  mgcx_buf_release(&b);
  assert_null(b.data);
  mgcx_buf_init(&b, 1 << 20);
  for(int i = 0; i < 1000; i++)
    assert_int_equal(mgcx_buf_add(&b, "0123456789", 10), 0);
  assert_int_equal(b.len, 10000);
  assert_int_equal(b.data[10000], '\0');
  mgcx_buf_release(&b);

  /* reserve: exactly the room asked for, adds within it keep the block */
  mgcx_buf_init(&b, 100);
  assert_int_equal(mgcx_buf_reserve(&b, 101), MGCX_BUF_TOO_BIG);
  assert_null(b.data);
  assert_int_equal(mgcx_buf_reserve(&b, 7), 0);
  assert_int_equal(b.cap, 8);
  assert_string_equal(b.data, ""); /* a string from the start */
  char *block = b.data;
  assert_int_equal(mgcx_buf_add(&b, "abc", 3), 0);
  assert_int_equal(mgcx_buf_add(&b, "defg", 4), 0);
  assert_ptr_equal(b.data, block);
  assert_string_equal(b.data, "abcdefg");
  assert_int_equal(mgcx_buf_reserve(&b, 3), 0); /* never shrinks */
  assert_int_equal(b.cap, 8);
  assert_int_equal(mgcx_buf_reserve(&b, 100), 0);
  assert_int_equal(b.cap, 101);
  assert_string_equal(b.data, "abcdefg"); /* kept */
  assert_int_equal(b.len, 7);
  mgcx_buf_release(&b);
}

static void test_parse_long(void **state)
{
  (void)state;
  long v = 7;
  assert_int_equal(mgcx_parse_long("0", 0, 10, &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(mgcx_parse_long("-3", -5, 5, &v), 0);
  assert_int_equal(v, -3);
  char s[32];
  snprintf(s, sizeof(s), "%ld", LONG_MAX);
  assert_int_equal(mgcx_parse_long(s, 0, LONG_MAX, &v), 0);
  assert_true(v == LONG_MAX);
  snprintf(s, sizeof(s), "%ld", LONG_MIN);
  assert_int_equal(mgcx_parse_long(s, LONG_MIN, 0, &v), 0);
  assert_true(v == LONG_MIN);
  v = 7;
  const char *bad[] = {"",    "-",
                       "+1",  " 1",
                       "1 ",  "1x",
                       "0x1", "11",
                       "-6",  "99999999999999999999",
                       "1.0", "--1",
                       "1-",  "9223372036854775808"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(mgcx_parse_long(bad[i], -5, 10, &v), -1);
  assert_int_equal(mgcx_parse_long(NULL, 0, 1, &v), -1);
  assert_int_equal(v, 7); /* untouched on failure */
  assert_int_equal(mgcx_parse_longn("123abc", 3, 0, 1000, &v), 0);
  assert_int_equal(v, 123);
}

static void test_pct_decode(void **state)
{
  (void)state;
  char *s = mgcx_pct_decode("a%2Fb%20c+d%7e", 14, 0);
  assert_non_null(s);
  assert_string_equal(s, "a/b c+d~"); /* '+' stays in a path */
  free(s);
  s = mgcx_pct_decode("a%2Fb%20c+d", 11, 1);
  assert_string_equal(s, "a/b c d"); /* a space in a form */
  free(s);
  s = mgcx_pct_decode("%41", 3, 0); /* an escape at the very end */
  assert_string_equal(s, "A");
  free(s);
  assert_null(mgcx_pct_decode("a%00b", 5, 0));
  assert_null(mgcx_pct_decode("a%0", 3, 0));
  assert_null(mgcx_pct_decode("a%4", 3, 1));
  assert_null(mgcx_pct_decode("a%", 2, 1));
  assert_null(mgcx_pct_decode("a%zz", 4, 0));
  assert_null(mgcx_pct_decode("a%g1", 4, 0));
  assert_null(mgcx_pct_decode("a\0b", 3, 1));
  s = mgcx_pct_decode("x%41yz", 2, 0); /* only len bytes: "x%" */
  assert_null(s);
  s = mgcx_pct_decode("", 0, 1);
  assert_non_null(s);
  assert_string_equal(s, "");
  free(s);
  assert_int_equal(mgcx_hexval('0'), 0);
  assert_int_equal(mgcx_hexval('f'), 15);
  assert_int_equal(mgcx_hexval('F'), 15);
  assert_int_equal(mgcx_hexval('g'), -1);
  assert_int_equal(mgcx_hexval('/'), -1);
}

/* ---- job queue ---- */
struct jobs_seen {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int gate_open; /* the first job waits for it */
  int order[8];  /* job numbers in the order they ran */
  int n;
  pthread_t thread[8]; /* the thread each ran on */
};
struct job_arg {
  struct jobs_seen *seen;
  int num;
};

static void job_record(void *arg)
{
  struct job_arg *a = arg;
  struct jobs_seen *seen = a->seen;
  pthread_mutex_lock(&seen->lock);
  if(a->num == 0)
    while(!seen->gate_open)
      pthread_cond_wait(&seen->cond, &seen->lock);
  seen->thread[seen->n] = pthread_self();
  seen->order[seen->n++] = a->num;
  pthread_mutex_unlock(&seen->lock);
}

/* What the worker's signal mask blocks (run on the worker). */
struct mask_seen {
  int term, hup;
};

static void job_mask(void *arg)
{
  struct mask_seen *m = arg;
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, NULL, &cur);
  m->term = sigismember(&cur, SIGTERM);
  m->hup = sigismember(&cur, SIGHUP);
}

/* The worker takes no signal (the keeper's SIGTERM and SIGHUP are its
 * signal thread's); the submitting thread's mask stays as it was. */
static void test_jobs_signals(void **state)
{
  (void)state;
  sigset_t before, after;
  pthread_sigmask(SIG_BLOCK, NULL, &before);
  assert_int_equal(sigismember(&before, SIGTERM), 0);
  struct mask_seen m = {-1, -1};
  struct mgcx_jobs *q = mgcx_jobs_new(0);
  assert_non_null(q);
  assert_int_equal(mgcx_jobs_submit(q, job_mask, &m), 0);
  mgcx_jobs_free(q); /* runs it first */
  assert_int_equal(m.term, 1);
  assert_int_equal(m.hup, 1);
  pthread_sigmask(SIG_BLOCK, NULL, &after);
  assert_int_equal(sigismember(&after, SIGTERM), 0);
  assert_int_equal(sigismember(&after, SIGHUP), 0);
}

static void test_jobs(void **state)
{
  (void)state;
  struct jobs_seen seen = {.n = 0};
  pthread_mutex_init(&seen.lock, NULL);
  pthread_cond_init(&seen.cond, NULL);
  struct job_arg args[6];
  for(int i = 0; i < 6; i++)
    args[i] = (struct job_arg){&seen, i};

  /* a bound of 3 waiting: job 0 runs (held at the gate), 1..3 wait, 4 is
   * refused */
  struct mgcx_jobs *q = mgcx_jobs_new(3);
  assert_non_null(q);
  assert_int_equal(mgcx_jobs_submit(q, job_record, &args[0]), 0);
  /* job 0 has left the queue once it is waiting at the gate: wait for
   * that (bounded: 10 s) by filling the queue */
  int queued = 0;
  for(int tries = 0; tries < 10000 && queued < 3; tries++) {
    if(mgcx_jobs_submit(q, job_record, &args[1 + queued]) == 0)
      queued++;
    else
      usleep(1000);
  }
  assert_int_equal(queued, 3);
  assert_int_equal(mgcx_jobs_submit(q, job_record, &args[4]), -1);
  pthread_mutex_lock(&seen.lock);
  assert_int_equal(seen.n, 0); /* nothing ran past the gate */
  seen.gate_open = 1;
  pthread_cond_broadcast(&seen.cond);
  pthread_mutex_unlock(&seen.lock);
  mgcx_jobs_free(q); /* runs what is queued first */
  assert_int_equal(seen.n, 4);
  for(int i = 0; i < 4; i++) {
    assert_int_equal(seen.order[i], i); /* in order */
    assert_true(pthread_equal(seen.thread[i], seen.thread[0]));
    assert_false(pthread_equal(seen.thread[i], pthread_self()));
  }

  /* no bound; freed without a job: no thread ever started */
  q = mgcx_jobs_new(0);
  assert_non_null(q);
  mgcx_jobs_free(q);
  mgcx_jobs_free(NULL);
  pthread_cond_destroy(&seen.cond);
  pthread_mutex_destroy(&seen.lock);
}

/* A file of the test's own with content (len bytes); its path in path. */
static void file_with(const char *content, size_t len, char *path, size_t n)
{
  snprintf(path, n, "/tmp/mgcx-file-%ld-XXXXXX", (long)getpid());
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, content, len), (ssize_t)len);
  assert_int_equal(close(fd), 0);
}

static void test_file_read(void **state)
{
  (void)state;
  char path[64], why[128];
  unsigned char *data = NULL;
  size_t len = 0;
  char *value = NULL;

  file_with("abc\0d", 5, path, sizeof(path));
  assert_int_equal(mgcx_file_read(path, 5, &data, &len, why, sizeof(why)), 0);
  assert_int_equal(len, 5);
  assert_memory_equal(data, "abc\0d", 6); /* NUL-terminated after the data */
  free(data);
  /* one byte over the cap */
  assert_int_equal(mgcx_file_read(path, 4, &data, &len, why, sizeof(why)),
                   MGCX_FILE_ERR);
  assert_null(data);
  assert_string_equal(why, "larger than 4 bytes");
  /* a NUL inside a secret */
  assert_int_equal(mgcx_file_read_secret(path, &value, why, sizeof(why)),
                   MGCX_FILE_ERR);
  assert_null(value);
  assert_string_equal(why, "contains NUL bytes");
  unlink(path);

  file_with("s3cret \r\n\t", 10, path, sizeof(path));
  assert_int_equal(mgcx_file_read_secret(path, &value, why, sizeof(why)), 0);
  assert_string_equal(value, "s3cret");
  free(value);
  unlink(path);

  file_with(" \n", 2, path, sizeof(path));
  assert_int_equal(mgcx_file_read_secret(path, &value, NULL, 0), MGCX_FILE_ERR);
  assert_int_equal(mgcx_file_read_secret(path, &value, why, sizeof(why)),
                   MGCX_FILE_ERR);
  assert_string_equal(why, "is empty");
  unlink(path);

  /* gone: the reason, never the path */
  assert_int_equal(mgcx_file_read_secret(path, &value, why, sizeof(why)),
                   MGCX_FILE_ERR);
  assert_string_equal(why, strerror(ENOENT));
  assert_int_equal(mgcx_file_read("/", 10, &data, &len, why, sizeof(why)),
                   MGCX_FILE_ERR);
  assert_string_equal(why, "is a directory");
}

static void test_rfc3339(void **state)
{
  (void)state;
  char buf[32];
  assert_string_equal(mgcx_rfc3339_format(1764249600123, 1, buf, sizeof(buf)),
                      "2025-11-27T13:20:00.123Z");
  assert_string_equal(mgcx_rfc3339_format(1764249600123, 0, buf, sizeof(buf)),
                      "2025-11-27T13:20:00Z");
  assert_string_equal(mgcx_rfc3339_format(-1, 1, buf, sizeof(buf)),
                      "1970-01-01T00:00:00.000Z");
  int64_t ms;
  assert_int_equal(mgcx_rfc3339_parse("2025-11-27T13:20:00.123Z", &ms), 0);
  assert_true(ms == 1764249600123);
  assert_int_equal(mgcx_rfc3339_parse("2025-11-27T14:20:00.1234+01:00", &ms),
                   0);
  assert_true(ms == 1764249600123);
  assert_int_equal(mgcx_rfc3339_parse("2025-11-27 13:20:00z", &ms), 0);
  assert_true(ms == 1764249600000);
  const char *bad[] = {"2025-11-27T13:20:00",  "2025-02-30T00:00:00Z",
                       "1969-12-31T23:59:59Z", "2025-11-27T13:20:00.Z",
                       "2025-11-27T24:00:00Z", "2025-11-27T13:20:00+1:00"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(mgcx_rfc3339_parse(bad[i], &ms), -1);
  /* round trip */
  for(int64_t t = 0; t < 4102444800000; t += 86399123) {
    assert_int_equal(
        mgcx_rfc3339_parse(mgcx_rfc3339_format(t, 1, buf, sizeof(buf)), &ms),
        0);
    assert_true(ms == t);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_heap),      cmocka_unit_test(test_heap_reserve),
      cmocka_unit_test(test_buf),       cmocka_unit_test(test_parse_long),
      cmocka_unit_test(test_rfc3339),   cmocka_unit_test(test_pct_decode),
      cmocka_unit_test(test_jobs),      cmocka_unit_test(test_jobs_signals),
      cmocka_unit_test(test_file_read),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
