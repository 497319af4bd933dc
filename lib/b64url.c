/* SPDX-License-Identifier: MIT */
/* b64url.c - base64url with OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock doing the
 * real work; this file only maps the alphabet and the padding. */
#include "b64url.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

char *mgc__b64url_encode(const unsigned char *in, size_t len)
{
  if(len > (size_t)INT_MAX / 4 * 3 - 3)
    return NULL;
  size_t cap = 4 * ((len + 2) / 3) + 1;
  char *out = malloc(cap);
  if(!out)
    return NULL;
  int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
  if(n < 0) {
    free(out);
    return NULL;
  }
  size_t end = (size_t)n;
  while(end > 0 && out[end - 1] == '=')
    end--;
  out[end] = '\0';
  for(size_t i = 0; i < end; i++) {
    if(out[i] == '+')
      out[i] = '-';
    else if(out[i] == '/')
      out[i] = '_';
  }
  return out;
}

int mgc__b64url_decode(const char *in, size_t inlen, unsigned char **out,
                       size_t *outlen)
{
  *out = NULL;
  *outlen = 0;
  while(inlen > 0 && in[inlen - 1] == '=')
    inlen--;
  if(inlen % 4 == 1 || inlen > (size_t)INT_MAX / 2)
    return -1;
  size_t padded = (inlen + 3) / 4 * 4;
  unsigned char *std = malloc(padded + 1);
  if(!std)
    return -1;
  for(size_t i = 0; i < inlen; i++) {
    char c = in[i];
    if(c == '-')
      c = '+';
    else if(c == '_')
      c = '/';
    else if(!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9'))) {
      free(std);
      return -1;
    }
    std[i] = (unsigned char)c;
  }
  for(size_t i = inlen; i < padded; i++)
    std[i] = '=';
  std[padded] = '\0';
  unsigned char *buf = malloc(padded / 4 * 3 + 1);
  if(!buf) {
    free(std);
    return -1;
  }
  int n = padded ? EVP_DecodeBlock(buf, std, (int)padded) : 0;
  free(std);
  if(n < 0) {
    free(buf);
    return -1;
  }
  /* EVP_DecodeBlock counts the padding as zero bytes: take them off. */
  size_t len = (size_t)n - (padded - inlen);
  buf[len] = '\0';
  *out = buf;
  *outlen = len;
  return 0;
}
