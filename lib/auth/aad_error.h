/* SPDX-License-Identifier: MIT */
/* aad_error.h - parse the error body of the Microsoft identity platform
 * (token endpoint, IMDS, App Service identity):
 *   {"error": "invalid_client", "error_description": "AADSTS7000215: ...",
 *    "error_codes": [7000215], "trace_id": "...", "correlation_id": "..."}
 * App Service also answers {"statusCode": 400, "message": "..."}.
 * Bytes in, values out; no I/O. */
#ifndef MGCALL_AUTH_AAD_ERROR_H
#define MGCALL_AUTH_AAD_ERROR_H

#include <stddef.h>

struct mgc_aad_error {
  char error[128];        /* "invalid_client" */
  char description[1024]; /* verbatim, CR/LF/TAB turned into spaces */
  char codes[128];        /* "7000215" or "7000215, 50011" */
  char trace_id[64];
  char correlation_id[64];
};

/* Parse len bytes of body.  Returns 1 when it is an error body (an object
 * with a string "error", or App Service's "message"), filling *out (strings
 * truncated to fit, always NUL-terminated); 0 when it is not. */
int mgc__aad_error_parse(const char *body, size_t len,
                         struct mgc_aad_error *out);

/* One line for the user: "invalid_client: AADSTS7000215: Invalid client
 * secret provided. (error codes 7000215; trace id T; correlation id C)". */
void mgc__aad_error_format(const struct mgc_aad_error *e, char *buf, size_t n);

#endif
