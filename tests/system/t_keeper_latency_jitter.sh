#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_latency_jitter.sh - the same as t_keeper_latency.sh with the
# emulator answering after 300 ms +- 20% (keeper_latency.sh), on HTTP/2
# (h2tls) only: a second run on HTTP/1.1 would cost make check 45 s of
# serial time, and side by side the two need more than the machine's two
# cores (docs/testing.md); t_keeper_latency.sh runs on both protocols.
LAT_LATENCY=300ms
LAT_JITTER=20
: "${MGCALL_TEST_PROTO:=h2tls}"
export MGCALL_TEST_PROTO
. "$(dirname "$0")/keeper_latency.sh"
