/* SPDX-License-Identifier: MIT */
/* pg.c - a libpq connection that reconnects, and array literals. */
#include "pg.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a cancelled statement may take to answer the cancellation
 * before the connection is closed instead. */
#define CANCEL_WAIT_MS 1000

struct kpg {
  PGconn *conn;
  char *url;
  char *app;
  char where[300];
  int64_t last_try_ms; /* monotonic ms of the last connection attempt */
  int64_t bound_ms;    /* a statement's answer waited for at most (0: no bound) */
  int64_t late_ms;     /* monotonic ms of the last statement that passed it */
  int up;
};

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The connection's facts without its password. */
static void describe(struct kpg *pg)
{
  const char *host = PQhost(pg->conn), *port = PQport(pg->conn);
  const char *db = PQdb(pg->conn), *user = PQuser(pg->conn);
  snprintf(pg->where, sizeof(pg->where), "postgresql://%s%s%s:%s/%s",
           user && *user ? user : "", user && *user ? "@" : "",
           host && *host ? host : "localhost", port && *port ? port : "5432",
           db ? db : "");
}

/* The first line of libpq's message (it ends with a newline). */
static const char *first_line(const char *msg, char *buf, size_t n)
{
  snprintf(buf, n, "%s", msg ? msg : "unknown error");
  buf[strcspn(buf, "\n")] = '\0';
  return buf;
}

/* NOTICEs (e.g. "already exists, skipping") are not for the user. */
static void quiet(void *arg, const char *message)
{
  (void)arg;
  (void)message;
}

static int connect_now(struct kpg *pg, struct mgc_err *err)
{
  if(pg->conn)
    PQfinish(pg->conn);
  pg->last_try_ms = mono_ms();
  /* defaults first, the URL last: what the URL says wins */
  const char *const keys[] = {"connect_timeout",
                              "application_name",
                              "keepalives_idle",
                              "keepalives_interval",
                              "keepalives_count",
                              "dbname",
                              NULL};
  const char *const vals[] = {"3", pg->app, "5", "2", "3", pg->url, NULL};
  pg->conn = PQconnectdbParams(keys, vals, 1);
  if(!pg->conn) {
    pg->up = 0;
    return mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
  }
  describe(pg);
  if(PQstatus(pg->conn) != CONNECTION_OK) {
    char line[400];
    pg->up = 0;
    return mgc__err_set(
        err, MGCALL_E_INTERNAL, "store %s: cannot connect: %s", pg->where,
        first_line(PQerrorMessage(pg->conn), line, sizeof(line)));
  }
  PQsetNoticeProcessor(pg->conn, quiet, NULL);
  /* a long statement is sent piecewise (exec_once), never blocking past
   * the bound */
  if(PQsetnonblocking(pg->conn, 1))
    return mgc__err_set(err, MGCALL_E_INTERNAL,
                        "store %s: cannot make the connection non-blocking",
                        pg->where);
  pg->up = 1;
  return MGCALL_OK;
}

int kpg_open(const char *url, const char *app, struct kpg **out,
             struct mgc_err *err)
{
  *out = NULL;
  struct kpg *pg = calloc(1, sizeof(*pg));
  if(!pg || !(pg->url = strdup(url)) || !(pg->app = strdup(app))) {
    if(pg)
      free(pg->url);
    free(pg);
    return mgc__err_set(err, MGCALL_E_INTERNAL, "store: out of memory");
  }
  snprintf(pg->where, sizeof(pg->where), "postgresql");
  *out = pg;
  return connect_now(pg, err);
}

void kpg_free(struct kpg *pg)
{
  if(!pg)
    return;
  if(pg->conn)
    PQfinish(pg->conn);
  free(pg->url);
  free(pg->app);
  free(pg);
}

const char *kpg_where(const struct kpg *pg)
{
  return pg->where;
}

int kpg_up(const struct kpg *pg)
{
  return pg->up;
}

