/* SPDX-License-Identifier: MIT */
/* fileread.h - read small files that hold secrets (token, client secret,
 * password, certificate) with a size cap. */
#ifndef MGCALL_AUTH_FILEREAD_H
#define MGCALL_AUTH_FILEREAD_H

#include "mgc_internal.h"

#include <stddef.h>

/* Read all of path (at most max bytes).  On success returns 0, *data
 * (malloc'd, NUL-terminated, caller frees; wipe it if secret) and *len.  On
 * failure returns -1 with err (code MGCALL_E_AUTH) holding the reason
 * ("No such file or directory", "larger than N bytes", "is a directory"),
 * without the path. */
int mgc__file_read(const char *path, size_t max, unsigned char **data,
                   size_t *len, struct mgc_err *err);

/* Read a one-value secret file: like mgc__file_read() with a 64 KiB cap, then
 * trailing CR/LF/space/tab removed.  An empty value is an error ("is
 * empty").  The value is a NUL-terminated malloc'd string (caller wipes and
 * frees). */
int mgc__file_read_secret(const char *path, char **value, struct mgc_err *err);

#endif
