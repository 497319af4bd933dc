#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_fleet_pause.sh with every keeper connected through PgBouncer in transaction
# mode (no session state in the keeper: polling, no LISTEN, no named
# prepared statements, transaction-scoped advisory lock).
FLEET_VIA=pgbouncer exec bash "$(dirname "$0")/t_fleet_pause.sh"
