/* SPDX-License-Identifier: MIT */
/* uuid.c - v4 UUIDs from OpenSSL's CSPRNG. */
#include "uuid.h"

#include <openssl/rand.h>
#include <string.h>

void mgc__uuid_format_v4(const unsigned char bytes[16],
                         char out[MGC_UUID_LEN + 1])
{
  static const char hex[] = "0123456789abcdef";
  unsigned char b[16];
  memcpy(b, bytes, sizeof(b));
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10 */
  size_t w = 0;
  for(size_t i = 0; i < 16; i++) {
    if(i == 4 || i == 6 || i == 8 || i == 10)
      out[w++] = '-';
    out[w++] = hex[b[i] >> 4];
    out[w++] = hex[b[i] & 0x0f];
  }
  out[w] = '\0';
}

int mgc__uuid_v4(char out[MGC_UUID_LEN + 1])
{
  unsigned char b[16];
  if(RAND_bytes(b, (int)sizeof(b)) != 1) {
    out[0] = '\0';
    return -1;
  }
  mgc__uuid_format_v4(b, out);
  return 0;
}
