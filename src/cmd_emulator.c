/* SPDX-License-Identifier: MIT */
/* cmd_emulator.c - 'mgcall emulator'.  Not built yet: see the open issue for
 * it. */
#include "cli.h"

#include <string.h>

int cmd_emulator(int argc, char **argv)
{
  if(argc > 1 && !strcmp(argv[1], "--help")) {
    printf("usage: mgcall emulator [OPTIONS]\n\n(not implemented yet)\n");
    return MGCALL_OK;
  }
  mgc_cli_error("emulator: not implemented yet");
  return MGCALL_E_INTERNAL;
}
