#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_fleet_store_stall.sh with every keeper connected through PgBouncer in
# transaction mode: the cancellation of the statement that had no answer
# goes through PgBouncer to the server, and over HTTP/2 (MGCALL_TEST_PROTO
# h2tls) as the other PgBouncer twins.
FLEET_VIA=pgbouncer MGCALL_TEST_PROTO=${MGCALL_TEST_PROTO:-h2tls} exec bash "$(dirname "$0")/t_fleet_store_stall.sh"
