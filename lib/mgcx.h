/* SPDX-License-Identifier: MIT */
/* mgcx.h - the small helpers the library, the tool, the keeper and the
 * emulator share, each written once (as curl has curlx_): a binary
 * min-heap, a capped growable buffer, a bounded integer parser, RFC 3339
 * timestamps, the monotonic clock, human durations, UTF-8 checks and
 * escaping, percent-decoding, a one-thread job queue and capped reads of
 * secret files.  Prefix mgcx_; not installed; no I/O except
 * mgcx_file_read(); depends on nothing else of the repository (the tool in
 * src/ includes this and the public mgcall.h, never another lib/ header:
 * scripts/check-src-includes).  Unit-tested in tests/unit/test_mgcx.c,
 * test_duration.c, test_utf8.c and test_ids.c (escaping); the timestamp and
 * duration parsers fuzzed (fuzz/fuzz_rfc3339.c, fuzz/fuzz_duration.c). */
#ifndef MGCALL_MGCX_H
#define MGCALL_MGCX_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define MGCX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MGCX_PRINTF(a, b)
#endif

/* ---- binary min-heap (mgcx_heap.c) ------------------------------------
 * Elements of elem_size bytes stored by value (a pointer, or a small struct
 * such as {due, seq, index}), ordered by before(a, b) (1 when a comes
 * first; break ties, e.g. on a sequence number, for FIFO order).  moved
 * (may be NULL) is told every element's new position, MGCX_HEAP_NONE when
 * it leaves, so an owner can update or remove an element in O(log n). */
#define MGCX_HEAP_NONE SIZE_MAX

struct mgcx_heap {
  unsigned char *v;
  size_t len, cap, elem_size;
  int (*before)(const void *a, const void *b);
  void (*moved)(void *ctx, const void *elem, size_t pos);
  void *ctx;
};

void mgcx_heap_init(struct mgcx_heap *h, size_t elem_size,
                    int (*before)(const void *a, const void *b),
                    void (*moved)(void *ctx, const void *elem, size_t pos),
                    void *ctx);
void mgcx_heap_release(struct mgcx_heap *h);
/* Room for n elements in all: 0, or -1 when out of memory (h unchanged).
 * While len < n after it, mgcx_heap_push allocates nothing and cannot
 * fail (an owner that must never drop an element reserves first). */
int mgcx_heap_reserve(struct mgcx_heap *h, size_t n);
/* Add a copy of *elem.  0, or -1 when out of memory (h unchanged). */
int mgcx_heap_push(struct mgcx_heap *h, const void *elem);
/* The first element (borrowed, valid until the next change), or NULL. */
void *mgcx_heap_top(const struct mgcx_heap *h);
/* Remove the element at pos (mgcx_heap_pop: the first), copying it to out
 * (may be NULL).  0, or -1 when there is no such element. */
int mgcx_heap_remove(struct mgcx_heap *h, size_t pos, void *out);
int mgcx_heap_pop(struct mgcx_heap *h, void *out);
/* The element at pos changed its key: restore the order. */
void mgcx_heap_update(struct mgcx_heap *h, size_t pos);

/* ---- capped growable buffer (mgcx_buf.c) ------------------------------
 * NUL-terminated, grows by doubling, never past max bytes (curl dynbuf). */
struct mgcx_buf {
  char *data;
  size_t len, cap, max;
};

#define MGCX_BUF_TOO_BIG (-1) /* the data would pass max */
#define MGCX_BUF_NOMEM (-2)

void mgcx_buf_init(struct mgcx_buf *b, size_t max);
/* Free the data (not wiped: callers holding secrets wipe data first). */
void mgcx_buf_release(struct mgcx_buf *b);
/* Append n bytes: 0, MGCX_BUF_TOO_BIG or MGCX_BUF_NOMEM (b unchanged). */
int mgcx_buf_add(struct mgcx_buf *b, const void *p, size_t n);
/* Room for n bytes of data in all (cap n + 1 with the NUL), allocated now,
 * exactly, when there is less: an owner that sizes the buffer itself (a
 * known Content-Length, memory held against a budget) reserves, and the
 * adds within it allocate nothing.  0, MGCX_BUF_TOO_BIG (n > max) or
 * MGCX_BUF_NOMEM (b unchanged). */
int mgcx_buf_reserve(struct mgcx_buf *b, size_t n);

/* ---- bounded integers (mgcx_int.c) ------------------------------------
 * A whole decimal integer from lo to hi: optional '-' (never '+'), digits,
 * nothing else (no blanks, no trailing text, no overflow).  0 and *out, or
 * -1 (*out unchanged). */
int mgcx_parse_long(const char *s, long lo, long hi, long *out);
/* The same for the first len bytes of s (not NUL-terminated). */
int mgcx_parse_longn(const char *s, size_t len, long lo, long hi, long *out);

/* ---- RFC 3339 timestamps (mgcx_time.c) --------------------------------*/

/* Parse "2026-11-27T13:00:00Z", with an optional fraction (".5",
 * ".123456") and "Z" or "+hh:mm"/"-hh:mm" ('t'/'z' and a space for 'T' are
 * accepted too).  Years 1970..9999.  Returns 0 and sets *ms, or -1. */
int mgcx_rfc3339_parse(const char *s, int64_t *ms);

/* Format epoch milliseconds ms (UTC) into buf: "2026-11-27T13:00:00.000Z"
 * with millis (buf >= 25 bytes), "2026-11-27T13:00:00Z" without (>= 21).
 * A negative ms formats the epoch.  Returns buf. */
char *mgcx_rfc3339_format(int64_t ms, int millis, char *buf, size_t len);

