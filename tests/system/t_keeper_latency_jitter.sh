#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_latency_jitter.sh - the same as t_keeper_latency.sh with the
# emulator answering after 300 ms +- 20% (keeper_latency.sh), on HTTP/2
# (h2tls) only: side by side with HTTP/1.1 it needs more than the machine's
# two cores (docs/testing.md); t_keeper_latency.sh runs on both.
LAT_LATENCY=300ms
LAT_JITTER=20
: "${MGCALL_TEST_PROTO:=h2tls}"
export MGCALL_TEST_PROTO
. "$(dirname "$0")/keeper_latency.sh"
