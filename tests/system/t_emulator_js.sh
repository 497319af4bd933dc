#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compatibility: Microsoft's JavaScript clients (@azure/msal-node and
# @microsoft/microsoft-graph-client, pinned in tests/system/js/
# package-lock.json) work against mgcall emulator unchanged, over HTTPS with
# a throwaway CA (NODE_EXTRA_CA_CERTS).  The packages are installed with
# `npm ci` into the build tree once (reinstalled when the lock file changes).
# Then Node's own HTTP/2 client (js/h2_client.mjs, node:http2) on the same
# emulator: the SDKs speak HTTP/1.1 (checked in the record), node:http2 h2.
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
# keepAlives in the record by protocol (PROTOCOL [STATUS]): one line each
ka_lines() {
  jq -c --arg p "$1" --arg s "${2:-}" 'select(.protocol == $p and (.path | endswith("/keepAlive"))
    and ($s == "" or (.status | tostring) == $s))' "$T/record.jsonl"
}
t_eq "$(ka_lines HTTP/1.1 | wc -l)" 3 "the SDKs' keepAlives (v1.0, beta, after delete) came over HTTP/1.1"

# Node's own HTTP/2 client (node:http2), h2 by ALPN on the same emulator.
h2node() {
  EMU_URL="$EMU_URL" EMU_CA="$EMU_CA" TENANT=contoso-tenant CLIENT_ID=compat-app \
    CLIENT_SECRET=compat-secret CALLBACK_URI="$SINK_URL/callback" \
    timeout 60 node "$JS_DIR/h2_client.mjs" >"$T/h2node.out" 2>"$T/h2node.err"
}
t_ok h2node "node h2_client.mjs"
cat "$T/h2node.out"
sed 's/^/  node: /' "$T/h2node.err" >&2
t_nogrep "$T/h2node.out" '^FAIL' "no failed check in h2_client.mjs"
t_grep "$T/h2node.out" '^ok: node:http2: 20 concurrent keepAlives 200' "node:http2: 20 keepAlives answered"
t_wait 5 '[ "$(ka_lines HTTP/2 200 | wc -l)" -ge 20 ]' "the record has node's keepAlives"
t_eq "$(ka_lines HTTP/2 200 | wc -l)" 20 "20 keepAlives with 200 over HTTP/2"
t_eq "$(ka_lines HTTP/2 | jq -r .connection | sort -u | wc -l)" 1 "node's keepAlives all on one HTTP/2 connection"
t_done
