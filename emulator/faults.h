/* SPDX-License-Identifier: MIT */
/* faults.h - injected failures: random statuses at a rate, a queue of
 * statuses for the next requests, added latency and per-app throttling (a
 * token bucket per application id).  Changeable at run time from JSON
 * (PUT /_emulator/faults), and a token-endpoint fault for one tenant
 * (tenantFault).  Thread-safe. */
#ifndef EMU_FAULTS_H
#define EMU_FAULTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_FAULT_MAX_STATUSES 16
/* Fault kinds that are not a status, in the statuses list (JSON "reset",
 * "slow"): the connection is closed without an answer; the answer is
 * normal but comes slow_ms late. */
#define EMU_FAULT_RESET 1
#define EMU_FAULT_SLOW 2
/* HTTP/2 (HTTP/1.1: as "reset"): "goaway", a GOAWAY below the streams in
 * flight, then the connection closes; "rst_stream", RST_STREAM of the
 * request's stream. */
#define EMU_FAULT_GOAWAY 3
#define EMU_FAULT_RST_STREAM 4
/* HTTP/2 error codes (RFC 9113 section 7) the faults send. */
#define EMU_H2_NO_ERROR 0x0
#define EMU_H2_INTERNAL_ERROR 0x2
#define EMU_H2_REFUSED_STREAM 0x7
#define EMU_H2_CANCEL 0x8
#define EMU_FAULT_MAX_SEQUENCE 256

/* Which endpoints faults apply to. */
enum emu_fault_scope {
  EMU_SCOPE_GRAPH = 1, /* /v1.0, /beta */
  EMU_SCOPE_TOKEN = 2, /* token endpoint and IMDS */
  EMU_SCOPE_ALL = 3
};

/* Longest tenant name of a per-tenant token fault. */
#define EMU_FAULT_TENANT_MAX 128

struct emu_faults_config {
  double rate; /* 0..1 */
  int statuses[EMU_FAULT_MAX_STATUSES];
  size_t nstatuses;
  int64_t latency_ms;
  /* each delay: latency_ms +- up to this percent (uniform) */
  int latency_jitter_pct;
  double throttle_per_s; /* 0: off */
  int retry_after_s;     /* Retry-After on 429/503 */
  int64_t slow_ms;       /* delay of a "slow" fault (default 2 s) */
  enum emu_fault_scope scope;
  uint64_t seed; /* --seed: the generator's seed; 0 = a random one */
  int have_seed; /* seed was given */
  /* A token-endpoint fault for one tenant ("" = none): its token requests
   * are answered after tenant_latency_ms with tenant_status (0 = the normal
   * answer).  Other tenants are not touched. */
  char tenant[EMU_FAULT_TENANT_MAX];
  int64_t tenant_latency_ms;
  int tenant_status;
  /* the error codes of "goaway" (default NO_ERROR) and "rst_stream"
   * (default REFUSED_STREAM: the request is not processed; any other:
   * processed, then reset, so its outcome is unknown to the client) */
  uint32_t goaway_error, rst_error;
};

/* Defaults: rate 0, statuses 503, no latency, no throttling, Retry-After 1,
 * scope graph. */
void emu_faults_config_default(struct emu_faults_config *cfg);

struct emu_faults;
struct emu_faults *emu_faults_new(const struct emu_faults_config *cfg);
void emu_faults_free(struct emu_faults *f);

/* What to do with one request. */
struct emu_fault_decision {
  int status;      /* 0: serve normally; else answer this status */
  int retry_after; /* seconds for Retry-After, 0: none */
  int throttled;   /* status comes from the throttle */
  int reset;       /* close the connection without an answer */
  int goaway;      /* EMU_FAULT_GOAWAY with h2_error */
  int rst_stream;  /* EMU_FAULT_RST_STREAM with h2_error */
  uint32_t h2_error;
  int64_t latency_ms;
};

/* Decide for a request to an endpoint of scope (EMU_SCOPE_GRAPH or
 * EMU_SCOPE_TOKEN) made by app (NULL: not known, no throttling). */
void emu_faults_decide(struct emu_faults *f, enum emu_fault_scope scope,
                       const char *app, int64_t now_ms,
                       struct emu_fault_decision *out);

/* Add the per-tenant token fault (if it names tenant) to out, a decision of
 * emu_faults_decide() for a token request of tenant. */
void emu_faults_tenant(struct emu_faults *f, const char *tenant,
                       struct emu_fault_decision *out);

/* The current settings as JSON (new reference). */
json_t *emu_faults_to_json(struct emu_faults *f);

/* Apply a JSON object of settings (any subset of rate, statuses, latency,
 * throttle, retryAfter, scope, sequence, goawayError, rstStreamError,
 * seed: restart the generator,
 * slowLatency, tokenOutage: the token endpoint answers 503 for that long
 * from now, whatever the scope and rate).  Returns
 * 0, or -1 with a message in err and nothing changed. */
int emu_faults_from_json(struct emu_faults *f, const json_t *obj, char *err,
                         size_t errlen);

/* The seed the generator started from (given or drawn at random): the
 * same seed and the same requests in the same order give the same faults. */
uint64_t emu_faults_seed(struct emu_faults *f);

/* Counters. */
uint64_t emu_faults_injected(struct emu_faults *f);
uint64_t emu_faults_throttled(struct emu_faults *f);

/* ---- value parsers (command line and JSON), no I/O --------------------- */

/* "0.05", "5%" -> 0.05.  0 or -1. */
int emu_parse_rate(const char *s, double *rate);
/* "429,503,goaway" -> statuses (each 400..599, or a kind: reset, slow,
 * goaway, rst_stream).  0 or -1. */
int emu_parse_statuses(const char *s, int *out, size_t max, size_t *n);
/* "100/s", "6000/m", "100" (per second) -> per-second rate > 0.  0 or -1. */
int emu_parse_throttle(const char *s, double *per_s);
/* "NO_ERROR", "REFUSED_STREAM", "INTERNAL_ERROR", "CANCEL" -> the code;
 * 0 or -1. */
int emu_parse_h2_error(const char *s, uint32_t *code);
/* "dd" like "graph", "token", "all". 0 or -1. */
int emu_parse_scope(const char *s, enum emu_fault_scope *scope);

#endif
