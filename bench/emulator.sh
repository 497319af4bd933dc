#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/emulator.sh - mgcall emulator benchmarks (loopback only, stops by
# itself; needs wrk and nginx: scripts/bootstrap --bench):
#  1. keepAlive requests per second with wrk (HTTP/1.1 keep-alive, a valid
#     token, POST /v1.0/communications/calls/{id}/keepAlive) against the
#     emulator, and in the same run against nginx answering `return 200;`
#     (the practical ceiling of an HTTP responder on this machine); prints
#     both rates and their ratio.
#  2. Memory: RSS of the emulator holding 1,000,000 live calls.
#  3. HTTP/2: h2load (nghttp2-client) against the emulator over TLS and
#     against nginx `http2` on TLS answering `return 200;`, 1 and 16
#     connections x 100 streams; mgcall keep-alive --parallel 100 with
#     10,000 ids over HTTP/2 and over HTTP/1.1 on the same emulator.
#     BENCH_H2=0 skips it, BENCH_H2_ONLY=1 runs only it; BENCH_H2_SECONDS
#     (5) per h2load run.
# Environment: MGCALL (the binary), BENCH_SECONDS (10), BENCH_CONNECTIONS
# (64), BENCH_THREADS (wrk threads, 2), EMU_THREADS (emulator threads, nproc),
# BENCH_CALLS (1000000), BENCH_ROUNDS (3).
set -euo pipefail
: "${MGCALL:?MGCALL must name the mgcall binary}"
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-64}
wthreads=${BENCH_THREADS:-2}
ethreads=${EMU_THREADS:-$(nproc)}
ncalls=${BENCH_CALLS:-1000000}
for tool in wrk nginx curl jq; do
  command -v "$tool" >/dev/null || {
    echo "bench/emulator.sh: $tool is missing (scripts/bootstrap --bench)" >&2
    exit 1
  }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/mgcall-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

start_emulator() { # ARGS... -> URL, EMU_PID
  : >"$T/emu.out"
  "$MGCALL" emulator --listen 127.0.0.1:0 "$@" >"$T/emu.out" 2>"$T/emu.err" &
  EMU_PID=$!
  pids+=("$EMU_PID")
  URL=
  for _ in $(seq 100); do
    URL=$(sed -n 's/^mgcall emulator: listening on //p' "$T/emu.out")
    [ -n "$URL" ] && return 0
    sleep 0.1
  done
  echo "bench/emulator.sh: the emulator did not start" >&2
  cat "$T/emu.err" >&2
  exit 1
}
rate() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
rounds=${BENCH_ROUNDS:-3}
printf 'bench-secret' >"$T/secret"
non2xx() { awk '/Non-2xx/ {print $NF} END {}' "$1"; }

# ---- 1. keepAlive throughput ------------------------------------------------
if [ "${BENCH_H2_ONLY:-0}" != 1 ]; then
start_emulator --client bench:@"$T/secret" --threads "$ethreads"
TOKEN=$(printf 'bench-secret' | curl -sf --noproxy '*' "$URL/bench/oauth2/v2.0/token" \
  --data-urlencode grant_type=client_credentials --data-urlencode client_id=bench \
  --data-urlencode scope=https://graph.microsoft.com/.default \
  --data-urlencode client_secret@- | jq -r .access_token)
CALL=$(curl -sf --noproxy '*' -X POST "$URL/v1.0/communications/calls" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"callbackUri":"https://bot.invalid/cb"}' | jq -r .id)
printf 'wrk.method = "POST"\n' >"$T/post.lua"
KA="/v1.0/communications/calls/$CALL/keepAlive"

# nginx `return 200;` on another loopback port, the same wrk settings.
port=$((20000 + RANDOM % 20000))
mkdir -p "$T/nginx/logs"
cat >"$T/nginx/nginx.conf" <<NGINX
worker_processes $ethreads;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$port;
    location / { return 200; }
  }
}
NGINX
nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 50); do
  curl -s -o /dev/null --noproxy '*' "http://127.0.0.1:$port/" && break
  sleep 0.1
done

# Alternate the two so both see the same background load; report medians.
emu_rates=()
nginx_rates=()
for r in $(seq "$rounds"); do
  wrk -t"$wthreads" -c"$conns" -d"${secs}s" -s "$T/post.lua" \
    -H "Authorization: Bearer $TOKEN" "$URL$KA" >"$T/wrk-emu.$r.txt"
  emu_rates+=("$(rate "$T/wrk-emu.$r.txt")")
  wrk -t"$wthreads" -c"$conns" -d"${secs}s" -s "$T/post.lua" \
    -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port$KA" >"$T/wrk-nginx.$r.txt"
  nginx_rates+=("$(rate "$T/wrk-nginx.$r.txt")")
