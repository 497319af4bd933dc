/* SPDX-License-Identifier: MIT */
/* uuid.h - random (version 4) UUIDs for client-request-id and jti. */
#ifndef MGCALL_UUID_H
#define MGCALL_UUID_H

/* Text form length without the NUL: 8-4-4-4-12. */
#define MGC_UUID_LEN 36

/* Write a lower-case v4 UUID (RFC 9562) from OpenSSL's RAND_bytes into out
 * (MGC_UUID_LEN + 1 bytes).  Returns 0, or -1 when the RNG fails (out is
 * then ""). Thread-safe. */
int mgc__uuid_v4(char out[MGC_UUID_LEN + 1]);

/* Format 16 bytes as a v4 UUID (sets the version and variant bits). */
void mgc__uuid_format_v4(const unsigned char bytes[16],
                         char out[MGC_UUID_LEN + 1]);

#endif
