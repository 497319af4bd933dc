/* SPDX-License-Identifier: MIT */
/* page.h - GET /calls one page at a time (SPEC.md section 4a):
 * GET /calls?state=active|at-risk|ended|lost&limit=N&after=CURSOR ->
 * {"calls": [...], "next": CURSOR or null}.  Rows come from the store in
 * call-id order (every call ever registered, until purged); a call the
 * schedule holds is shown with its live fields.  The cursor is the last
 * call id of the page (clients percent-encode it into the next query). */
#ifndef MGCALL_KEEPER_PAGE_H
#define MGCALL_KEEPER_PAGE_H

#include <jansson.h>
#include <stddef.h>

#include "keeper/core.h"

#define KPAGE_DEFAULT_LIMIT 1000
#define KPAGE_MAX_LIMIT 10000

struct kpage_query {
  unsigned states;           /* KSTORE_STATE_* bits, 0 = every state */
  size_t limit;              /* 1..KPAGE_MAX_LIMIT */
  char after[KS_ID_MAX + 1]; /* "" = from the first call */
};

/* Fill q from the query's values, each NULL when absent: state (one state
 * name), limit (decimal 1..KPAGE_MAX_LIMIT), after (after_len bytes: a
 * NUL or a control character in it is refused).  Returns 0, or -1 with a
 * one-line reason in why.  No I/O (fuzzed by fuzz/fuzz_keeper_api.c). */
int kpage_parse(const char *state, const char *limit, const char *after,
                size_t after_len, struct kpage_query *q, char *why,
                size_t whylen);

/* The page of q as {"calls": [...], "next": ...}; caller decrefs.  NULL
 * with err set when the store fails or memory runs out.  Takes the store
 * lock to read rows, then the core lock only to copy the live fields of
 * the calls in the page: JSON is built with no lock held. */
json_t *kpage_calls(struct kcore *k, const struct kpage_query *q,
                    struct mgc_err *err);

#endif
