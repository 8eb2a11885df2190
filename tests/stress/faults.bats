#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# tests/faults.bats's fork in a signal handler at full size (make check).

load ../test_helper
bats_require_minimum_version 1.5.0
# About 80 s on 2 idle cores.
test_time_bound 900

@test "a signal handler that forks 4,096 times while main forks and waits: every status right" {
	fork_in_handler_passes 4096
}
