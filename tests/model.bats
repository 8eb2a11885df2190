#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Randomized model test: seeded sequences of spawns, releases, stops,
# continues, kills, SIGCHLD dispositions and waits of every kind give the
# same transcript bare and under the shim, down to which child a wait for
# any child returns. Differences the README documents are left out
# (tests/fixtures/model.c says how).

load test_helper
bats_require_minimum_version 1.5.0

# CW_MODEL_SEEDS=1-500 CW_MODEL_OPS=80 for a longer run; make check runs
# 50 seeds (tests/stress/model.bats).
MODEL_SEEDS=${CW_MODEL_SEEDS:-1-20}
MODEL_OPS=${CW_MODEL_OPS:-40}

@test "random operation sequences give the bare transcript in every mode" {
	not_under tsan "TSan runs a handler at its next intercepted call, so where the handler's line lands in the transcript depends on timing, bare too"
	local mode bare
	run -0 bounded "$FIX/model" --seeds "$MODEL_SEEDS" --ops "$MODEL_OPS"
	bare=$output
	[[ $bare != *unsettled* && $bare != *": status "* ]] || false
	for mode in "${CW_MODES[@]}"; do
		run -0 bounded env CHILDWATCH_MODE="$mode" \
			LD_PRELOAD="$CW_PRELOAD" \
			"$FIX/model" --seeds "$MODEL_SEEDS" --ops "$MODEL_OPS"
		if [[ $output != "$bare" ]]; then
			echo "mode $mode differs from bare (seeds $MODEL_SEEDS, ops $MODEL_OPS):"
			diff <(echo "$bare") <(echo "$output") | head -20
			echo "seeds that differ:"
			awk '/^seed /{s=$2} {print s "\t" $0}' <<<"$bare" >"$BATS_TEST_TMPDIR/bare"
			awk '/^seed /{s=$2} {print s "\t" $0}' <<<"$output" >"$BATS_TEST_TMPDIR/mode"
			diff "$BATS_TEST_TMPDIR/bare" "$BATS_TEST_TMPDIR/mode" |
				awk -F'\t' '/^[<>]/{sub(/^[<>] /, "", $1); print $1}' | sort -un | tr '\n' ' '
			echo
			return 1
		fi
	done
}

@test "random operation sequences from three threads, with and without __WNOTHREAD, give the bare transcript in every mode" {
	not_under tsan "TSan runs a handler at its next intercepted call, so where the handler's line lands in the transcript depends on timing, bare too"
	local mode bare
	run -0 "$FIX/model" --seeds "$MODEL_SEEDS" --ops "$MODEL_OPS" --threads 3
	bare=$output
	[[ $bare != *unsettled* && $bare != *": status "* ]] || false
	for mode in "${CW_MODES[@]}"; do
		run -0 timeout -k 5 300 env CHILDWATCH_MODE="$mode" \
			LD_PRELOAD="$CW_PRELOAD" \
			"$FIX/model" --seeds "$MODEL_SEEDS" --ops "$MODEL_OPS" --threads 3
		if [[ $output != "$bare" ]]; then
			echo "mode $mode differs from bare (seeds $MODEL_SEEDS, ops $MODEL_OPS, 3 threads):"
			diff <(echo "$bare") <(echo "$output") | head -20
			return 1
		fi
	done
}

# Found by the test above with valgrind running alongside: a watcher may
# report a younger child's exit before an older one's, and a wait for any
# child took the younger where the kernel takes the oldest. Busy loops on
# every CPU widen the gap between an exit and its report; pidfd differed in
# 8 runs of 8 this way before each wait caught up with the kernel. One run a
# mode of 10 seeds here; make check runs 50 seeds three times a mode
# (tests/stress/model.bats).
@test "a wait for any child takes the oldest exited child, as the kernel does, while busy CPUs delay the watchers' reports" {
	not_under tsan "TSan runs a handler at its next intercepted call, so where the handler's line lands in the transcript depends on timing, bare too"
	model_matches_bare_on_busy_cpus 1-10 "$MODEL_OPS" 1
}

# Found by the model test: a waitid without WEXITED once dropped a zombie
# from the table (its status lost) or blocked where the kernel says ECHILD.
@test "waitid without WEXITED ignores zombies as the kernel does, and they keep their status" {
	not_under tsan "TSan's runtime starts a thread in every forked child, so /proc shows the leader a zombie while that thread still exits, and the kernel's waitid answers 0, not ECHILD, without the shim too"
	run -0 "$FIX/waitid_zombie"
	passes_in_every_mode "$FIX/waitid_zombie"
}
