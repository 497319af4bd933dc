/* SPDX-License-Identifier: MIT */
/* store.h - where the keeper keeps its calls: an interface (a table of
 * functions) so SQLite (store_sqlite.c) and, later, PostgreSQL
 * (store_pg.c, fleet mode) are interchangeable.  kstore_open() picks the
 * backend from the URL's scheme.
 *
 * A backend is used by one thread at a time (the keeper serialises calls). */
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
};

/* Called per row; return non-zero to stop. */
typedef int (*kstore_row_cb)(void *ud, const struct kstore_call *row);

/* State sets for list_page. */
#define KSTORE_STATE_ACTIVE 1u
#define KSTORE_STATE_AT_RISK 2u
#define KSTORE_STATE_ENDED 4u
#define KSTORE_STATE_LOST 8u

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
  void (*close)(struct kstore *st);
};

struct kstore {
  const struct kstore_ops *ops;
};

/* Open the store named by url: "sqlite:PATH" (PATH created with its parent
 * directory, mode 0700), or NULL/"" for the default
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
#define KSTORE_SQLITE_SCHEMA 1

#endif
