#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/keep_alive.sh - mgcall keep-alive against its peers, on the emulator
# over HTTPS (loopback only; stops by itself):
#  1. one keepAlive as a whole process (token given, nothing to fetch):
#     mgcall keep-alive vs curl -X POST with the same headers vs a Node
#     script with @microsoft/microsoft-graph-client; median wall time and
#     peak RSS over BENCH_RUNS runs, interleaved.
#  2. BENCH_IDS (10,000) ids from stdin at BENCH_CONCURRENCY (16) in flight:
#     mgcall keep-alive --parallel N vs the same Node client with N
#     promises; wall time, keepAlives/s, peak RSS; mgcall both over HTTP/2
#     (what it negotiates) and over HTTP/1.1 (the emulator's HTTP/2 off: the
#     Node client's protocol); and wrk -cN on the same endpoint as the
#     ceiling.
# Needs curl, jq, openssl, node + npm (installs bench/node's one dependency
# into bench/node/node_modules on first run) and wrk.
set -euo pipefail
: "${MGCALL:?MGCALL must name the mgcall binary}"
runs=${BENCH_RUNS:-50}
nids=${BENCH_IDS:-10000}
conc=${BENCH_CONCURRENCY:-16}
here=$(cd "$(dirname "$0")" && pwd)
for tool in curl jq openssl node npm wrk; do
  command -v "$tool" >/dev/null || {
    echo "bench/keep_alive.sh: $tool is missing" >&2
    exit 1
  }
done
if [ ! -d "$here/node/node_modules/@microsoft/microsoft-graph-client" ]; then
  (cd "$here/node" && npm install --no-audit --no-fund --silent >/dev/null)
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/mgcall-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

# A throwaway CA and server certificate for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" \
  -days 2 -subj "/CN=bench CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$T/server.key" -out "$T/server.csr" \
  -subj "/CN=localhost" 2>/dev/null
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" >"$T/ext"
openssl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
  -CAcreateserial -out "$T/server.pem" -days 2 -extfile "$T/ext" 2>/dev/null

printf 'bench-secret' >"$T/secret"
"$MGCALL" emulator --listen 127.0.0.1:0 --tls-cert "$T/server.pem" --tls-key "$T/server.key" \
  --client bench:@"$T/secret" --inactivity-timeout 1h >"$T/emu.out" 2>"$T/emu.err" &
pids+=($!)
. "$here/lib.sh"
URL=$(emulator_url)
C=(curl -sf --noproxy '*' --cacert "$T/ca.pem")
TOKEN=$(printf 'bench-secret' | "${C[@]}" "$URL/bench-tenant/oauth2/v2.0/token" \
  --data-urlencode grant_type=client_credentials --data-urlencode client_id=bench \
  --data-urlencode scope=https://graph.microsoft.com/.default \
  --data-urlencode client_secret@- | jq -r .access_token)
printf '%s' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
"${C[@]}" -X POST "$URL/_emulator/calls" \
  -d "{\"count\":$nids,\"tenantId\":\"bench-tenant\",\"appId\":\"bench\"}" |
  jq -r '.ids[]' >"$T/ids"
ID=$(head -n 1 "$T/ids")
export MGCALL_ACCESS_TOKEN=$TOKEN NODE_EXTRA_CA_CERTS=$T/ca.pem XDG_CACHE_HOME=$T/cache
NODE=(node "$here/node/keepalive.mjs")

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# measure NAME CMD...: one run; appends "wall_ms rss_kb" to $T/NAME.
measure() {
  local name=$1
  shift
  local t0=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o "$T/rss" "$@" >/dev/null 2>"$T/$name.err" ||
    { echo "bench/keep_alive.sh: $name failed:" >&2; cat "$T/$name.err" >&2; exit 1; }
  local t1=$EPOCHREALTIME
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) * 1000 }') $(cat "$T/rss")" >>"$T/$name"
}

