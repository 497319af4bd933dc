#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The mgcall tool (src/) includes no header of the library's internals
# (issue 9, docs/library.md "Layers"), not even through another header:
# scripts/check-src-includes passes on the tree, and fails, naming the file
# and line, on a copy of src/ that includes one (quoted, angled, through a
# lib/ subdirectory, or through a keeper header that includes one, the chain
# named), and on a tree whose keeper front header gains such an include.
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

# through a header: keeper/core.h includes the store's header, which
# includes lib/mgc_internal.h
printf '#include "cli.h"\n#include "keeper/core.h"\n' >"$T/src/bad.h"
t_expect_exit 1 "a header including keeper/core.h (internals beneath) fails" \
  -- "$check" "$T/src" "$MGCALL_SOURCE_DIR"
t_grep "$T/err" 'bad\.h:2: includes "keeper/core\.h", which reaches a library internal: keeper/core\.h -> (keeper/[a-z_]+\.h -> )*lib/mgc_internal\.h' \
  "the include and the chain to the internal are named"
t_nogrep "$T/err" 'bad\.h:1:' "the include of cli.h is not"

# headers including each other: the walk ends, nothing is reached
printf '#include "b.h"\n' >"$T/src/bad.h"
printf '#include "bad.h"\n#include "mgcx.h"\n' >"$T/src/b.h"
t_expect_exit 0 "an include cycle among clean headers passes" -- \
  "$check" "$T/src" "$MGCALL_SOURCE_DIR"
rm "$T/src/bad.h" "$T/src/b.h"

# the keeper's front header gains an include of a library internal: the
# tool's unchanged include of it fails (a tree with only the headers)
mkdir -p "$T/root/keeper" "$T/root/emulator"
cp -R "$MGCALL_SOURCE_DIR/lib" "$MGCALL_SOURCE_DIR/include" "$T/root/"
cp "$MGCALL_SOURCE_DIR"/keeper/*.h "$T/root/keeper/"
cp "$MGCALL_SOURCE_DIR"/emulator/*.h "$T/root/emulator/"
t_expect_exit 0 "src/ passes against a copy of the headers" -- \
  "$check" "$T/src" "$T/root"
printf '#include <jwt.h>\n' >>"$T/root/keeper/config.h"
t_expect_exit 1 "keeper/config.h including <jwt.h> fails src/" -- \
  "$check" "$T/src" "$T/root"
t_grep "$T/err" 'cmd_keeper_run\.c:[0-9]+: includes "keeper/keeper\.h", which reaches a library internal: keeper/keeper\.h -> keeper/config\.h -> lib/jwt\.h' \
  "the front header and the chain through it are named"
t_done