/* ---- monotonic clock (mgcx_clock.c) ----------------------------------*/

/* Milliseconds of CLOCK_MONOTONIC (for intervals, never for display). */
uint64_t mgcx_now_ms(void);

/* ---- human durations (mgcx_duration.c) --------------------------------
 * "250ms", "3s", "15m", "1h", "1h30m", "2d" <-> milliseconds. */

/* Largest duration accepted: 366 days. */
#define MGCX_DURATION_MAX_MS (366ULL * 24 * 3600 * 1000)

/* Parse s: one or more <digits><unit> groups, unit one of ms, s, m, h, d
 * ("0" alone is also accepted).  Returns 0 and sets *ms, or -1 for empty,
 * unknown unit, missing unit, overflow or a value above
 * MGCX_DURATION_MAX_MS. */
int mgcx_duration_parse(const char *s, uint64_t *ms);

/* Format ms into buf in the shortest exact form ("1h30m", "250ms", "0s").
 * Returns buf. */
char *mgcx_duration_format(uint64_t ms, char *buf, size_t buflen);

/* ---- UTF-8 (mgcx_utf8.c) ----------------------------------------------
 * Make arbitrary bytes safe for a JSON writer (jansson refuses invalid
 * UTF-8), cut text on character boundaries, tell the characters that must
 * not be shown raw. */

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) at s (n bytes available), or 0 when
 * the bytes there are not one. */
size_t mgcx_utf8_seq(const unsigned char *s, size_t n);

/* Copy srclen bytes of src (any bytes) into dst as valid UTF-8: well-formed
 * characters are kept; every other byte, a NUL included, becomes the four
 * characters \xHH.  The copy is cut before a character or an escape that
 * would not fit, never inside one.  dst is always NUL-terminated (dstlen
 * must be at least 1).  Returns the length written. */
size_t mgcx_utf8_clean(char *dst, size_t dstlen, const char *src,
                       size_t srclen);

/* The code point of the well-formed UTF-8 sequence s of len bytes (see
 * mgcx_utf8_seq()). */
uint32_t mgcx_char_code(const unsigned char *s, size_t len);

/* 1 when that character must not be shown raw or stand in an id: C0, DEL,
 * C1, the bidirectional-text controls (U+061C, U+200E/F, U+202A..E,
 * U+2066..9) and U+2028/9. */
int mgcx_char_unsafe(const unsigned char *s, size_t len);

/* ---- terminal-safe text (mgcx_escape.c) --------------------------------
 * Text from outside (ids, tenants, Graph's error messages) made safe to
 * print on a terminal or in a one-line log. */

/* Write s (NULL prints as "") into out (outlen >= 1, always
 * NUL-terminated): printable UTF-8 as is; \n \r \t \\ as such escapes
 * (with a backslash itself doubled); other C0 bytes, DEL and invalid bytes
 * as \xNN; C1, bidi controls and U+2028/9 as \u{NNNN}.  When it does not
 * fit, it is cut before the character or escape that would not fit.
 * Returns out. */
char *mgcx_escape_text(const char *s, char *out, size_t outlen);

/* ---- percent-decoding (mgcx_pct.c) ------------------------------------*/

/* The value of hex digit c (either case), or -1. */
int mgcx_hexval(char c);

/* Percent-decode len bytes of s (%XX, either case; '+' becomes ' ' when
 * plus is non-zero, as in form bodies and query strings, else stays '+')
 * into a malloc'd NUL-terminated string (caller frees).  NULL for a bad
 * escape, a NUL byte (raw or %00: it would cut the string short) or out of
 * memory. */
char *mgcx_pct_decode(const char *s, size_t len, int plus);

/* ---- one-thread job queue (mgcx_jobs.c) --------------------------------
 * Work handed off a thread that must not wait (an event loop, an HTTP
 * server's thread) to one worker thread of its own: jobs run one at a
 * time, in the order given.  The thread starts with the first job, with
 * every signal blocked (signals are the program's threads' to take). */
struct mgcx_jobs;

/* A queue of at most max jobs waiting (0 = no bound).  NULL when out of
 * memory. */
struct mgcx_jobs *mgcx_jobs_new(size_t max);

/* Queue fn(arg) to run on the worker.  0, or -1 when the queue is full,
 * out of memory or the thread could not start (fn is not called). */
int mgcx_jobs_submit(struct mgcx_jobs *q, void (*fn)(void *arg), void *arg);

/* Run every job queued, stop the thread, free.  NULL is a no-op. */
void mgcx_jobs_free(struct mgcx_jobs *q);

/* ---- capped file reads (mgcx_file.c) -----------------------------------
 * For the small files that hold secrets (a token, a client secret, a
 * password, a certificate).  Failures return MGCX_FILE_ERR or
 * MGCX_FILE_NOMEM with the reason in why (whylen bytes; may be NULL):
 * strerror() text, "is a directory", "larger than N bytes", "is empty",
 * "contains NUL bytes", "out of memory"; never the path. */
#define MGCX_FILE_ERR (-1)
#define MGCX_FILE_NOMEM (-2)

/* Read all of path (at most max bytes): 0 with *data (malloc'd,
 * NUL-terminated, caller frees; wipe it if secret) and *len. */
int mgcx_file_read(const char *path, size_t max, unsigned char **data,
                   size_t *len, char *why, size_t whylen);

/* Read a one-value secret file: like mgcx_file_read() with a 64 KiB cap,
 * then trailing CR/LF/space/tab removed.  An empty value or one with a NUL
 * byte is an error.  0 with *value, a NUL-terminated malloc'd string (caller
 * wipes and frees). */
int mgcx_file_read_secret(const char *path, char **value, char *why,
                          size_t whylen);

#endif
