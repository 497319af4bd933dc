/* SPDX-License-Identifier: MIT */
/* store.h - where the keeper keeps its calls: an interface (a table of
 * functions) so SQLite (store_sqlite.c) and, later, PostgreSQL
 * (store_pg.c, fleet mode) are interchangeable.  kstore_open() picks the
 * backend from the URL's scheme.
 *
 * A backend is used by one thread at a time (the keeper serialises calls).
 * On open, a backend used by one keeper at a time (SQLite) also releases
 * every hook claim left by a process that died: its jobs run again at once
 * (a shared backend waits for the claims' leases to run out instead). */
#ifndef MGCALL_KEEPER_STORE_H
#define MGCALL_KEEPER_STORE_H

#include "mgc_internal.h"

#include <stddef.h>
#include <stdint.h>

/* One stored call.  Strings are borrowed (by the store on the way in, by
 * the callback on the way out).  Times are wall-clock ms since the epoch,
 * 0 = none. */
struct kstore_call {
  const char *call_id;
  const char *tenant_id;  /* NULL = the credential's tenant */
  const char *state;      /* "active", "at-risk", "ended", "lost" */
  const char *reason;     /* NULL, or "not-found", "terminated", ... */
  const char *last_error; /* NULL = none */
  int64_t added_ms;
  int64_t started_ms;
  int64_t last_success_ms;
  int64_t next_due_ms;
  int64_t ended_ms;
  int failures;
  int64_t term; /* fleet: lease term of the call's shard the row was made
                   under (a write is fenced by it); 0 = none */
};

/* Called per row; return non-zero to stop. */
typedef int (*kstore_row_cb)(void *ud, const struct kstore_call *row);

/* An ended (or lost) call with the outcome of its end's hook jobs (the
 * jobs stamped with its ended time).  Strings borrowed, as above. */
struct kstore_ended {
  struct kstore_call call;
  const char *hook;       /* "failed" when a job gave up, else "pending"
                             when one is pending, else "delivered"; NULL
                             when no job is stored (no hook, or purged) */
  int hook_attempts;      /* the most attempts a job of it started */
  const char *hook_error; /* the last error of a job not delivered, or NULL */
};
typedef int (*kstore_ended_cb)(void *ud, const struct kstore_ended *row);

/* State sets for list_page. */
#define KSTORE_STATE_ACTIVE 1u
#define KSTORE_STATE_AT_RISK 2u
#define KSTORE_STATE_ENDED 4u
#define KSTORE_STATE_LOST 8u
/* The hook outbox: one job per (call end, hook kind), written in the same
 * transaction as the end, claimed by one runner at a time, run until it is
 * delivered or its attempts are spent.  Kinds (a bit mask in claims): */
#define KSTORE_HOOK_COMMAND 1 /* --on-ended */
#define KSTORE_HOOK_URL 2     /* --on-ended-url */

/* One hook job.  Strings are borrowed as in struct kstore_call. */
struct kstore_hook {
  int64_t job_id;       /* assigned by the store; ignored on the way in */
  const char *event_id; /* one per call end, given to the receiver */
  const char *call_id;
  const char *tenant_id;  /* NULL = the credential's tenant */
  const char *reason;     /* "removed", "not-found", "lost", ... */
  int kind;               /* KSTORE_HOOK_COMMAND or KSTORE_HOOK_URL */
  int attempts;           /* attempts started, this claim's included */
  int64_t created_ms;     /* wall ms of the end */
  const char *last_error; /* of the last failed attempt, or NULL */
  int64_t claim;          /* the claim's token (out of claim_hooks) */
};

/* Called per claimed job; return non-zero to stop (the rest of the claimed
 * jobs stay claimed until their lease runs out). */
typedef int (*kstore_hook_cb)(void *ud, const struct kstore_hook *job);

/* How a claimed job ended (hook_finish). */
enum kstore_hook_outcome {
  KSTORE_HOOK_DELIVERED, /* done for good: never claimed again */
  KSTORE_HOOK_RETRY,     /* pending again, not before now + delay_ms */
  KSTORE_HOOK_GAVE_UP,   /* retries spent: failed for good (purged by
                            retention like a delivered one) */
  KSTORE_HOOK_RELEASED   /* not run (shutdown): pending at once, this
                            claim's attempt not counted */
};

