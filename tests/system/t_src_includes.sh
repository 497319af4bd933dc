#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The mgcall tool (src/) includes no header of the library's internals
# (issue 9, docs/library.md "Layers"): scripts/check-src-includes passes on
# the tree, and fails, naming the file and line, on a copy of src/ that
# includes one (quoted, angled, or through a lib/ subdirectory).
. "$(dirname "$0")/lib.sh"
: "${MGCALL_SOURCE_DIR:?}"
check=$MGCALL_SOURCE_DIR/scripts/check-src-includes

t_expect_exit 0 "src/ includes only mgcall.h, mgcx.h, its own headers" -- \
  "$check" "$MGCALL_SOURCE_DIR/src" "$MGCALL_SOURCE_DIR"

mkdir "$T/src"
cp "$MGCALL_SOURCE_DIR"/src/*.c "$MGCALL_SOURCE_DIR"/src/*.h "$T/src/"
t_expect_exit 0 "a copy of src/ passes too" -- \
  "$check" "$T/src" "$MGCALL_SOURCE_DIR"

printf '#include "cli.h"\n#include <stdio.h>\n#include "retry.h"\n' >"$T/src/bad.c"
t_expect_exit 1 'a file that includes "retry.h" fails' -- \
  "$check" "$T/src" "$MGCALL_SOURCE_DIR"
t_grep "$T/err" 'bad\.c:3: includes "retry\.h"' "the file and line are named"

printf '#include <jwt.h>\n' >"$T/src/bad.c"
t_expect_exit 1 "<jwt.h> (a lib/ header by the include path) fails" -- \
  "$check" "$T/src" "$MGCALL_SOURCE_DIR"
t_grep "$T/err" 'bad\.c:1: includes <jwt\.h>' "the angled include is named"

printf '#include "auth/credential.h"\n' >"$T/src/bad.h"
rm "$T/src/bad.c"
t_expect_exit 1 "a header including lib/auth/credential.h fails" -- \
  "$check" "$T/src" "$MGCALL_SOURCE_DIR"
t_grep "$T/err" 'bad\.h:1: includes "auth/credential\.h"' "the header is named"
t_done
