/* SPDX-License-Identifier: MIT */
/* fuzz_emu_token.c - the emulator's token endpoint (form body, client
 * secrets, client assertions) and its access-token verification on arbitrary
 * bytes.  The input is a form body; it is also tried as an Authorization
 * header value. */
#include "identity.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct emu_identity *identity(void)
{
  static struct emu_identity *id;
  if(!id) {
    struct emu_identity_config cfg = {3600, NULL, NULL, NULL};
    char err[256];
    id = emu_identity_new(&cfg, err, sizeof(err));
    if(id)
      emu_identity_add_secret(id, "app1:s3cret", err, sizeof(err));
  }
  return id;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct emu_identity *id = identity();
  if(!id)
    return 0;
  struct emu_form f;
  if(emu_form_parse((const char *)data, size, &f) == EMU_FORM_OK) {
    struct emu_token_request r = {
        "t1",       &f,   NULL,      NULL, "http://h/t1/oauth2/v2.0/token",
        "http://h", NULL, 1800000000};
    struct emu_token_response out;
    emu_identity_token(id, &r, &out);
    if(!out.body && out.status != 500)
      abort();
    json_decref(out.body);
  }
  emu_form_release(&f);
  char *s = malloc(size + 8);
  if(!s)
    return 0;
  memcpy(s, "Bearer ", 7);
  memcpy(s + 7, data, size);
  s[size + 7] = '\0';
  struct emu_principal who;
  emu_identity_verify(id, s, "http://h", 1800000000, &who);
  free(s);
  return 0;
}
