#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install into a private prefix, then build and run a program against the
# installed header, pkg-config file and shared library, as a user would.  The
# shared library must export only mgcall_* symbols (curl test 1167).
. "$(dirname "$0")/lib.sh"
: "${MGCALL_BUILD_DIR:?}"

prefix=$T/prefix
t_expect_exit 0 "cmake --install" -- cmake --install "$MGCALL_BUILD_DIR" --prefix "$prefix"
libdir=$(dirname "$(find "$prefix" -name mgcall.pc | head -n 1)")/..
t_eq "$(ls "$prefix/include/mgcall/mgcall.h" 2>/dev/null)" "$prefix/include/mgcall/mgcall.h" \
  "header installed"
t_eq "$(basename "$(ls "$libdir"/libmgcall.so.* 2>/dev/null | head -n 1)" | cut -d. -f1-2)" \
  "libmgcall.so" "shared library installed"
t_expect_exit 0 "the OpenAPI document installed" -- \
  cmp "$prefix/share/mgcall/openapi/keeper.yaml" "$MGCALL_SOURCE_DIR/docs/openapi/keeper.yaml"

cat >"$T/use.c" <<'C'
#include <mgcall/mgcall.h>
#include <stdio.h>
int main(void)
{
  printf("%s|%s|%d\n", mgcall_version(), mgcall_strerror(MGCALL_E_NOT_FOUND),
         MGCALL_E_THROTTLED);
  return 0;
}
C
export PKG_CONFIG_PATH="$libdir/pkgconfig"
t_expect_exit 0 "compile with pkg-config" -- \
  sh -c "cc -std=c11 -Wall -Werror ${MGCALL_TEST_CFLAGS:-} \$(pkg-config --cflags mgcall) '$T/use.c' -o '$T/use' \$(pkg-config --libs mgcall)"
t_expect_exit 0 "run against the shared library" -- env LD_LIBRARY_PATH="$libdir" "$T/use"
version=$("$MGCALL" --version | cut -d' ' -f2)
t_eq "$(cat "$T/out")" "$version|call not found: it has ended|6" \
  "program sees the installed library"

nm -D --defined-only "$libdir"/libmgcall.so | awk '$2 ~ /^[TDBR]$/ {print $3}' >"$T/vsyms"
sed 's/@.*//' "$T/vsyms" >"$T/syms"
t_grep "$T/syms" '^mgcall_version$' "mgcall_version exported"
t_nogrep "$T/syms" '^[^m]|^m[^g]|^mgc__' "only mgcall_* symbols exported"
# lib/libmgcall.map: every one in a version node, and exactly the ones
# debian/libmgcall0.symbols lists with theirs (a function added later that
# the map left in MGCALL_0.1's mgcall_* pattern, or one the symbols file
# lacks, differs here)
t_eq "$(grep -cvE '@@MGCALL_0\.[0-9]+$' "$T/vsyms")" "0" \
  "every exported symbol in a version node (lib/libmgcall.map)"
sed 's/@@/@/' "$T/vsyms" | sort >"$T/vsyms.sorted"
awk '/^ mgcall_/ {print $1}' "$MGCALL_SOURCE_DIR/debian/libmgcall0.symbols" |
  sort >"$T/debsyms"
t_eq "$(diff "$T/debsyms" "$T/vsyms.sorted" | grep '^[<>]' | tr '\n' ' ')" "" \
  "exported name@version pairs = debian/libmgcall0.symbols"
t_done
