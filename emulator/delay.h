/* SPDX-License-Identifier: MIT */
/* delay.h - --latency without blocking a worker thread: the answer is kept,
 * the connection suspended (libmicrohttpd MHD_suspend_connection) and one
 * timer thread resumes it when its delay is over.  Thread-safe. */
#ifndef EMU_DELAY_H
#define EMU_DELAY_H

#include <microhttpd.h>
#include <stdint.h>

struct emu_delay;

struct emu_delay *emu_delay_new(void);
int emu_delay_start(struct emu_delay *d);

/* Resume conn at monotonic time due_ms.  The caller has suspended it.
 * After emu_delay_stop() connections are resumed at once. */
void emu_delay_add(struct emu_delay *d, struct MHD_Connection *conn,
                   int64_t due_ms);

/* Resume every waiting connection now and from here on; ends the thread.
 * Call before MHD_stop_daemon(). */
void emu_delay_stop(struct emu_delay *d);
void emu_delay_free(struct emu_delay *d);

#endif
