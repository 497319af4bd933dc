#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The tool's front door: --version, help, unknown commands and options.
. "$(dirname "$0")/lib.sh"

t_expect_exit 0 "--version" -- "$MGCALL" --version
t_grep "$T/out" '^mgcall [0-9]+\.[0-9]+\.[0-9]+$' "--version prints 'mgcall X.Y.Z'"

t_expect_exit 0 "--help" -- "$MGCALL" --help
t_grep "$T/out" '^usage: mgcall ' "--help prints usage on stdout"
for c in keep-alive token keeper emulator; do
  t_grep "$T/out" "^  $c " "--help lists $c"
done

t_expect_exit 0 "help" -- "$MGCALL" help
t_grep "$T/out" '^usage: mgcall ' "help prints usage"

t_expect_exit 2 "no arguments" -- "$MGCALL"
t_grep "$T/err" '^usage: mgcall ' "no arguments: usage on stderr"

t_expect_exit 2 "unknown subcommand" -- "$MGCALL" frobnicate
t_grep "$T/err" "^mgcall: 'frobnicate' is not an mgcall command$" \
  "unknown subcommand: git-style message"

t_expect_exit 2 "unknown option" -- "$MGCALL" --frobnicate
t_grep "$T/err" "^mgcall: unknown option '--frobnicate'$" "unknown option message"

t_expect_exit 2 "help on unknown command" -- "$MGCALL" help frobnicate

for c in keep-alive token keeper emulator; do
  t_expect_exit 0 "$c --help" -- "$MGCALL" "$c" --help
  t_grep "$T/out" "^usage: mgcall $c" "$c --help prints its usage"
  t_expect_exit 0 "help $c" -- "$MGCALL" help "$c"
  t_grep "$T/out" "^usage: mgcall $c" "help $c = $c --help"
done

t_done
