/* SPDX-License-Identifier: MIT */
/* status.h - the snapshot behind the status page (GET /, status_page.h),
 * bounded whatever the number of calls: under the core's lock, the counts
 * of the live states and the KSP_WORST live calls closest to their
 * deadline from the schedule's by-deadline order (O(log n), sched.h; their
 * fields copied); the KSP_LATEST calls that ended last from
 * the store (one indexed query, kstore_ops.list_ended); the calls ended
 * and lost since start from the metrics; in fleet mode the members
 * (kcore_fleet_json(): this node's view at its last lease renewal).
 * The page is rendered afterwards with no lock held. */
#ifndef MGCALL_KEEPER_STATUS_H
#define MGCALL_KEEPER_STATUS_H

#include "keeper/core.h"
#include "keeper/status_page.h"

/* Fill s (zeroed first; ksp_release() it).  0, or -1 when memory ran out
 * (s released).  A store that fails only leaves s->latest_error set. */
int kstat_collect(struct kcore *k, struct ksp_snapshot *s);

#endif
