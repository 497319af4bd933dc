#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_tenants.sh - multi-tenant: calls of two tenants (the emulator
# only accepts a keepAlive with a token of the call's own tenant) kept alive
# by one keeper, which acquires a token per tenant and shares it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeper_lib.sh"
t_side_by_side h2tls

k_emulator --inactivity-timeout $((3 * T_SCALE))s || { t_done; exit 1; }
tok_b=$(t_emulator_token tenant-b app-k "$(cat "$T/app-secret")") ||
  { t_fail "no token for tenant-b"; t_done; exit 1; }
k_start --interval "${T_SCALE}s" --deadline $((3 * T_SCALE))s "${KAUTH[@]}" || { t_done; exit 1; }
tokens0=$(k_stats tokensIssued)
: >"$T/regs"
for i in 1 2 3; do
  a=$(t_emulator_call "$EMU_TOKEN") && echo "$a tenant-k" >>"$T/regs"
  b=$(t_emulator_call "$tok_b") && echo "$b tenant-b" >>"$T/regs"
done
t_expect_exit 0 "register 3 calls of each tenant" -- \
  sh -c "'$MGCALL' keeper add - <'$T/regs'"
t_eq "$(wc -l <"$T/regs")" 6 "6 calls"
before=$(k_stats keepAlives)
t_wait 30 '[ "$(k_stats keepAlives)" -ge $((before + 6 * 8)) ]' \
  "48 more keepAlives (8 intervals of 6 calls)"
t_eq "$(k_stats endedByTimeout)" 0 "no call of either tenant expired"
t_eq "$(k_live_count)" 6 "6 calls live"
t_eq "$(k_stats 'requestsByStatus["401"] // 0')" 0 "no keepAlive with the wrong tenant's token"
t_eq "$(( $(k_stats tokensIssued) - tokens0 ))" 2 "one token per tenant, shared by its calls"
t_eq "$(curl -s "$K_URL/calls" | jq -r '[.calls[].tenantId] | unique | join(",")')" \
  "tenant-b,tenant-k" "tenants shown"
k_stop TERM
t_eq "$K_STATUS" 0 "SIGTERM -> exit 0"
t_done