# ---- 1. one keepAlive per process ----------------------------------------------
for _ in $(seq "$runs"); do
  measure mgcall "$MGCALL" keep-alive --graph-url "$URL" --cacert "$T/ca.pem" \
    --access-token-file "$T/token" "$ID"
  measure curl "${C[@]}" -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" \
    -H "client-request-id: $(cat /proc/sys/kernel/random/uuid)" -H 'Accept: application/json' \
    -H 'Content-Length: 0' "$URL/v1.0/communications/calls/$ID/keepAlive"
  measure node "${NODE[@]}" "$URL" "$ID"
done
echo "one keepAlive per process, HTTPS, $runs runs each (median wall ms, median peak RSS KiB):"
for n in mgcall curl node; do
  printf '  %-8s %8s ms %8s KiB\n' "$n" "$(awk '{print $1}' "$T/$n" | median)" "$(awk '{print $2}' "$T/$n" | median)"
done
m=$(awk '{print $1}' "$T/mgcall" | median)
awk -v m="$m" -v c="$(awk '{print $1}' "$T/curl" | median)" -v n="$(awk '{print $1}' "$T/node" | median)" \
  -v mr="$(awk '{print $2}' "$T/mgcall" | median)" -v cr="$(awk '{print $2}' "$T/curl" | median)" \
  'BEGIN { printf "  mgcall/curl wall %.2fx, RSS %.2fx; node/mgcall wall %.1fx\n", m / c, mr / cr, n / m }'

# ---- 2. many ids from stdin ------------------------------------------------------
# mgcall takes HTTP/2 by ALPN (one connection, $conc streams); the Node
# client speaks HTTP/1.1 ($conc connections).  mgcall-batch-h1 is mgcall
# against the same emulator with HTTP/2 switched off (PUT /_emulator/faults
# {"http2": false}): the like-for-like figure against Node.  The emulator
# serves one connection on one thread, so over HTTP/2 it is the ceiling.
h2() {
  "${C[@]}" -o /dev/null -X PUT -H 'Content-Type: application/json' -d "{\"http2\":$1}" \
    "$URL/_emulator/faults"
}
rm -f "$T/mgcall-batch" "$T/mgcall-batch-h1" "$T/node-batch"
for _ in 1 2 3; do
  measure mgcall-batch sh -c "\"$MGCALL\" keep-alive --graph-url '$URL' --cacert '$T/ca.pem' \
    --parallel $conc --progress never < '$T/ids'"
  h2 false
  measure mgcall-batch-h1 sh -c "\"$MGCALL\" keep-alive --graph-url '$URL' --cacert '$T/ca.pem' \
    --parallel $conc --progress never < '$T/ids'"
  h2 true
  measure node-batch sh -c "node '$here/node/keepalive.mjs' '$URL' - $conc < '$T/ids'"
done
echo "$nids keepAlives from stdin, $conc in flight, 3 runs each (median):"
for n in mgcall-batch mgcall-batch-h1 node-batch; do
  w=$(awk '{print $1}' "$T/$n" | median)
  printf '  %-13s %9s ms %9.0f keepAlives/s %8s KiB\n' "$n" "$w" \
    "$(awk -v w="$w" -v n="$nids" 'BEGIN { print n / (w / 1000) }')" "$(awk '{print $2}' "$T/$n" | median)"
done
cat >"$T/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Length"] = "0"
wrk.headers["Accept"] = "application/json"
LUA
wrk -t2 -c"$conc" -d5s -s "$T/post.lua" "$URL/v1.0/communications/calls/$ID/keepAlive" >"$T/wrk.txt"
echo "  wrk -t2 -c$conc -d5s (ceiling): $(awk '/^Requests\/sec:/ {print $2}' "$T/wrk.txt") requests/s" \
  "$(grep -q Non-2xx "$T/wrk.txt" && grep Non-2xx "$T/wrk.txt")"
