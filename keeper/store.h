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
  int64_t term; /* fleet: lease term of the call's shard the row was made
                   under (a write is fenced by it); 0 = none */
};

/* Called per row; return non-zero to stop. */
typedef int (*kstore_row_cb)(void *ud, const struct kstore_call *row);

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
#define KSTORE_SQLITE_SCHEMA 1

#endif
