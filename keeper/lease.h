/* SPDX-License-Identifier: MIT */
/* lease.h - fleet mode (SPEC.md section 4a): which shards of the calls this
 * keeper holds, by lease, on the database's clock.
 *
 * One thread with its own connection.  Every TTL/4 (at most every 5 s) it
 * renews every lease it holds with one statement (and its member heartbeat
 * with it), hands over the shards it finds taken (nothing more is written
 * for them; their calls are still sent until the database shows the new
 * owner's first write for each, then they leave the schedule), takes expired or
 * free shards with SKIP LOCKED up to its fair share ceil(shards / live members)
 * and releases (hands over) what is above it, so that a joining keeper gets its
 * share by moving the fewest shards.  Every few hundred ms it reads the
 * registrations and removals made through any node for the shards it holds
 * ("unclaimed" rows) and acts on them.  While the database is unreachable it
 * keeps everything it holds (err on the side of sending); writes are fenced by
 * term in SQL, so a keeper that lost a shard (paused, cut off) writes nothing
 * for it. */
#ifndef MGCALL_KEEPER_LEASE_H
#define MGCALL_KEEPER_LEASE_H

#include "keeper/core.h"

struct klease_config {
  const char *store_url; /* the PostgreSQL store */
  const char *node_id;   /* NULL = host name + random suffix */
  int64_t ttl_ms;        /* lease TTL (>= 250) */
  const char *api_url;   /* this node's control API, for GET /fleet */
};

struct klease;

/* Join the fleet: register the member, release shards a previous process
 * of the same node id left, start the thread (the first shards are taken
 * at once).  Hooks itself into core (row terms, GET /fleet, metrics).
 * MGCALL_OK or MGCALL_E_INTERNAL (err says why). */
int klease_start(const struct klease_config *cfg, struct kcore *core,
                 struct klease **out, struct mgc_err *err);

/* Leave: stop the thread, write the progress of every call held, release
 * every shard (the others adopt them at their next look) and remove the
 * member.  Call after the main loop stopped sending.  NULL is a no-op. */
void klease_stop(struct klease *l);

/* The shortest and the default TTL, KLEASE_MIN_TTL_MS and
 * KLEASE_DEFAULT_TTL_MS, are in keeper/config.h (the tool checks
 * --lease-ttl). */

#endif