void kpg_set_bound(struct kpg *pg, int64_t ms)
{
  pg->bound_ms = ms > 0 ? ms : 0;
}

/* Wait until the connection's socket is ready for events, or the monotonic
 * deadline (0: none).  1 ready, 0 the deadline passed, -1 failed. */
static int wait_socket(PGconn *conn, short events, int64_t deadline)
{
  struct pollfd p = {.fd = PQsocket(conn), .events = events};
  if(p.fd < 0)
    return -1;
  for(;;) {
    int ms = -1;
    if(deadline) {
      int64_t left = deadline - mono_ms();
      if(left <= 0)
        return 0;
      ms = left > INT_MAX ? INT_MAX : (int)left;
    }
    int r = poll(&p, 1, ms);
    if(r > 0)
      return 1;
    if(r == 0)
      return 0;
    if(errno != EINTR)
      return -1;
  }
}

/* Read the answer of the statement sent: its result as PQexec() gives it
 * (the last one, or the first error; NULL when the connection failed,
 * PQerrorMessage() says why).  Returns 0 when the deadline passed first
 * (*out NULL, the statement still running). */
static int read_answer(PGconn *conn, int64_t deadline, PGresult **out)
{
  PGresult *last = NULL;
  *out = NULL;
  for(;;) {
    while(PQisBusy(conn)) {
      int w = wait_socket(conn, POLLIN, deadline);
      if(w == 0) {
        PQclear(last);
        return 0;
      }
      if(w < 0 || !PQconsumeInput(conn))
        break; /* PQgetResult() below reports the broken connection */
    }
    PGresult *r = PQgetResult(conn);
    if(!r)
      break;
    if(last && PQresultStatus(last) == PGRES_FATAL_ERROR)
      PQclear(r);
    else {
      PQclear(last);
      last = r;
    }
  }
  *out = last;
  return 1;
}

/* PQcancel() waits for the server without a bound of its own (it connects
 * to it and waits for it to close that connection): it runs on a detached
 * thread of its own, so that a server that does not answer at all cannot
 * hold the statement's caller.  That thread ends when the server answers
 * or TCP gives up. */
static void *cancel_main(void *arg)
{
  PGcancel *cancel = arg;
  char why[256];
  (void)PQcancel(cancel, why, sizeof(why));
  PQfreeCancel(cancel);
  return NULL;
}

static int cancel_async(PGconn *conn)
{
  PGcancel *cancel = PQgetCancel(conn);
  if(!cancel)
    return -1;
  pthread_attr_t attr;
  pthread_t t;
  sigset_t all, old;
  int rc = pthread_attr_init(&attr);
  if(!rc) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigfillset(&all); /* signals stay with the threads that handle them */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&t, &attr, cancel_main, cancel);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
  }
  if(rc) {
    PQfreeCancel(cancel);
    return -1;
  }
  return 0;
}

/* The statement had no answer within the bound: cancel it, so that it
 * leaves nothing behind, and wait a short while for the server to say so;
 * when it does not (or a transaction is left open), close the connection:
 * the next statement reconnects. */
static void give_up(struct kpg *pg)
{
  int clean = 0;
  if(!cancel_async(pg->conn)) {
    PGresult *res = NULL;
    clean = read_answer(pg->conn, mono_ms() + CANCEL_WAIT_MS, &res);
    PQclear(res);
  }
  if(!clean || PQstatus(pg->conn) != CONNECTION_OK ||
     PQtransactionStatus(pg->conn) != PQTRANS_IDLE) {
    PQfinish(pg->conn);
    pg->conn = NULL;
  }
  pg->up = 0;
}

/* Send one statement and read its answer, within pg->bound_ms when set.
 * *late is set when the bound passed (the statement was cancelled). */
