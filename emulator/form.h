/* SPDX-License-Identifier: MIT */
/* form.h - application/x-www-form-urlencoded bodies and query strings, and
 * HTTP Basic credentials (RFC 6749 2.3.1).  Parsers only: bytes in, values
 * out, no I/O. */
#ifndef EMU_FORM_H
#define EMU_FORM_H

#include <stddef.h>

#define EMU_FORM_MAX_FIELDS 64
#define EMU_FORM_MAX_BYTES (256 * 1024)

struct emu_form_field {
  char *name;
  char *value;
};

struct emu_form {
  size_t n;
  struct emu_form_field f[EMU_FORM_MAX_FIELDS];
};

enum emu_form_error {
  EMU_FORM_OK = 0,
  EMU_FORM_BAD_ENCODING = 1, /* bad %XX or a NUL byte */
  EMU_FORM_TOO_MANY = 2,     /* more than EMU_FORM_MAX_FIELDS */
  EMU_FORM_DUPLICATE = 3,    /* a name given twice */
  EMU_FORM_TOO_LONG = 4,
  EMU_FORM_NOMEM = 5
};

/* Parse len bytes of body ("a=1&b=2"; '+' is a space; empty pairs skipped).
 * On any result form is left consistent: release it with
 * emu_form_release().  Returns an emu_form_error. */
enum emu_form_error emu_form_parse(const char *body, size_t len,
                                   struct emu_form *form);

/* The decoded value of name, or NULL. */
const char *emu_form_get(const struct emu_form *form, const char *name);

/* Free the fields; form may be reused.  NULL is a no-op. */
void emu_form_release(struct emu_form *form);

/* Parse an Authorization header value "Basic <base64>" into a client id and
 * secret (each form-url-decoded, RFC 6749 2.3.1).  Returns 0 and sets *user
 * and *pass (caller frees both), or -1 when the value is not Basic, not
 * base64, has no ':' or decodes badly. */
int emu_basic_parse(const char *header, char **user, char **pass);

#endif
