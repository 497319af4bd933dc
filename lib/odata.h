/* SPDX-License-Identifier: MIT */
/* odata.h - the Microsoft Graph (OData) error body:
 *   {"error": {"code": "...", "message": "...",
 *              "innerError": {"request-id": "...", "client-request-id": "...",
 *                             "date": "...", "code": "..."}}}
 * The inner object's key is matched case-insensitively (Graph writes both
 * innerError and innererror).  No I/O. */
#ifndef MGCALL_ODATA_H
#define MGCALL_ODATA_H

#include <stddef.h>

/* Bodies larger than this are not parsed (bytes). */
#define MGC_ODATA_MAX_BODY (256 * 1024)

struct mgc_odata_error {
  char code[128];              /* error.code */
  char message[1024];          /* error.message */
  char inner_code[128];        /* error.innerError.code (Calls: "8522") */
  char request_id[128];        /* error.innerError.request-id */
  char client_request_id[128]; /* error.innerError.client-request-id */
  char date[64];               /* error.innerError.date */
};

/* Parse len bytes of body.  Always clears *out first.  Returns 0 when the
 * body is a JSON object with an "error" object (fields that are missing or
 * not strings stay ""; too-long strings are truncated), -1 otherwise (not
 * JSON, no error object, larger than MGC_ODATA_MAX_BODY). */
int mgc__odata_parse(const char *body, size_t len, struct mgc_odata_error *out);

#endif
