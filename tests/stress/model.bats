#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# tests/model.bats's busy-CPU run at full size (make check): 50 seeds, three
# runs a mode, every CPU busy.

load ../test_helper
bats_require_minimum_version 1.5.0
test_time_bound 900

MODEL_SEEDS=${CW_MODEL_SEEDS:-1-50}
MODEL_OPS=${CW_MODEL_OPS:-40}

@test "a wait for any child takes the oldest exited child in three runs a mode of 50 seeds while busy CPUs delay the watchers' reports" {
	model_matches_bare_on_busy_cpus "$MODEL_SEEDS" "$MODEL_OPS" 3
}