done
emu_rate=$(median "${emu_rates[@]}")
nginx_rate=$(median "${nginx_rates[@]}")
emu_bad=$(cat "$T"/wrk-emu.*.txt | grep -c 'Non-2xx' || true)
kas=$(curl -sf --noproxy '*' "$URL/_emulator/stats" | jq .keepAlives)
kill "$EMU_PID" "${pids[-1]}" 2>/dev/null || true
wait "$EMU_PID" 2>/dev/null || true

echo "keepAlive (wrk -t$wthreads -c$conns -d${secs}s, $rounds rounds alternating; emulator --threads $ethreads, nginx $ethreads workers):"
echo "  emulator rounds: ${emu_rates[*]} requests/s (non-2xx: $emu_bad; keepAlives counted: $kas)"
echo "  nginx rounds:    ${nginx_rates[*]} requests/s"
echo "  median: emulator $emu_rate, nginx return 200 $nginx_rate requests/s"
awk -v a="$emu_rate" -v b="$nginx_rate" 'BEGIN { printf "  ratio emulator/nginx (medians): %.2f\n", a / b }'
sed 's/^/    /' "$T/wrk-emu.1.txt"

# ---- 2. memory with many live calls --------------------------------------------
start_emulator --inactivity-timeout 1h --threads "$ethreads"
base_rss=$(awk '/VmRSS/ {print $2}' "/proc/$EMU_PID/status")
left=$ncalls
t0=$(date +%s%N)
while [ "$left" -gt 0 ]; do
  n=$((left > 100000 ? 100000 : left))
  curl -sf --noproxy '*' -o "$T/bulk.json" -X POST "$URL/_emulator/calls" \
    -d "{\"count\":$n,\"tenantId\":\"bench\",\"appId\":\"bench\"}"
  left=$((left - n))
done
t1=$(date +%s%N)
active=$(curl -sf --noproxy '*' "$URL/_emulator/stats" | jq .callsActive)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$EMU_PID/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$EMU_PID/status")
echo "memory: $active live calls: RSS $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB," \
  "empty $((base_rss / 1024)) MiB), $(((rss - base_rss) * 1024 / (active > 0 ? active : 1))) bytes a call;" \
  "created in $(((t1 - t0) / 1000000)) ms"

# keepAlive among that many calls: wrk picks one of 10,000 of them at random
# per request (the id index and the timer heap at full size).
TOKEN=$(printf 'any-secret' | curl -sf --noproxy '*' "$URL/bench/oauth2/v2.0/token" \
  --data-urlencode grant_type=client_credentials --data-urlencode client_id=bench \
  --data-urlencode scope=https://graph.microsoft.com/.default \
  --data-urlencode client_secret@- | jq -r .access_token)
{
  echo 'local ids = {'
  jq -r '.ids[:10000][] | "  \"" + . + "\","' "$T/bulk.json"
  echo '}'
  echo 'wrk.method = "POST"'
  echo 'request = function()'
  echo '  local id = ids[math.random(#ids)]'
  echo '  return wrk.format(nil, "/v1.0/communications/calls/" .. id .. "/keepAlive")'
  echo 'end'
} >"$T/random.lua"
wrk -t"$wthreads" -c"$conns" -d"${secs}s" -s "$T/random.lua" \
  -H "Authorization: Bearer $TOKEN" "$URL/" >"$T/wrk-big.txt"
echo "keepAlive with $active live calls (random among 10,000 of them): $(rate "$T/wrk-big.txt") requests/s" \
  "(non-2xx: $(grep -c 'Non-2xx' "$T/wrk-big.txt" || true))"
fi # BENCH_H2_ONLY

# ---- 3. HTTP/2 (issue 12) ------------------------------------------------------
# h2load against the emulator over TLS (h2 by ALPN; POST keepAlive with a
# token) and against nginx with `http2` on TLS answering `return 200;`,
# alternating, 1 and 16 connections with 100 streams each; then mgcall
# keep-alive --parallel 100 over 10,000 ids on the same emulator over
# HTTP/2 and over HTTP/1.1 (PUT /_emulator/faults {"http2": false}).
if [ "${BENCH_H2:-1}" = 1 ]; then
  for tool in h2load nginx openssl; do
    command -v "$tool" >/dev/null || {
      echo "bench/emulator.sh: $tool is missing (scripts/bootstrap)" >&2
      exit 1
    }
  done
  h2secs=${BENCH_H2_SECONDS:-5}
  mkdir -p "$T/pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/pki/ca.key" -out "$T/pki/ca.pem" \
    -days 1 -subj "/CN=bench CA" -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$T/pki/server.key" -out "$T/pki/server.csr" \
    -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$T/pki/ext"
  openssl x509 -req -in "$T/pki/server.csr" -CA "$T/pki/ca.pem" -CAkey "$T/pki/ca.key" \
    -CAcreateserial -out "$T/pki/server.pem" -days 1 -extfile "$T/pki/ext" 2>/dev/null
  start_emulator --client bench:@"$T/secret" --threads "$ethreads" \
    --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key" --inactivity-timeout 1h
  ccurl() { curl -sf --noproxy '*' --cacert "$T/pki/ca.pem" "$@"; }
  TOKEN=$(printf 'bench-secret' | ccurl "$URL/bench/oauth2/v2.0/token" \
    --data-urlencode grant_type=client_credentials --data-urlencode client_id=bench \
    --data-urlencode scope=https://graph.microsoft.com/.default \
    --data-urlencode client_secret@- | jq -r .access_token)
  CALL=$(ccurl -X POST "$URL/v1.0/communications/calls" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"callbackUri":"https://bot.invalid/cb"}' | jq -r .id)
  KA="/v1.0/communications/calls/$CALL/keepAlive"
  port=$((20000 + RANDOM % 20000))
  mkdir -p "$T/nginx2/logs"
  cat >"$T/nginx2/nginx.conf" <<NGINX
