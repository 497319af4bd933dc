/* SPDX-License-Identifier: MIT */
/* log.h - the keeper's log lines on stderr: text (one human line) or JSON
 * (one object a line: ts, level, msg, and callId/requestId when known). */
#ifndef MGCALL_KEEPER_LOG_H
#define MGCALL_KEEPER_LOG_H

#include "mgcx.h" /* MGCX_PRINTF */

enum klog_format { KLOG_TEXT = 0, KLOG_JSON = 1 };
enum klog_level { KLOG_ERROR = 0, KLOG_WARN, KLOG_INFO, KLOG_DEBUG };

/* Set the format and the most detailed level written (default text, info).
 * Call before threads start. */
void klog_setup(enum klog_format fmt, enum klog_level max);

/* Write one line.  call_id and request_id may be NULL.  Thread-safe. */
void klog(enum klog_level lvl, const char *call_id, const char *request_id,
          const char *fmt, ...) MGCX_PRINTF(4, 5);

#endif
