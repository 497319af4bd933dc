/* SPDX-License-Identifier: MIT */
/* cert.c - PEM / PKCS#12 client certificates with OpenSSL. */
#include "cert.h"

#include "b64url.h"
#include "mgcx.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <stdlib.h>
#include <string.h>

void mgc__cert_release(struct mgc_cert *c)
{
  if(!c)
    return;
  EVP_PKEY_free(c->key);
  X509_free(c->cert);
  sk_X509_pop_free(c->chain, X509_free);
  c->key = NULL;
  c->cert = NULL;
  c->chain = NULL;
}

static int pem_password(char *buf, int size, int rwflag, void *u)
{
  (void)rwflag;
  const char *pw = u;
  if(!pw || size <= 0)
    return -1;
  size_t n = strlen(pw);
  if(n > (size_t)size)
    return -1;
  memcpy(buf, pw, n);
  return (int)n;
}

static int parse_pem(const unsigned char *data, size_t len,
                     const char *password, struct mgc_cert *out,
                     struct mgc_err *err)
{
  if(len > (size_t)INT32_MAX)
    return mgc__err_set(err, MGCALL_E_AUTH, "file too large");
  BIO *bio = BIO_new_mem_buf(data, (int)len);
  if(!bio)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  out->key = PEM_read_bio_PrivateKey(bio, NULL, pem_password, (void *)password);
  ERR_clear_error();
  BIO_free(bio);
  if(!out->key)
    return mgc__err_set(err, MGCALL_E_AUTH,
                        password ? "no private key in the PEM file, or wrong "
                                   "password for it"
                                 : "no private key in the PEM file (or it is "
                                   "encrypted: give --certificate-password-"
                                   "file)");
  bio = BIO_new_mem_buf(data, (int)len);
  if(!bio)
    return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
  X509 *x;
  while((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    if(!out->cert && X509_check_private_key(x, out->key) == 1) {
      out->cert = x;
      continue;
    }
    if(!out->chain)
      out->chain = sk_X509_new_null();
    if(!out->chain || !sk_X509_push(out->chain, x)) {
      X509_free(x);
      BIO_free(bio);
      return mgc__err_set(err, MGCALL_E_INTERNAL, "out of memory");
    }
  }
  ERR_clear_error();
  BIO_free(bio);
  if(!out->cert)
    return mgc__err_set(err, MGCALL_E_AUTH,
                        out->chain ? "no certificate in the PEM file matches "
                                     "its private key"
                                   : "no certificate in the PEM file");
  return MGCALL_OK;
}

static int parse_p12(const unsigned char *data, size_t len,
                     const char *password, struct mgc_cert *out,
                     struct mgc_err *err)
{
  if(len > (size_t)INT32_MAX)
    return mgc__err_set(err, MGCALL_E_AUTH, "file too large");
  const unsigned char *p = data;
  PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
  if(!p12) {
    ERR_clear_error();
    return mgc__err_set(err, MGCALL_E_AUTH, "neither a PEM nor a PKCS#12 file");
  }
  const char *pw = password ? password : "";
  if(PKCS12_mac_present(p12) && !PKCS12_verify_mac(p12, pw, -1)) {
    PKCS12_free(p12);
    ERR_clear_error();
    return mgc__err_set(err, MGCALL_E_AUTH,
                        password ? "wrong PKCS#12 password"
                                 : "the PKCS#12 file needs a password: give "
                                   "--certificate-password-file");
  }
  STACK_OF(X509) *ca = NULL;
  int ok = PKCS12_parse(p12, pw, &out->key, &out->cert, &ca);
  PKCS12_free(p12);
  ERR_clear_error();
  if(!ok) {
    sk_X509_pop_free(ca, X509_free);
    return mgc__err_set(err, MGCALL_E_AUTH,
                        "cannot decrypt the PKCS#12 file (wrong password or "
                        "an unsupported algorithm)");
  }
  out->chain = ca;
  if(!out->key || !out->cert)
    return mgc__err_set(err, MGCALL_E_AUTH,
                        "the PKCS#12 file lacks a certificate or its key");
  return MGCALL_OK;
}

static void asn1_time_text(const ASN1_TIME *t, char *buf, size_t n)
{
  struct tm tm;
  if(n && ASN1_TIME_to_tm(t, &tm) == 1)
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
  else if(n)
    snprintf(buf, n, "?");
}

int mgc__cert_parse(const unsigned char *data, size_t len, const char *password,
                    struct mgc_cert *out, struct mgc_err *err)
{
  memset(out, 0, sizeof(*out));
  int is_pem = memmem(data, len, "-----BEGIN", 10) != NULL;
  int rc = is_pem ? parse_pem(data, len, password, out, err)
                  : parse_p12(data, len, password, out, err);
  if(rc)
    goto fail;
  int base = EVP_PKEY_get_base_id(out->key);
  if(base != EVP_PKEY_RSA && base != EVP_PKEY_RSA_PSS) {
    rc = mgc__err_set(err, MGCALL_E_AUTH,
                      "the private key is not RSA (PS256/RS256 need RSA)");
    goto fail;
  }
  if(X509_check_private_key(out->cert, out->key) != 1) {
    ERR_clear_error();
    rc = mgc__err_set(err, MGCALL_E_AUTH,
                      "the certificate does not belong to the private key");
    goto fail;
  }
  char when[40];
  if(X509_cmp_current_time(X509_get0_notAfter(out->cert)) <= 0) {
    asn1_time_text(X509_get0_notAfter(out->cert), when, sizeof(when));
    rc =
        mgc__err_set(err, MGCALL_E_AUTH, "the certificate expired on %s", when);
    goto fail;
  }
  if(X509_cmp_current_time(X509_get0_notBefore(out->cert)) > 0) {
    asn1_time_text(X509_get0_notBefore(out->cert), when, sizeof(when));
    rc = mgc__err_set(err, MGCALL_E_AUTH,
                      "the certificate is not valid before %s", when);
    goto fail;
  }
  return MGCALL_OK;
fail:
  mgc__cert_release(out);
  return rc;
}

int mgc__cert_load(const char *path, const char *password, struct mgc_cert *out,
                   struct mgc_err *err)
{
  memset(out, 0, sizeof(*out));
  unsigned char *data = NULL;
  size_t len = 0;
  char why[256];
  if(mgcx_file_read(path, MGC_CERT_MAX_FILE, &data, &len, why, sizeof(why)))
    return mgc__err_set(err, MGCALL_E_AUTH, "certificate %s: %s", path, why);
  struct mgc_err perr;
  mgc__err_clear(&perr);
  int rc = mgc__cert_parse(data, len, password, out, &perr);
  OPENSSL_cleanse(data, len);
  free(data);
  if(rc)
    return mgc__err_set(err, rc, "certificate %s: %s", path, perr.msg);
  return MGCALL_OK;
}

char *mgc__cert_x5t_s256(X509 *cert)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if(X509_digest(cert, EVP_sha256(), md, &n) != 1)
    return NULL;
  return mgc__b64url_encode(md, n);
}

char *mgc__cert_der_b64(X509 *cert)
{
  unsigned char *der = NULL;
  int n = i2d_X509(cert, &der);
  if(n <= 0)
    return NULL;
  size_t outcap = 4 * (((size_t)n + 2) / 3) + 1;
  char *out = malloc(outcap);
  if(out)
    EVP_EncodeBlock((unsigned char *)out, der, n);
  OPENSSL_free(der);
  return out;
}