struct kstore;

struct kstore_ops {
  const char *name; /* "sqlite" */
  /* Insert or replace n rows in ONE transaction.  durable: on disk when it
   * returns MGCALL_OK, also across a power loss (registrations, ends);
   * 0: safe against a crash of the process, may be lost with the machine
   * (schedule progress, written in batches: losing it repeats a keepAlive
   * at worst). */
  int (*put)(struct kstore *st, const struct kstore_call *rows, size_t n,
             int durable, struct mgc_err *err);
  /* The row of call_id: cb once, returns MGCALL_OK, or MGCALL_E_NOT_FOUND. */
  int (*get)(struct kstore *st, const char *call_id, kstore_row_cb cb, void *ud,
             struct mgc_err *err);
  /* Every row in state active or at-risk (on start). */
  int (*load_active)(struct kstore *st, kstore_row_cb cb, void *ud,
                     struct mgc_err *err);
  /* One page of rows (GET /calls, SPEC 4a), in ascending call_id order
   * (byte-wise, as strcmp): the rows whose call_id is greater than after
   * (NULL or "" = from the first) and whose state is in states (a set of
   * KSTORE_STATE_* bits; 0 = any state), at most limit of them (limit >=
   * 1), cb once per row.  *more is 1 when at least one such row follows
   * the last one given, else 0.  MGCALL_OK or MGCALL_E_INTERNAL.  The next
   * page starts after the last call_id given. */
  int (*list_page)(struct kstore *st, unsigned states, const char *after,
                   size_t limit, kstore_row_cb cb, void *ud, int *more,
                   struct mgc_err *err);
  /* The limit calls in state ended or lost that ended last, newest first,
   * cb once each (the status page): an indexed query whatever the table
   * holds.  MGCALL_OK or MGCALL_E_INTERNAL.  NULL in a backend without it
   * (the status page then says so). */
  int (*list_ended)(struct kstore *st, size_t limit, kstore_ended_cb cb,
                    void *ud, struct mgc_err *err);

  /* ---- the hook outbox (see struct kstore_hook) ----
   * Times: now_ms is the caller's wall clock (ms since the epoch); a store
   * with a clock of its own (PostgreSQL: now()) may use that instead for
   * every time it compares or computes (claim leases, next attempts, purge
   * cut-off), as long as it is one clock for all nodes. */

