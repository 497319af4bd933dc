#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Not serial: no check depends on timing (counts, order, bounded waits).
# A batch of 1,000 ids from stdin, some of them ended: output in input
# order, the exit code of the first failed call in input order, malformed
# lines reported with their line number without stopping the others, and
# --on-error stop.
. "$(dirname "$0")/lib.sh"
unset MGCALL_ACCESS_TOKEN AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
  AZURE_CLIENT_CERTIFICATE_PATH MGCALL_GRAPH_URL https_proxy HTTPS_PROXY
export XDG_CACHE_HOME=$T/cache

t_make_cert || { t_fail "t_make_cert"; t_done; exit 1; }
t_emulator_start --tls-cert "$EMU_CERT" --tls-key "$EMU_KEY" \
  --client app1:s3cret || { t_done; exit 1; }
TOK=$(t_emulator_token tenant-a app1 s3cret)
export MGCALL_ACCESS_TOKEN=$TOK
N=1000

# Create N calls with one curl process over one connection (bodies one a
# line); the options are global, one url line per call.
body='{"callbackUri":"http://127.0.0.1:9/cb","requestedModalities":["audio"],"mediaConfig":{"@odata.type":"#microsoft.graph.serviceHostedMediaConfig"}}'
for i in $(seq $N); do
  printf 'url = "%s/v1.0/communications/calls"\n' "$EMU_URL"
done >"$T/create.cfg"
t_curl -X POST -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
  -d "$body" -w '\n' -K "$T/create.cfg" | jq -r .id >"$T/ids"
t_eq "$(sort -u "$T/ids" | wc -l | tr -d ' ')" $N "$N calls created"

# End every 7th call (ids 7, 14, ...).
awk 'NR % 7 == 0' "$T/ids" >"$T/ended"
while read -r id; do
  printf 'url = "%s/v1.0/communications/calls/%s"\n' "$EMU_URL" "$id"
done <"$T/ended" >"$T/delete.cfg"
t_curl -f -X DELETE -H "Authorization: Bearer $TOK" -K "$T/delete.cfg" >/dev/null || t_fail "DELETE"

# --- the batch: ids as bare lines and identity objects, a comment ---
{
  echo "# calls to keep alive"
  awk '{ if (NR % 2) print $0; else printf "{\"CallId\": \"%s\", \"TenantId\": \"t\"}\n", $0 }' "$T/ids"
} >"$T/in"
"$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA" --output json \
  --parallel 16 --progress never <"$T/in" >"$T/out" 2>"$T/err"
rc=$?
t_eq "$rc" 4 "exit 4: the first failure (in input order) is a 404"
t_eq "$(jq -r .callId "$T/out")" "$(cat "$T/ids")" "json output in input order"
t_eq "$(jq -r 'select(.ok == false) | .callId' "$T/out")" "$(cat "$T/ended")" "exactly the ended calls failed"
t_eq "$(jq -r 'select(.ok == false) | .status' "$T/out" | sort -u)" 404 "failures are 404"
t_eq "$(grep -c 'hint: the call has ended' "$T/err")" "$(wc -l <"$T/ended" | tr -d ' ')" \
  "one error line with the hint per ended call"
t_eq "$(grep -o "^mgcall: call [^:]*" "$T/err" | sed 's/^mgcall: call //')" "$(cat "$T/ended")" \
  "error lines in input order"

# --- text output with --pass-thru: True per success, in order ---
head -n 50 "$T/ids" | "$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA" \
  --pass-thru --progress never >"$T/out" 2>"$T/err"
t_eq "$?" 4 "50 ids: exit 4"
t_eq "$(wc -l <"$T/out" | tr -d ' ')" $((50 - 50 / 7)) "one True per success"
t_eq "$(sort -u "$T/out")" True "only True lines"

# --- --progress: a bar on stderr for more than one call ---
head -n 30 "$T/ids" | "$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA" \
  --progress always >"$T/out" 2>"$T/err"
t_eq "$?" 4 "--progress always: exit 4"
t_grep "$T/err" '\[#+\] 30/30, 4 failed$' "--progress always: final bar on stderr"
head -n 30 "$T/ids" | "$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA" \
  >"$T/out" 2>"$T/err"
t_nogrep "$T/err" '/30, ' "--progress auto: no bar when stderr is not a terminal"
head -n 1 "$T/ids" | "$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA" \
  --progress always >"$T/out" 2>"$T/err"
t_nogrep "$T/err" '/1, ' "--progress always: no bar for one call"

# --- a malformed line: reported with its number, the others still run ---
{ sed -n 1,5p "$T/ids"; echo '{"Id": "x"}'; sed -n 8,12p "$T/ids"; } >"$T/in2"
"$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA" --output json <"$T/in2" >"$T/out" 2>"$T/err"
t_eq "$?" 2 "malformed line first failure -> 2"
t_grep "$T/err" '^mgcall: stdin line 6: input object has no CallId$' "line number named"
t_eq "$(jq -s 'map(select(.ok)) | length' "$T/out")" 10 "the 10 good ids were kept alive"

# --- --on-error stop: nothing after the first failure is started ---
{ sed -n 1,6p "$T/ids"; sed -n 7p "$T/ids"; sed -n 8,400p "$T/ids"; } >"$T/in3"
"$MGCALL" keep-alive --graph-url "$EMU_URL" --cacert "$EMU_CA" --output json \
  --parallel 2 --on-error stop <"$T/in3" >"$T/out" 2>"$T/err"
t_eq "$?" 4 "--on-error stop: exit 4"
sent=$(wc -l <"$T/out" | tr -d ' ')
t_ok '[ "$sent" -ge 7 ] && [ "$sent" -lt 20 ]' "--on-error stop: stopped soon after the failure ($sent of 400 reported)"
t_eq "$(sed -n 7p "$T/out" | jq -r .status)" 404 "the 7th is the failure"
t_done