worker_processes $ethreads;
pid $T/nginx2/nginx.pid;
error_log $T/nginx2/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  http2_max_concurrent_streams 100;
  # (1.22 ends an HTTP/2 connection after 1000 requests by default; h2load
  # does not reconnect)
  keepalive_requests 1000000000;
  server {
    listen 127.0.0.1:$port ssl http2;
    ssl_certificate $T/pki/server.pem;
    ssl_certificate_key $T/pki/server.key;
    location / { return 200; }
  }
}
NGINX
  nginx -p "$T/nginx2" -c "$T/nginx2/nginx.conf" -g 'daemon off;' &
  pids+=($!)
  for _ in $(seq 50); do
    ccurl -o /dev/null "https://127.0.0.1:$port/" && break
    sleep 0.1
  done
  h2rate() { awk '/^finished in/ {print $4}' "$1"; }
  h2ok() { awk '/^requests:/ {print $8}' "$1"; }
  echo "HTTP/2 on TLS (h2load -D ${h2secs}s -m 100, POST keepAlive; $rounds rounds alternating;" \
    "emulator HTTP/2 on its 2 event loops, nginx $ethreads workers, http2_max_concurrent_streams 100):"
  for c in 1 16; do
    e=()
    n=()
    for r in $(seq "$rounds"); do
      h2load -D "$h2secs" -c "$c" -m 100 -H ':method: POST' -H "authorization: Bearer $TOKEN" \
        "$URL$KA" >"$T/h2-emu.$c.$r.txt" 2>&1
      e+=("$(h2rate "$T/h2-emu.$c.$r.txt")")
      h2load -D "$h2secs" -c "$c" -m 100 -H ':method: POST' -H "authorization: Bearer $TOKEN" \
        "https://127.0.0.1:$port$KA" >"$T/h2-nginx.$c.$r.txt" 2>&1
      n+=("$(h2rate "$T/h2-nginx.$c.$r.txt")")
    done
    em=$(median "${e[@]}")
    nm=$(median "${n[@]}")
    echo "  $c connection(s) x 100 streams: emulator ${e[*]}, nginx ${n[*]} requests/s;" \
      "medians $em / $nm, ratio $(awk -v a="$em" -v b="$nm" 'BEGIN { printf "%.2f", a / b }')" \
      "(emulator 2xx in round 1: $(h2ok "$T/h2-emu.$c.1.txt"))"
  done
  kill "${pids[-1]}" 2>/dev/null || true

  # keep-alive --parallel 100 over 10,000 ids: HTTP/2, then HTTP/1.1
  ccurl -X POST "$URL/_emulator/calls" -d '{"count":10000,"tenantId":"bench","appId":"bench"}' |
    jq -r '.ids[]' >"$T/ids"
  ka_run() { # LABEL
    local c0 k0 t0 t1 c1 k1
    c0=$(ccurl "$URL/_emulator/stats" | jq '.protocols.h2.connections + .protocols["http/1.1"].connections')
    k0=$(ccurl "$URL/_emulator/stats" | jq .keepAlives)
    t0=$(date +%s%N)
    MGCALL_ACCESS_TOKEN=$TOKEN "$MGCALL" keep-alive --graph-url "$URL" --cacert "$T/pki/ca.pem" \
      --parallel 100 --progress never --output json <"$T/ids" >"$T/ka.json" 2>"$T/ka.err" || true
    t1=$(date +%s%N)
    c1=$(ccurl "$URL/_emulator/stats" | jq '.protocols.h2.connections + .protocols["http/1.1"].connections')
    k1=$(ccurl "$URL/_emulator/stats" | jq .keepAlives)
    echo "  $1: $(((t1 - t0) / 1000000)) ms wall, $((c1 - c0 - 2)) connections," \
      "$(jq -s 'map(select(.ok)) | length' "$T/ka.json") ok, $((k1 - k0)) keepAlives counted"
  }
  echo "mgcall keep-alive --parallel 100, 10,000 ids, the same emulator (TLS):"
  ka_run "HTTP/2  "
  ccurl -o /dev/null -X PUT "$URL/_emulator/faults" -d '{"http2":false}'
  ka_run "HTTP/1.1"
fi