static PGresult *exec_once(struct kpg *pg, const char *sql, int n,
                           const char *const *params, int *late)
{
  PGconn *conn = pg->conn;
  int64_t deadline = pg->bound_ms ? mono_ms() + pg->bound_ms : 0;
  *late = 0;
  /* no parameters: the simple protocol (several statements allowed) */
  int sent = n ? PQsendQueryParams(conn, sql, n, NULL, params, NULL, NULL, 0)
               : PQsendQuery(conn, sql);
  if(!sent)
    return NULL;
  int f;
  while((f = PQflush(conn)) > 0) { /* the rest of a long statement */
    int w = wait_socket(conn, POLLIN | POLLOUT, deadline);
    if(w < 0 || (w > 0 && !PQconsumeInput(conn)))
      break;
    if(w == 0) {
      *late = 1;
      give_up(pg);
      return NULL;
    }
  }
  PGresult *res = NULL;
  if(!read_answer(conn, deadline, &res)) {
    *late = 1;
    give_up(pg);
  }
  return res;
}

static int ok(const PGresult *res)
{
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* The statement was rolled back for a reason of the moment (SQLSTATE class
 * 40: deadlock_detected, serialization_failure): sent again, it may pass. */
static int rolled_back(const PGresult *res)
{
  const char *st = res && PQresultStatus(res) == PGRES_FATAL_ERROR
                       ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
                       : NULL;
  return st && !strncmp(st, "40", 2);
}

PGresult *kpg_exec(struct kpg *pg, const char *what, const char *sql, int n,
                   const char *const *params, struct mgc_err *err)
{
  if(!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
    if(mono_ms() - pg->last_try_ms < 1000) {
      mgc__err_set(err, MGCALL_E_INTERNAL,
                   "store %s: %s: the database is unreachable", pg->where,
                   what);
      return NULL;
    }
    if(connect_now(pg, err))
      return NULL;
  }
  /* after a statement had no answer, the next waits a second: a writer
   * that tries again and again would otherwise hold the connection (and
   * the lock its callers share) for the whole stall */
  if(pg->late_ms && mono_ms() - pg->late_ms < 1000) {
    mgc__err_set(err, MGCALL_E_INTERNAL,
                 "store %s: %s: no answer within %lld ms to the last "
                 "statement: not tried again within a second",
                 pg->where, what, (long long)pg->bound_ms);
    return NULL;
  }
  int late = 0;
  PGresult *res = exec_once(pg, sql, n, params, &late);
  /* the server closed a connection that was fine (a restart, a pooler,
   * pg_terminate_backend): reconnect and send the one statement again
   * (every single statement of the keeper can be repeated) */
  if(!late && !ok(res) && n && PQstatus(pg->conn) != CONNECTION_OK) {
    struct mgc_err again = {0};
    PQclear(res);
    res = NULL;
    if(!connect_now(pg, &again))
      res = exec_once(pg, sql, n, params, &late);
  }
  /* a deadlock with another keeper's statement (two progress writes, a
   * claim; the fleet benchmark saw them while 300,000 calls were being
   * registered, and that progress was dropped): the server rolled this one
   * back, and every single statement of the keeper can be repeated */
  for(int i = 0; i < 2 && !late && n && rolled_back(res); i++) {
    PQclear(res);
    res = exec_once(pg, sql, n, params, &late);
  }
  if(late) {
    pg->late_ms = mono_ms();
    mgc__err_set(err, MGCALL_E_INTERNAL,
                 "store %s: %s: no answer within %lld ms: the statement was "
                 "cancelled",
                 pg->where, what, (long long)pg->bound_ms);
    return NULL;
  }
  if(ok(res)) {
    pg->up = 1;
    return res;
  }
  char line[400];
  const char *msg = res && PQresultErrorMessage(res)[0]
                        ? PQresultErrorMessage(res)
                        : PQerrorMessage(pg->conn);
  mgc__err_set(err, MGCALL_E_INTERNAL, "store %s: %s: %s", pg->where, what,
               first_line(msg, line, sizeof(line)));
  if(PQstatus(pg->conn) != CONNECTION_OK)
    pg->up = 0;
  PQclear(res);
  return NULL;
}

int kpg_run(struct kpg *pg, const char *what, const char *sql, int n,
            const char *const *params, struct mgc_err *err)
{
  PGresult *res = kpg_exec(pg, what, sql, n, params, err);
  if(!res)
    return MGCALL_E_INTERNAL;
  PQclear(res);
  return MGCALL_OK;
}

void kpg_array_init(struct kpg_array *a)
{
  memset(a, 0, sizeof(*a));
}

static void put_raw(struct kpg_array *a, const char *s, size_t n)
{
  if(a->oom)
    return;
  if(a->len + n + 3 > a->cap) {
    size_t cap = a->cap ? a->cap : 256;
    while(a->len + n + 3 > cap)
      cap *= 2;
    char *b = realloc(a->buf, cap);
    if(!b) {
      a->oom = 1;
      return;
    }
    a->buf = b;
    a->cap = cap;
  }
  memcpy(a->buf + a->len, s, n);
  a->len += n;
}

static void sep(struct kpg_array *a)
{
  put_raw(a, a->count++ ? "," : "{", 1);
}

void kpg_array_str(struct kpg_array *a, const char *s)
{
  sep(a);
  if(!s) {
    put_raw(a, "NULL", 4);
    return;
  }
  put_raw(a, "\"", 1);
  for(const char *p = s; *p; p++) {
    if(*p == '"' || *p == '\\')
      put_raw(a, "\\", 1);
    put_raw(a, p, 1);
  }
  put_raw(a, "\"", 1);
}

void kpg_array_int(struct kpg_array *a, int64_t v)
{
  char num[32];
  int n = snprintf(num, sizeof(num), "%lld", (long long)v);
  sep(a);
  put_raw(a, num, (size_t)n);
}

const char *kpg_array_text(struct kpg_array *a)
{
  if(!a->count)
    put_raw(a, "{", 1);
  put_raw(a, "}", 1);
  if(a->oom)
    return NULL;
  a->buf[a->len] = '\0';
  return a->buf;
}

void kpg_array_release(struct kpg_array *a)
{
  free(a->buf);
  memset(a, 0, sizeof(*a));
}

/* Mask from p up to (not including) any of the stop characters. */
static char *mask_until(char *p, const char *stop)
{
  while(*p && !strchr(stop, *p))
    *p++ = '*';
  return p;
}

int kpg_mask_password(char *s)
{
  int n = 0;
  char *p = strstr(s, "://");
  if(p) { /* URI: user info ends at the last '@' before the path */
    char *host = p + 3;
    char *end = host + strcspn(host, "/?");
    char *at = NULL;
    for(char *q = host; q < end; q++)
      if(*q == '@')
        at = q;
    char *colon = at ? memchr(host, ':', (size_t)(at - host)) : NULL;
    if(colon && colon + 1 < at) {
      memset(colon + 1, '*', (size_t)(at - colon - 1));
      n++;
    }
  }
  /* password=VALUE in a query (&-separated) or a key=value string */
  for(char *q = s; (q = strstr(q, "password")) != NULL; q += 8) {
    int starts =
        q == s || q[-1] == '?' || q[-1] == '&' || q[-1] == ' ' || q[-1] == '\t';
    char *v = q + 8;
    while(*v == ' ')
      v++;
    if(!starts || *v != '=')
      continue;
    v++;
    while(*v == ' ')
      v++;
    if(*v == '\'') { /* key='quoted value' */
      char *e = v + 1;
      while(*e && *e != '\'') {
        if(*e == '\\' && e[1])
          *e++ = '*';
        *e++ = '*';
      }
    }
    else if(*v)
      mask_until(v, p ? "&#" : " \t");
    n++;
  }
  return n;
}

int64_t kpg_int(const PGresult *res, int r, int c)
{
  if(PQgetisnull(res, r, c))
    return 0;
  return strtoll(PQgetvalue(res, r, c), NULL, 10);
}
