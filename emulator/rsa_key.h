/* SPDX-License-Identifier: MIT */
/* rsa_key.h - an RSA private key from a PEM file given on the command line
 * (--notification-key, --token-key). */
#ifndef EMU_RSA_KEY_H
#define EMU_RSA_KEY_H

#include <openssl/evp.h>
#include <stddef.h>

/* The RSA private key (PEM, at least 2048 bits) in PATH; NULL with err set
 * ("OPTION 'PATH': ...") when it cannot be read or is not such a key. */
EVP_PKEY *emu_rsa_key_load(const char *option, const char *path, char *err,
                           size_t errlen);

#endif
