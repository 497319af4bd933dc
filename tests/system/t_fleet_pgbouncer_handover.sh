#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mgcall-test: serial
# t_fleet_handover.sh with every keeper connected through PgBouncer in
# transaction mode (issue 10: the whole fleet suite also runs through PgBouncer).
FLEET_VIA=pgbouncer exec bash "$(dirname "$0")/t_fleet_handover.sh"
