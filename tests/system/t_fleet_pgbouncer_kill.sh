#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_fleet_kill.sh with every keeper connected through PgBouncer in transaction
# mode (no session state in the keeper: polling, no LISTEN, no named
# prepared statements, transaction-scoped advisory lock).
# Over HTTP/2 as well (issue 12): the emulator on TLS and the keepers taking
# h2 by ALPN (MGCALL_TEST_PROTO=h2tls, checked: not one HTTP/1.1 connection),
# while the direct twin runs on cleartext HTTP/1.1, so the scenario runs on
# both protocols without a test more.
FLEET_VIA=pgbouncer MGCALL_TEST_PROTO=${MGCALL_TEST_PROTO:-h2tls} exec bash "$(dirname "$0")/t_fleet_kill.sh"
