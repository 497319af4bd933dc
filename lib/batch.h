/* SPDX-License-Identifier: MIT */
/* batch.h - what lib/client.c needs of lib/batch.c besides the public
 * mgcall_batch_* functions. */
#ifndef MGCALL_BATCH_H
#define MGCALL_BATCH_H

#include "mgc_internal.h"

/* 1 while a token request for tenant (NULL = the credential's) is in
 * flight, queued or waiting to retry on batch b. */
int mgc__batch_token_pending(const mgcall_batch *b, const char *tenant);

#endif
