#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Soak: children by every means of creation, waited for by their own
# spawners while a hostile thread reaps with waitpid(-1) and another stops,
# continues, kills and terminates them at random. This is the small run;
# make check runs 10,000 children a mode (tests/stress/soak.bats) and make
# soak 100,000 with the figures.

load test_helper
bats_require_minimum_version 1.5.0

# Children per mode: 500 still give the hostile thread hundreds of
# children to take (bare loses about four in ten of them).
SOAK_CHILDREN=${CW_SOAK_CHILDREN:-500}

@test "bare, a hostile waitpid(-1) loses spawners their children's statuses" {
	loses_bare "$FIX/soak" --children "$SOAK_CHILDREN"
	[[ $output == *mode=bare* ]]
}

@test "soak: no status lost or doubled, no zombie, descriptor or thread left, in every mode" {
	soak_passes_in_every_mode "$SOAK_CHILDREN"
}
