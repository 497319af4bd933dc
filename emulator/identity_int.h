/* SPDX-License-Identifier: MIT */
/* identity_int.h - what the three parts of the emulator's identity service
 * share: the service's struct, registered clients and managed identities
 * (identity.c: set-up, registrations, keys), the token endpoint and IMDS
 * (identity_token.c) and the verification of access tokens
 * (identity_verify.c).  Internal to them. */
#ifndef EMU_IDENTITY_INT_H
#define EMU_IDENTITY_INT_H

#include "identity.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stddef.h>

#define MAX_CLIENTS 256
#define MAX_ID_LEN 127
#define VERIFY_CACHE 1024

struct client {
  char *id;
  char *secret; /* NULL: no secret registered */
  struct cert {
    EVP_PKEY *key;
    unsigned char sha1[SHA_DIGEST_LENGTH];
    unsigned char sha256[SHA256_DIGEST_LENGTH];
  } certs[4];
  size_t ncerts;
};

struct managed {
  char *id;
  char *tenant;
};

/* A verified token, remembered so repeated requests skip the RSA check. */
struct cached {
  uint64_t hash;
  char *token;
  struct emu_principal who;
  char aud[256];
};

struct emu_identity {
  EVP_PKEY *key;
  char kid[64];
  int64_t lifetime;
  json_t *roles;
  struct client clients[MAX_CLIENTS];
  size_t nclients;
  struct managed managed[MAX_CLIENTS];
  size_t nmanaged;
  pthread_mutex_t cache_lock;
  struct cached cache[VERIFY_CACHE];
};

/* 1 when the n bytes of s are a client or tenant id the emulator takes:
 * 1..MAX_ID_LEN letters, digits, '-', '.', '_', '~'. */
int emu_identity_valid_id(const char *s, size_t n);

/* The registered client cid, or NULL. */
struct client *emu_identity_find_client(struct emu_identity *id,
                                        const char *cid);

#endif
