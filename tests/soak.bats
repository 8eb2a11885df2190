#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Soak: tens of thousands of children by every means of creation, waited
# for by their own spawners while a hostile thread reaps with waitpid(-1)
# and another stops, continues, kills and terminates them at random. make
# soak runs the full 100,000 per mode and prints the figures.

load test_helper
bats_require_minimum_version 1.5.0

# Children per mode here; make soak runs 100,000.
SOAK_CHILDREN=${CW_SOAK_CHILDREN:-10000}

@test "bare, a hostile waitpid(-1) loses spawners their children's statuses" {
	loses_bare "$FIX/soak" --children 2000
	[[ $output == *mode=bare* ]]
}

@test "soak: no status lost or doubled, no zombie, descriptor or thread left, in every mode" {
	local mode
	for mode in "${CW_MODES[@]}"; do
		run --separate-stderr timeout -k 5 300 \
			env CHILDWATCH_MODE="$mode" LD_PRELOAD="$CW_PRELOAD" \
			"$FIX/soak" --children "$SOAK_CHILDREN"
		echo "$output"
		if ((status != 0)); then
			echo "mode $mode: exit status $status"
			echo "stderr: $stderr"
			return 1
		fi
		[[ $output == *" lost=0 doubled=0 stray=0 "* ]] || false
		[[ $output == *" children_left=0 zombies=0 fds_leaked=0 threads_leaked=0" ]]
	done
}
