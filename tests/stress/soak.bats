#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The soak of tests/soak.bats at 10,000 children a mode (make check).

load ../test_helper
bats_require_minimum_version 1.5.0
# About 25 s a mode on 2 idle cores.
test_time_bound 900

SOAK_CHILDREN=${CW_SOAK_CHILDREN:-10000}

@test "soak at 10,000 children: no status lost or doubled, no zombie, descriptor or thread left, in every mode" {
	soak_passes_in_every_mode "$SOAK_CHILDREN"
}
