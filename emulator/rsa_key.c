/* SPDX-License-Identifier: MIT */
/* rsa_key.c - an RSA private key from a PEM file given on the command
 * line. */
#include "rsa_key.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>

EVP_PKEY *emu_rsa_key_load(const char *option, const char *path, char *err,
                           size_t errlen)
{
  FILE *f = fopen(path, "r");
  if(!f) {
    if(err && errlen)
      snprintf(err, errlen, "%s '%s': cannot open it", option, path);
    return NULL;
  }
  EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  ERR_clear_error();
  if(!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
     EVP_PKEY_get_bits(key) < 2048) {
    EVP_PKEY_free(key);
    if(err && errlen)
      snprintf(err, errlen,
               "%s '%s': want an RSA private key (PEM, at least 2048 bits)",
               option, path);
    return NULL;
  }
  return key;
}
