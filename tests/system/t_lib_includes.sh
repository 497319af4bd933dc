#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The library's files depend one way (issue 9, docs/library.md "Layers"):
# scripts/check-lib-includes finds no include cycle between the modules of
# lib/, and fails, naming the cycle and the include lines that make it, on
# a copy of lib/ with one injected (a module of lib/auth/ too).
. "$(dirname "$0")/lib.sh"
: "${MGCALL_SOURCE_DIR:?}"
check=$MGCALL_SOURCE_DIR/scripts/check-lib-includes

t_expect_exit 0 "lib/ has no include cycle" -- "$check" "$MGCALL_SOURCE_DIR/lib"

cp -R "$MGCALL_SOURCE_DIR/lib" "$T/lib"
t_expect_exit 0 "a copy of lib/ passes too" -- "$check" "$T/lib"

# client.h includes attempt.h: attempt -> client -> attempt
cp "$T/lib/attempt.h" "$T/attempt.h"
printf '#include "client.h"\n' >>"$T/lib/attempt.h"
t_expect_exit 1 'attempt.h including "client.h" is a cycle' -- "$check" "$T/lib"
t_grep "$T/err" 'include cycle in .*: attempt -> client -> attempt' \
  "the cycle is named"
t_grep "$T/err" 'lib/attempt\.h:[0-9]*: includes "client\.h"' \
  "the injected line is named"
t_grep "$T/err" 'lib/client\.h:[0-9]*: includes "attempt\.h"' \
  "and the one that closes the cycle"
cp "$T/attempt.h" "$T/lib/attempt.h"

# the same, longer, through lib/auth/ and an angled include:
# retry -> auth/tokens -> ... -> retry
printf '#include <auth/tokens.h>\n' >>"$T/lib/retry.h"
t_expect_exit 1 "retry.h including <auth/tokens.h> is a cycle" -- \
  "$check" "$T/lib"
t_grep "$T/err" 'include cycle in .*: .*auth/tokens -> retry' \
  "a cycle through lib/auth/ is named"
t_grep "$T/err" 'lib/retry\.h:[0-9]*: includes <auth/tokens\.h>' \
  "the angled include is named"
t_done
