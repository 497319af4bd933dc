/* SPDX-License-Identifier: MIT */
/* pg.h - one libpq connection for the keeper's fleet mode: connect from a
 * libpq URI (PG* environment variables and ~/.pgpass apply), reconnect
 * after a failure, run one parameterised statement, and build the text
 * array literals the batch statements take.  No named prepared statements
 * and no session state, so PgBouncer in transaction mode works.
 *
 * A connection is used by one thread at a time.  The password never
 * appears in what kpg_where() returns or in an error message. */
#ifndef MGCALL_KEEPER_PG_H
#define MGCALL_KEEPER_PG_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "mgc_internal.h"

struct kpg;

/* Make a connection object for url (copied) and connect once.  Returns
 * MGCALL_OK, or MGCALL_E_INTERNAL (err says why: "store <where>: ...");
 * the object is made either way when *out is set (a later kpg_exec()
 * reconnects).  app is the application_name (e.g. "mgcall-keeper"). */
int kpg_open(const char *url, const char *app, struct kpg **out,
             struct mgc_err *err);
void kpg_free(struct kpg *pg);

/* user@host:port/db of the connection, for messages (never the password). */
const char *kpg_where(const struct kpg *pg);

/* Run sql with n text parameters (NULL = SQL NULL; n 0: sql may hold
 * several statements).  Reconnects first when
 * the connection is down (at most once a second: in between it fails at
 * once).  Returns the result (PGRES_COMMAND_OK or PGRES_TUPLES_OK; caller
 * PQclear()s) or NULL with err set (MGCALL_E_INTERNAL; "what" names the
 * operation in the message). */
PGresult *kpg_exec(struct kpg *pg, const char *what, const char *sql, int n,
                   const char *const *params, struct mgc_err *err);
/* The same for a statement whose result is not needed. */
int kpg_run(struct kpg *pg, const char *what, const char *sql, int n,
            const char *const *params, struct mgc_err *err);

/* 1 while the last statement reached the server (the connection is up). */
int kpg_up(const struct kpg *pg);

/* From now on, a statement with no answer within ms (0: no bound, the
 * default) is cancelled (PQcancel, so that it leaves nothing behind) and
 * fails ("no answer within N ms"); kpg_up() is then 0, the connection is
 * closed (the next statement reconnects) when the server does not confirm
 * the cancellation within a second, and every statement of the next second
 * fails at once (so that a caller trying again and again cannot hold the
 * connection for the whole stall).  A pooler that queues
 * statements while the server is down (PgBouncer) or a lock held elsewhere
 * cannot hold the caller longer than the bound. */
void kpg_set_bound(struct kpg *pg, int64_t ms);

/* A growable text array literal: '{"a","b",NULL}'. */
struct kpg_array {
  char *buf;
  size_t len, cap;
  size_t count;
  int oom;
};
void kpg_array_init(struct kpg_array *a);
/* Append a string element (NULL = SQL NULL), or an integer one. */
void kpg_array_str(struct kpg_array *a, const char *s);
void kpg_array_int(struct kpg_array *a, int64_t v);
/* Close and return the literal ("{...}"; append nothing after it), or
 * NULL when memory ran out. */
const char *kpg_array_text(struct kpg_array *a);
void kpg_array_release(struct kpg_array *a);

/* Overwrite, in place, with '*' every password a libpq connection string
 * may carry: the one in a URI's user info (postgresql://user:PW@host) and
 * the value of each password= parameter (URI query or key=value form).
 * Returns how many passwords were masked.  Used on the command line's copy
 * of --store (ps and /proc show argv). */
int kpg_mask_password(char *conninfo);

/* A bigint column of row r of res. */
int64_t kpg_int(const PGresult *res, int r, int c);

#endif
