#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_keeper_latency.sh - 5,000 calls at --interval 5s against an emulator
# answering after 100 ms: the keeper keeps up with default options, backs off
# under throttling without losing a call, recovers (keeper_latency.sh).
LAT_LATENCY=100ms
LAT_JITTER=0
. "$(dirname "$0")/keeper_latency.sh"
