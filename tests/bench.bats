#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The benchmark's smoke run: it must keep running, whatever it measures.
load test_helper
bats_require_minimum_version 1.5.0

@test "the benchmark's smoke run exercises every workload in every mode and loses no status" {
	local workload config
	not_sanitized "a benchmark, and it preloads the shim alone into its workers"
	run -0 "$CW_BUILD/bench" --smoke --csv "$BATS_TEST_TMPDIR/b.csv" \
		--plot "$BATS_TEST_TMPDIR/b.png"
	for workload in fork vfork spawn batch scale latency memory; do
		grep -q "^### $workload[:,] " <<<"$output" ||
			{ echo "no table for $workload"; false; }
		grep -q "^$workload," "$BATS_TEST_TMPDIR/b.csv" ||
			{ echo "no CSV rows for $workload"; false; }
	done
	for config in bare safe fast threaded pidfd; do
		(($(grep -c "^| $config |" <<<"$output") == 8)) ||
			{ echo "$config lacks a row in some table"; false; }
	done
	if command -v gnuplot >/dev/null; then
		[[ -s $BATS_TEST_TMPDIR/b.png ]] || { echo "no plot"; false; }
	fi
	! grep -q ',failed$' "$BATS_TEST_TMPDIR/b.csv"
}
