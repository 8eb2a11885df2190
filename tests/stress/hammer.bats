#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# tests/nothing_lost.bats's and tests/trace.bats's hammer at 10,000
# children (make check): four spawner threads and a hostile waitpid(-1).

load ../test_helper
bats_require_minimum_version 1.5.0
# About 25 s a mode on 2 idle cores.
test_time_bound 900

HAMMER_CHILDREN=${CW_HAMMER_CHILDREN:-10000}

@test "10,000 children from spawner threads lose no status and leave no zombie while a hostile thread reaps with waitpid(-1)" {
	loses_bare "$FIX/hammer" "$HAMMER_CHILDREN"
	passes_in_every_mode "$FIX/hammer" "$HAMMER_CHILDREN"
}

@test "every traced event of 10,000 children in every mode is one whole JSON line" {
	hammer_traces_parse "$HAMMER_CHILDREN"
}
