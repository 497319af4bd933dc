/* SPDX-License-Identifier: MIT */
/* cli.h - what the mgcall tool's subcommands share. */
#ifndef MGCALL_CLI_H
#define MGCALL_CLI_H

#include "mgcall/mgcall.h"
#include "mgcx.h"

#include <stdio.h>

/* A subcommand: argv[0] is the subcommand's own name; returns the exit
 * status (an mgcall_code, see mgcall(1) EXIT STATUS). */
typedef int (*mgc_cmd_fn)(int argc, char **argv);

int cmd_keep_alive(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_keeper(int argc, char **argv);
int cmd_emulator(int argc, char **argv);

/* Print "mgcall: <message>\n" to stderr (git style: lower case, no trailing
 * period).  Returns nothing; callers return their exit code themselves. */
void mgc_cli_error(const char *fmt, ...) MGCX_PRINTF(1, 2);

/* Print "mgcall: <message>\n" plus "try 'mgcall <cmd> --help'" and return
 * MGCALL_E_USAGE. */
int mgc_cli_usage_error(const char *cmd, const char *fmt, ...)
    MGCX_PRINTF(2, 3);

#endif
