/* SPDX-License-Identifier: MIT */
/* main.c - the mgcall tool: a git-style table of subcommands. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct cmd {
  const char *name;
  mgc_cmd_fn fn;
  const char *summary;
};

static const struct cmd commands[] = {
    {"keep-alive", cmd_keep_alive,
     "send POST /communications/calls/{id}/keepAlive for one or many calls"},
    {"token", cmd_token, "acquire an app-only token and print its facts"},
    {"keeper", cmd_keeper,
     "daemon that keeps many calls alive on schedule (run, add, list ...)"},
    {"emulator", cmd_emulator,
     "local Microsoft Graph calls + identity service for tests and demos"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void mgc_cli_error(const char *fmt, ...)
{
  va_list ap;
  fputs("mgcall: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int mgc_cli_usage_error(const char *cmd, const char *fmt, ...)
{
  va_list ap;
  fputs("mgcall: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  if(cmd)
    fprintf(stderr, "try 'mgcall %s --help' for more information\n", cmd);
  else
    fputs("try 'mgcall help' for more information\n", stderr);
  return MGCALL_E_USAGE;
}

static void usage(FILE *out)
{
  fputs("usage: mgcall [--version] [--help] <command> [<args>]\n\n"
        "Keep Microsoft Graph communications calls alive.\n\n"
        "commands:\n",
        out);
  for(size_t i = 0; i < NCOMMANDS; i++)
    fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fputs("  help         show this help, or a command's help: mgcall help "
        "<command>\n\n"
        "'mgcall <command> --help' describes a command; mgcall(1) lists the\n"
        "exit codes.\n",
        out);
}

static const struct cmd *find(const char *name)
{
  for(size_t i = 0; i < NCOMMANDS; i++)
    if(!strcmp(commands[i].name, name))
      return &commands[i];
  return NULL;
}

int main(int argc, char **argv)
{
  if(mgcall_global_init()) {
    mgc_cli_error("cannot initialise libcurl and OpenSSL");
    return MGCALL_E_INTERNAL;
  }
  atexit(mgcall_global_cleanup);
  if(argc < 2) {
    usage(stderr);
    return MGCALL_E_USAGE;
  }
  const char *name = argv[1];
  if(!strcmp(name, "--version") || !strcmp(name, "version")) {
    printf("mgcall %s\n", mgcall_version());
    return MGCALL_OK;
  }
  if(!strcmp(name, "--help") || !strcmp(name, "-h")) {
    usage(stdout);
    return MGCALL_OK;
  }
  if(!strcmp(name, "help")) {
    if(argc < 3) {
      usage(stdout);
      return MGCALL_OK;
    }
    const struct cmd *c = find(argv[2]);
    if(!c)
      return mgc_cli_usage_error(NULL, "'%s' is not an mgcall command",
                                 argv[2]);
    char *help_argv[] = {(char *)c->name, (char *)"--help", NULL};
    return c->fn(2, help_argv);
  }
  if(name[0] == '-')
    return mgc_cli_usage_error(NULL, "unknown option '%s'", name);
  const struct cmd *c = find(name);
  if(!c)
    return mgc_cli_usage_error(NULL, "'%s' is not an mgcall command", name);
  return c->fn(argc - 1, argv + 1);
}
