#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages (docs/packaging.md): scripts/deb (make deb) builds
# mgcall, libmgcall0 and libmgcall-dev from these sources; lintian reports no
# error and no warning; the files are where an operator looks.  As root (CI
# runs as root): dpkg -i installs them, `mgcall --version`, `man -w
# mgcall-keeper` and `systemd-analyze verify` of the installed unit work, a
# program builds against libmgcall-dev with pkg-config (shared and static),
# and dpkg --purge removes every file.  Not as root, the install part is
# reported as skipped (exit 77, ctest shows "Skipped"), never passed.
# It builds the packages itself (45 to 70 s on the 2-core machine, at a
# lower CPU priority than the test ctest runs alongside) and changes the
# machine's package database: ctest runs no other test of that lock at once.
# It is no timing test (nothing it checks depends on how fast it runs).
# mgcall-test: lock dpkg
. "$(dirname "$0")/lib.sh"
: "${MGCALL_SOURCE_DIR:?}"
PKGS=(mgcall libmgcall0 libmgcall-dev)
version=$(cd "$MGCALL_SOURCE_DIR" && dpkg-parsechangelog -S Version)
start=$(date +%s)

# --- build: make deb's script, into a private directory ---
t_expect_exit 0 "scripts/deb builds the packages" -- nice -n 10 "$MGCALL_SOURCE_DIR/scripts/deb" "$T/deb"
for p in "${PKGS[@]}"; do
  deb=$T/deb/${p}_${version}_$(dpkg --print-architecture).deb
  t_ok '[ -f "$deb" ]' "$p .deb built"
done
t_ok '[ ! -e "$MGCALL_SOURCE_DIR/debian/tmp" ] && [ ! -e "$MGCALL_SOURCE_DIR/debian/mgcall" ]' \
  "the build left nothing in the sources' debian/"
echo "deb: built in $(($(date +%s) - start)) s"

arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
deb_of() { echo "$T/deb/${1}_${version}_$arch.deb"; }
# The paths in a .deb, absolute, without the targets of links.
deb_paths() { sed -E 's/^([^ ]+ +){5}//; s/ -> .*//; s|^\./|/|'; }

# --- lintian: no error, no warning (docs/packaging.md lists what is kept) ---
t_expect_exit 0 "lintian --fail-on error,warning" -- \
  lintian --fail-on error,warning "$T/deb/mgcall_${version}_$arch.changes"
t_nogrep "$T/out" '^[EW]: ' "lintian printed no error or warning"

# --- contents ---
dpkg-deb -c "$(deb_of mgcall)" | deb_paths >"$T/mgcall.files"
for f in /usr/bin/mgcall /lib/systemd/system/mgcall-keeper.service /etc/mgcall/keeper.env \
  /usr/share/man/man1/mgcall.1.gz /usr/share/man/man1/mgcall-keep-alive.1.gz \
  /usr/share/man/man1/mgcall-emulator.1.gz /usr/share/man/man8/mgcall-keeper.8.gz \
  /usr/share/bash-completion/completions/mgcall /usr/share/zsh/vendor-completions/_mgcall \
  /usr/share/fish/vendor_completions.d/mgcall.fish /usr/share/mgcall/openapi/keeper.yaml; do
  t_ok 'grep -qx -- "$f" "$T/mgcall.files"' "mgcall ships $f"
done
dpkg-deb -c "$(deb_of libmgcall0)" | deb_paths >"$T/lib.files"
t_ok 'grep -qx "/usr/lib/$multiarch/libmgcall.so.0" "$T/lib.files"' "libmgcall0 ships the SONAME link"
t_eq "$(dpkg-deb -I "$(deb_of libmgcall0)" shlibs 2>/dev/null | head -n 1 | cut -d' ' -f1-2)" \
  "libmgcall 0" "libmgcall0 shlibs: libmgcall 0"
t_ok 'dpkg-deb -I "$(deb_of libmgcall0)" symbols | grep -q "^ mgcall_keep_alive_sized@MGCALL_0.1 "' \
  "libmgcall0 has a symbols file (versioned symbols)"
dpkg-deb -c "$(deb_of libmgcall-dev)" | deb_paths >"$T/dev.files"
for f in /usr/include/mgcall/mgcall.h "/usr/lib/$multiarch/libmgcall.a" \
  "/usr/lib/$multiarch/libmgcall.so" "/usr/lib/$multiarch/pkgconfig/mgcall.pc" \
  /usr/share/man/man3/libmgcall.3.gz; do
  t_ok 'grep -qx -- "$f" "$T/dev.files"' "libmgcall-dev ships $f"
done

# --- install, use, purge: root only ---
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED: dpkg -i / --purge need root (CI runs as root); the build," \
    "lintian and contents checks above ran ($T_COUNT checks, $T_FAILS failed)" >&2
  [ "$T_FAILS" -eq 0 ] || exit 1
  exit 77
fi
# One install test at a time on this machine, and never over an mgcall
# someone installed: the test purges what it installs.
exec 8>"${TMPDIR:-/tmp}/mgcall-t_deb.lock"
t_expect_exit 0 "lock (another package test runs?)" -- flock -w 600 8
for p in "${PKGS[@]}"; do
  s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  if [ "${s:0:2}" = ii ]; then
    t_fail "$p is already installed on this machine: not replacing it (remove it first)"
    t_done
  fi
