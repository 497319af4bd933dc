/* SPDX-License-Identifier: MIT */
/*
 * mgcall.h - public API of libmgcall, a Microsoft Graph client for
 * POST /communications/calls/{id}/keepAlive with app-only authentication.
 *
 * Conventions (see docs/library.md):
 *  - Every exported symbol starts with mgcall_ / MGCALL_.
 *  - Functions return an mgcall_code; MGCALL_OK (0) is success.  The library
 *    never exits or aborts; a detailed message goes to the handle's error
 *    buffer (mgcall_client_errmsg()).
 *  - Strings passed in are copied; strings handed out are borrowed from their
 *    owner unless the comment says who frees them.
 *  - *_free(NULL) is a no-op.
 */
#ifndef MGCALL_MGCALL_H
#define MGCALL_MGCALL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MGCALL_EXTERN __attribute__((visibility("default")))
#else
#define MGCALL_EXTERN
#endif

/*
 * Result codes.  The numbers are stable, never renumbered, and equal to the
 * exit status of the mgcall tool (mgcall(1), EXIT STATUS).  New codes are
 * appended only.
 *
 * XX(name, number, message)
 */
#define MGCALL_CODE_MAP(XX)                                                    \
  XX(OK, 0, "success")                                                         \
  XX(E_INTERNAL, 1, "internal error")                                          \
  XX(E_USAGE, 2, "usage error")                                                \
  XX(E_AUTH, 3, "no credentials, or the token endpoint refused them")          \
  XX(E_NOT_FOUND, 4, "call not found: it has ended")                           \
  XX(E_ACCESS_DENIED, 5, "access denied")                                      \
  XX(E_THROTTLED, 6, "throttled or unavailable: retries exhausted")            \
  XX(E_NETWORK, 7, "network or TLS failure")                                   \
  XX(E_HTTP, 8, "graph answered with another HTTP error")

typedef enum mgcall_code {
#define MGCALL_CODE_GEN(name, num, msg) MGCALL_##name = num,
  MGCALL_CODE_MAP(MGCALL_CODE_GEN)
#undef MGCALL_CODE_GEN
} mgcall_code;

/* A static, lower-case, one-line description of code; never NULL (unknown
 * codes give "unknown error").  Thread-safe. */
MGCALL_EXTERN const char *mgcall_strerror(int code);

/* The code's symbolic name without the prefix ("E_NOT_FOUND"), or NULL for an
 * unknown code.  Thread-safe. */
MGCALL_EXTERN const char *mgcall_code_name(int code);

/* The library version as "MAJOR.MINOR.PATCH"; static storage. */
MGCALL_EXTERN const char *mgcall_version(void);

#ifdef __cplusplus
}
#endif
#endif /* MGCALL_MGCALL_H */
