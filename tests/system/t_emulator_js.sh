#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compatibility: Microsoft's JavaScript clients (@azure/msal-node and
# @microsoft/microsoft-graph-client, pinned in tests/system/js/
# package-lock.json) work against mgcall emulator unchanged, over HTTPS with
# a throwaway CA (NODE_EXTRA_CA_CERTS).  The packages are installed with
# `npm ci` into the build tree once (reinstalled when the lock file changes).
# This test fails (it does not skip) when node or npm is missing or the
# install fails.
. "$(dirname "$0")/lib.sh"

JS_SRC="$(cd "$(dirname "$0")/js" && pwd)"
JS_DIR="${MGCALL_BUILD_DIR:-$T}/js-compat"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  t_fail "node and npm are required (scripts/bootstrap installs them)"
  t_done
  exit 1
fi
t_pass "node $(node --version), npm $(npm --version)"

# npm ci into the build tree, once per lock file.
mkdir -p "$JS_DIR"
stamp=$(sha256sum "$JS_SRC/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$JS_DIR/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -d "$JS_DIR/node_modules" ]; then
  cp "$JS_SRC/package.json" "$JS_SRC/package-lock.json" "$JS_DIR/"
  if (cd "$JS_DIR" && timeout 240 npm ci --no-audit --no-fund --ignore-scripts) >"$T/npm.log" 2>&1; then
    echo "$stamp" >"$JS_DIR/.stamp"
  else
    t_fail "npm ci failed (network or registry unreachable?)"
    sed 's/^/  npm: /' "$T/npm.log" >&2
    t_done
    exit 1
  fi
fi
cp "$JS_SRC/compat.js" "$JS_DIR/compat.js"

t_ok t_make_cert "t_make_cert"
P="$T/client-cert"
mkdir -p "$P"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/key.pem" -out "$P/cert.pem" \
  -days 2 -subj "/CN=compat-app" 2>/dev/null
t_sink_start
t_emulator_start --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" \
  --client compat-app:compat-secret --client-cert compat-cert-app:"$P/cert.pem" \
  --record "$T/record.jsonl" || { t_done; exit 1; }

compat() {
  EMU_URL="$EMU_URL" TENANT=contoso-tenant CLIENT_ID=compat-app CLIENT_SECRET=compat-secret \
    CERT_CLIENT_ID=compat-cert-app CERT_PEM="$P/cert.pem" CERT_KEY="$P/key.pem" \
    CALLBACK_URI="$SINK_URL/callback" NODE_EXTRA_CA_CERTS="$EMU_CA" \
    NO_PROXY='*' no_proxy='*' HTTPS_PROXY= https_proxy= \
    timeout 120 node "$JS_DIR/compat.js" >"$T/node.out" 2>"$T/node.err"
}
t_ok compat "node compat.js"
cat "$T/node.out"
sed 's/^/  node: /' "$T/node.err" >&2
t_nogrep "$T/node.out" '^FAIL' "no failed check in compat.js"
t_grep "$T/node.out" '^ok: graph client: 404 after delete' "the Graph client saw 404 after delete"
t_grep "$T/node.out" '^ok: msal-node: token by certificate' "MSAL's certificate assertion was accepted"
# What the clients sent, from the emulator's record.
t_grep "$T/record.jsonl" '"path":"/contoso-tenant/v2.0/.well-known/openid-configuration"' \
  "MSAL read the OpenID configuration"
t_grep "$T/record.jsonl" '"path":"/v1.0/communications/calls/[0-9a-f-]+/keepAlive".*"status":200' \
  "the Graph client's keepAlive got 200"
t_done
