/* SPDX-License-Identifier: MIT */
/* store_pg.h - the PostgreSQL store (fleet mode, SPEC.md section 4a): the
 * kstore backend plus what the lease manager (lease.c) reads and writes in
 * the calls table on its own connection.
 *
 * Calls are hashed into KSTORE_PG_SHARDS shards; a keeper writes a call's
 * progress only under the lease term of its shard (fenced in SQL: the
 * shard's term must still be the row's term and its lease unexpired on the
 * database's clock), so a keeper that lost a shard cannot overwrite the new
 * owner's state.  Registrations and removals sent to any node are written
 * "unclaimed"; the shard's owner picks them up (kstore_pg_load) and claims
 * them (kstore_pg_claim). */
#ifndef MGCALL_KEEPER_STORE_PG_H
#define MGCALL_KEEPER_STORE_PG_H

#include "keeper/pg.h"
#include "keeper/store.h"

/* Schema version this build writes (table mgcall_schema). */
#define KSTORE_PG_SCHEMA 1
/* Shards made by the first migration. */
#define KSTORE_PG_SHARDS 64
/* A statement of the store's connection (registrations, removals, writes
 * of progress and hook jobs, pages, purges) has its answer within this, or
 * is cancelled and fails: a registration then answers 503 instead of
 * waiting on a database that does not answer (a pooler queueing it while
 * the server is down, a lock held elsewhere).  Migrations at open are not
 * bounded (they may wait for another keeper's). */
#define KSTORE_PG_BOUND_MS 5000

/* Open the store at a libpq URI (postgresql://..., postgres://...): connect,
 * bring the schema up to date under a transaction-scoped advisory lock (so
 * keepers starting together migrate once).  MGCALL_E_INTERNAL with err
 * saying why (never the password). */
int kstore_pg_open(const char *url, struct kstore **out, struct mgc_err *err);

/* The shard of a call id (FNV-1a 32 of the id, modulo nshards). */
unsigned kstore_pg_shard(const char *call_id, unsigned nshards);

/* Rows the owner of shards[0..n) must act on, on connection pg: with
 * all 1, every active row and every unclaimed one (a shard just taken);
 * with all 0, only the unclaimed ones (registrations and removals made
 * through any node).  cb(ud, row, claimed) per row; return non-zero to
 * stop.  MGCALL_OK or MGCALL_E_INTERNAL. */
typedef int (*kstore_pg_row_cb)(void *ud, const struct kstore_call *row,
                                int claimed);
int kstore_pg_load(struct kpg *pg, const int *shards, size_t n, int all,
                   kstore_pg_row_cb cb, void *ud, struct mgc_err *err);

/* Mark rows claimed, each only if its state is still states[i] (a removal
 * that came in meanwhile stays unclaimed) and its shard's term is still
 * terms[i] (unexpired).  MGCALL_OK or MGCALL_E_INTERNAL. */
int kstore_pg_claim(struct kpg *pg, const char *const *ids,
                    const char *const *states, const int64_t *terms, size_t n,
                    struct mgc_err *err);

/* The store's own connection (used under the keeper's store lock). */
struct kpg *kstore_pg_conn(struct kstore *st);

/* The hook outbox and retention operations of the store (store.h), in
 * store_pg_hooks.c.  Claims, their leases and next attempts use the
 * database's now(); claims take jobs FOR UPDATE SKIP LOCKED, so each job
 * runs on one node at a time. */
int kstore_pg_claim_hooks(struct kstore *st, const char *node, int kinds,
                          int64_t now_ms, int64_t lease_ms, size_t max,
                          kstore_hook_cb cb, void *ud, size_t *claimed,
                          struct mgc_err *err);
int kstore_pg_hook_finish(struct kstore *st, int64_t job_id, int64_t claim,
                          enum kstore_hook_outcome outcome, int64_t now_ms,
                          int64_t delay_ms, const char *last_error,
                          struct mgc_err *err);
int kstore_pg_hook_pending(struct kstore *st, int64_t *pending,
                           struct mgc_err *err);
int kstore_pg_purge(struct kstore *st, int64_t cutoff_ms, size_t limit,
                    size_t *purged, struct mgc_err *err);

#endif