done
# dpkg refuses to run while another dpkg or apt holds its lock (a bootstrap
# of someone else on this machine): wait for it, at most 5 minutes.
dpkg_wait() { # dpkg arguments...
  local i rc=1
  for i in $(seq 150); do
    dpkg "$@" 2>"$T/dpkg.err" && rc=0 || rc=$?
    cat "$T/dpkg.err" >&2
    [ "$rc" -ne 0 ] && grep -q 'lock' "$T/dpkg.err" || return "$rc"
    echo "dpkg is locked by another process; waiting ($i)" >&2
    sleep 2
  done
  return "$rc"
}
installed=0
purge() {
  [ "$installed" = 1 ] || return 0
  dpkg_wait --purge "${PKGS[@]}" >"$T/purge.out" 2>&1
}
trap 'rc=$?; purge; (exit $rc); t_cleanup' EXIT

installed=1
t_expect_exit 0 "dpkg -i the three packages" -- dpkg_wait -i "$(deb_of libmgcall0)" \
  "$(deb_of libmgcall-dev)" "$(deb_of mgcall)"
for p in "${PKGS[@]}"; do
  t_eq "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p")" "ii " "$p installed"
done

t_expect_exit 0 "mgcall --version" -- /usr/bin/mgcall --version
t_eq "$(cat "$T/out")" "mgcall ${version%%-*}" "installed mgcall says its version"
t_expect_exit 0 "man -w mgcall-keeper" -- man -w mgcall-keeper
t_eq "$(cat "$T/out")" /usr/share/man/man8/mgcall-keeper.8.gz "mgcall-keeper(8) found by man"
for page in mgcall mgcall-keep-alive mgcall-emulator 3\ libmgcall; do
  # shellcheck disable=SC2086
  t_expect_exit 0 "man -w $page" -- man -w $page
done
t_expect_exit 0 "systemd-analyze verify mgcall-keeper.service" -- \
  systemd-analyze verify /lib/systemd/system/mgcall-keeper.service
t_nogrep "$T/err" '.' "systemd-analyze printed nothing"
t_ok '[ ! -e /etc/systemd/system/multi-user.target.wants/mgcall-keeper.service ]' \
  "the unit is not enabled at installation"
t_expect_exit 0 "bash completion loads" -- bash -c \
  '. /usr/share/bash-completion/completions/mgcall && complete -p mgcall'
t_expect_exit 0 "the installed OpenAPI document is the source's" -- \
  cmp /usr/share/mgcall/openapi/keeper.yaml "$MGCALL_SOURCE_DIR/docs/openapi/keeper.yaml"

cat >"$T/use.c" <<'C'
#include <mgcall/mgcall.h>
#include <stdio.h>
int main(void)
{
  mgcall_config cfg;
  mgcall_config_init(&cfg);
  printf("%s|%s|%d\n", mgcall_version(), mgcall_code_name(MGCALL_E_NOT_FOUND),
         cfg.retries);
  return 0;
}
C
t_expect_exit 0 "pkg-config --libs mgcall" -- pkg-config --libs mgcall
t_eq "$(sed "s/ *$//" "$T/out")" "-lmgcall" "pkg-config --libs: -lmgcall (library in a system directory)"
t_expect_exit 0 "pkg-config --cflags mgcall" -- pkg-config --cflags mgcall
t_nogrep "$T/out" '\.\./|-I/usr/include( |$)' "pkg-config --cflags: no relative or system include path"
t_eq "$(pkg-config --variable=prefix mgcall)" /usr "mgcall.pc: prefix=/usr"
t_expect_exit 0 "compile against libmgcall-dev (shared)" -- sh -c \
  "cc -std=c11 -Wall -Werror \$(pkg-config --cflags mgcall) '$T/use.c' -o '$T/use' \$(pkg-config --libs mgcall)"
t_expect_exit 0 "run it" -- "$T/use"
t_eq "$(cat "$T/out")" "${version%%-*}|E_NOT_FOUND|3" "program uses the installed library"
t_ok 'ldd "$T/use" | grep -qE "libmgcall.so.0 => (/usr)?/lib/$multiarch/libmgcall.so.0"' \
  "linked with the packaged libmgcall.so.0"
# libmgcall.a with what mgcall.pc's Requires.private names (their -dev
# packages are dependencies of libmgcall-dev), linked dynamically.
private=$(pkg-config --print-requires-private mgcall | tr '\n' ' ')
t_ok '[ -n "$private" ]' "mgcall.pc: Requires.private $private"
t_expect_exit 0 "compile against libmgcall-dev (static libmgcall.a)" -- sh -c \
  "cc -std=c11 -Wall -Werror \$(pkg-config --cflags mgcall) '$T/use.c' -o '$T/use_static' /usr/lib/$multiarch/libmgcall.a \$(pkg-config --libs $private) -lpthread"
t_expect_exit 0 "run the static one" -- "$T/use_static"
t_ok '! ldd "$T/use_static" | grep -q libmgcall' "static program needs no libmgcall.so"

# --- purge: everything gone ---
installed=0
t_expect_exit 0 "dpkg --purge" -- dpkg_wait --purge "${PKGS[@]}"
for p in "${PKGS[@]}"; do
  t_ok '! dpkg-query -W -f="\${db:Status-Abbrev}" "$p" 2>/dev/null | grep -q "^ii"' "$p purged"
done
for f in /usr/bin/mgcall /lib/systemd/system/mgcall-keeper.service /etc/mgcall \
  /usr/include/mgcall "/usr/lib/$multiarch/libmgcall.so.0" \
  /usr/share/man/man8/mgcall-keeper.8.gz /usr/share/mgcall; do
  t_ok '[ ! -e "$f" ]' "purge removed $f"
done
echo "deb: whole test $(($(date +%s) - start)) s"
t_done
