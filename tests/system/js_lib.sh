# SPDX-License-Identifier: MIT
# js_lib.sh - Node.js for system tests (source after lib.sh).
#
# t_js_install
#   Installs the packages pinned in tests/system/js/package-lock.json with
#   `npm ci` into $MGCALL_BUILD_DIR/js-compat once per lock file (under a
#   lock, so tests running at the same time do not install over each other)
#   and copies the test scripts there.  Sets JS_DIR.  Counts a failed check
#   and returns 1 (a test fails, it does not skip) when node or npm is
#   missing or the install fails; counts nothing otherwise.
JS_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/js" && pwd)"
JS_DIR="${MGCALL_BUILD_DIR:-$T}/js-compat"
t_js_install() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    t_fail "node and npm are required (scripts/bootstrap installs them)"
    return 1
  fi
  echo "node $(node --version), npm $(npm --version)"
  mkdir -p "$JS_DIR"
  local stamp rc=0
  stamp=$(sha256sum "$JS_SRC/package-lock.json" | cut -d' ' -f1)
  exec 9>"$JS_DIR.lock"
  flock -w 300 9 || { t_fail "npm install lock: timed out"; return 1; }
  if [ "$(cat "$JS_DIR/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -d "$JS_DIR/node_modules" ]; then
    cp "$JS_SRC/package.json" "$JS_SRC/package-lock.json" "$JS_DIR/"
    if (cd "$JS_DIR" && timeout 240 npm ci --no-audit --no-fund --ignore-scripts) >"$T/npm.log" 2>&1; then
      echo "$stamp" >"$JS_DIR/.stamp"
    else
      t_fail "npm ci failed (network or registry unreachable?)"
      sed 's/^/  npm: /' "$T/npm.log" >&2
      rc=1
    fi
  fi
  cp "$JS_SRC"/*.js "$JS_SRC"/*.mjs "$JS_DIR/" 2>/dev/null
  exec 9>&-
  return $rc
}

# t_js_start NAME OUTFILE [ENV=VALUE...]: runs node $JS_DIR/NAME in the
# background with the given environment, waits at most 10 s for its
# "listening on URL" line; sets JS_URL and JS_PID (in T_PIDS).
t_js_start() {
  local name=$1 out=$2
  shift 2
  : >"$out"
  env NO_PROXY='*' no_proxy='*' "$@" node "$JS_DIR/$name" >"$out" 2>"$out.err" </dev/null &
  JS_PID=$!
  T_PIDS+=("$JS_PID")
  local i
  for i in $(seq 100); do
    JS_URL=$(sed -n 's/^listening on //p' "$out")
    [ -n "$JS_URL" ] && return 0
    kill -0 "$JS_PID" 2>/dev/null || break
    sleep 0.1
  done
  t_fail "node $name did not start"
  sed 's/^/  node: /' "$out.err" >&2
  return 1
}
