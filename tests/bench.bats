#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The benchmark's smoke run: it must keep running, whatever it measures.
load test_helper
bats_require_minimum_version 1.5.0

@test "the benchmark's smoke run exercises every workload in every mode and loses no status" {
	local workload config
	not_sanitized "a benchmark, and it preloads the shim alone into its workers"
	run -0 "$CW_BUILD/bench" --smoke --csv "$BATS_TEST_TMPDIR/b.csv" \
		--plot "$BATS_TEST_TMPDIR/b.png" \
		--workloads fork,vfork,spawn,batch,scale,latency,memory
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

@test "the benchmark's smoke run runs every installed real program in every config, each exiting 0" {
	local program config
	not_sanitized "a benchmark, and it preloads the shim alone into the programs"
	run -0 "$CW_BUILD/bench" --smoke --workloads real \
		--csv "$BATS_TEST_TMPDIR/r.csv"
	grep -q '^### real: ' <<<"$output" || { echo "no real table"; false; }
	for program in true bash dash make ninja xargs python3 perl-system \
		perl-backticks node-sync node-async pipeline; do
		if grep -q "^- $program: .*, skipped: " <<<"$output"; then
			continue
		fi
		for config in bare empty off safe fast threaded pidfd; do
			grep -q "^| $program | $config | [0-9]" <<<"$output" ||
				{ echo "no figures for $program in $config"; false; }
			grep -q "^real-$program,$config,.*,ms wall$" \
				"$BATS_TEST_TMPDIR/r.csv" ||
				{ echo "no CSV row for $program in $config"; false; }
		done
	done
	! grep -q ',failed$' "$BATS_TEST_TMPDIR/r.csv"
}

@test "the benchmark fails when a real program exits non-zero, rather than time it" {
	not_sanitized "a benchmark, and it preloads the shim alone into the programs"
	mkdir "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\nexit 3\n' >"$BATS_TEST_TMPDIR/bin/dash"
	chmod +x "$BATS_TEST_TMPDIR/bin/dash"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run -1 --separate-stderr \
		"$CW_BUILD/bench" --smoke --workloads real --programs dash \
		--csv "$BATS_TEST_TMPDIR/r.csv"
	grep -q 'dash in bare, rep 1: exited with status 3' <<<"$stderr" ||
		{ echo "no reason given"; false; }
	grep -q '^real-dash,bare,.*,failed$' "$BATS_TEST_TMPDIR/r.csv"
}
