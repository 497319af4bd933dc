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

. "$(dirname "$0")/js_lib.sh"
t_js_install || { t_done; exit 1; }

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
