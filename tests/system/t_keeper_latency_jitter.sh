#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_latency_jitter.sh - the same as t_keeper_latency.sh with the
# emulator answering after 300 ms +- 20% (keeper_latency.sh).
LAT_LATENCY=300ms
LAT_JITTER=20
. "$(dirname "$0")/keeper_latency.sh"