  /* put() of n rows AND insertion of nhooks jobs (pending, runnable at
   * once, attempts 0): the ends among the rows and the jobs in ONE
   * transaction, either all of that is stored or none (the progress of
   * calls still active may go in further transactions: the PostgreSQL
   * store writes it in statements of a few thousand rows).  A job whose
   * (event_id, kind) is already stored is not inserted again
   * (idempotent).  durable as in put(). */
  int (*put_outbox)(struct kstore *st, const struct kstore_call *rows, size_t n,
                    const struct kstore_hook *hooks, size_t nhooks, int durable,
                    struct mgc_err *err);
  /* Claim at most max pending jobs of the kinds in the mask whose next
   * attempt is due (<= now) and which no live claim holds (never claimed,
   * released, or lease expired): for each, in one transaction, set a fresh
   * claim token, claimed_by = node, claim expiry = now + lease_ms and
   * attempts + 1; then cb once per claimed job (the earliest due are
   * chosen; cb order unspecified), with job->claim the token.  Two concurrent
   * claimers (two nodes) never get the same job while a lease is live
   * (PostgreSQL: FOR UPDATE SKIP LOCKED, so a claimer never waits for another).
   * *claimed (may be NULL) gets the count.  A job whose lease ran out (its
   * runner died or hung) is claimable again: delivery is at least once, hence
   * event ids.  PostgreSQL, in one statement:
   *   UPDATE hook_jobs SET claim = $tok, claimed_by = $node,
   *     claim_until = now() + $lease, attempts = attempts + 1
   *   WHERE job_id IN (SELECT job_id FROM hook_jobs WHERE state = 'pending'
   *     AND next_attempt <= now() AND claim_until <= now()
   *     AND kind & $kinds <> 0 ORDER BY next_attempt LIMIT $max
   *     FOR UPDATE SKIP LOCKED) RETURNING ... */
  int (*claim_hooks)(struct kstore *st, const char *node, int kinds,
                     int64_t now_ms, int64_t lease_ms, size_t max,
                     kstore_hook_cb cb, void *ud, size_t *claimed,
                     struct mgc_err *err);
  /* Record how the attempt of a claimed job ended, durably.  Fenced: only
   * when job_id is still held by this claim token (else
   * MGCALL_E_NOT_FOUND and nothing changes: the lease ran out and someone
   * else owns it), except DELIVERED, which also applies to any pending job
   * (the delivery happened).  last_error (NULL = keep) is stored with
   * RETRY and GAVE_UP.  DELIVERED and GAVE_UP stamp done = now_ms (the
   * retention clock). */
  int (*hook_finish)(struct kstore *st, int64_t job_id, int64_t claim,
                     enum kstore_hook_outcome outcome, int64_t now_ms,
                     int64_t delay_ms, const char *last_error,
                     struct mgc_err *err);
  /* *pending = jobs not delivered and not given up (claimed or not). */
  int (*hook_pending)(struct kstore *st, int64_t *pending, struct mgc_err *err);
  /* Retention: delete at most limit calls in state ended or lost that
   * ended before cutoff_ms, and at most limit jobs delivered or given up
   * before cutoff_ms; *purged (may be NULL) = rows deleted.  Live calls and
   * pending jobs are never touched.  Small transactions: call again while
   * it returns limit or more. */
  int (*purge)(struct kstore *st, int64_t cutoff_ms, size_t limit,
               size_t *purged, struct mgc_err *err);
  void (*close)(struct kstore *st);

  /* ---- fleet mode (NULL in a store one keeper uses alone) ----
   * A registration or removal sent to any node is written here, durable,
   * for the owner of the call's shard to act on (see store_pg.h). */
  /* Register n calls (call_id, tenant_id, added_ms, started_ms used): new
   * rows, or ended/lost ones revived.  created[i] (may be NULL) is 1 for a
   * new or revived call, 0 for one already active.  MGCALL_OK or
   * MGCALL_E_INTERNAL (nothing written). */
  int (*fleet_add)(struct kstore *st, const struct kstore_call *rows, size_t n,
                   int *created, struct mgc_err *err);
  /* End an active call (reason "removed", "terminated").  *was_live is 0
   * when it had already ended.  MGCALL_OK, MGCALL_E_NOT_FOUND or
   * MGCALL_E_INTERNAL. */
  int (*fleet_end)(struct kstore *st, const char *call_id, const char *reason,
                   int64_t ended_ms, int *was_live, struct mgc_err *err);
};

struct kstore {
  const struct kstore_ops *ops;
};

/* Open the store named by url: "sqlite:PATH" (PATH created with its parent
 * directory, mode 0700), "postgresql://..." or "postgres://..." (fleet mode,
 * store_pg.h; also a libpq key=value string starting with "host=" or
 * "dbname="), or NULL/"" for the default
 * sqlite:$XDG_STATE_HOME/mgcall/keeper.db ($HOME/.local/state when unset).
 * Checks it can be written and brings the schema up to date.  Errors:
 * MGCALL_E_USAGE (bad URL, unsupported scheme), MGCALL_E_INTERNAL (cannot
 * open, corrupt, read-only: err says which and where). */
int kstore_open(const char *url, struct kstore **out, struct mgc_err *err);

/* Close; NULL is a no-op. */
void kstore_close(struct kstore *st);

/* Backends. */
int kstore_sqlite_open(const char *path, struct kstore **out,
                       struct mgc_err *err);

/* The schema version this build writes (PRAGMA user_version). */
#define KSTORE_SQLITE_SCHEMA 3

#endif
