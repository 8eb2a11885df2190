#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The benchmark's smoke run: it must keep running, whatever it measures.
load test_helper
bats_require_minimum_version 1.5.0

@test "the benchmark's smoke run exercises every workload in every mode, and under an empty preloaded library, and loses no status" {
	local workload config
	not_sanitized "a benchmark, and it preloads the shim alone into its workers"
	run -0 "$CW_BUILD/bench" --smoke --csv "$BATS_TEST_TMPDIR/b.csv" \
		--plot "$BATS_TEST_TMPDIR/b.png" \
		--workloads fork,vfork,spawn,batch,scale,latency,latency-handler,memory
	for workload in fork vfork spawn batch scale latency latency-handler \
		memory; do
		grep -q "^### $workload[:,] " <<<"$output" ||
			{ echo "no table for $workload"; false; }
		grep -q "^$workload," "$BATS_TEST_TMPDIR/b.csv" ||
			{ echo "no CSV rows for $workload"; false; }
	done
	for config in bare empty safe fast threaded pidfd; do
		(($(grep -c "^| $config |" <<<"$output") == 9)) ||
			{ echo "$config lacks a row in some table"; false; }
	done
	# The floor of LD_PRELOAD is its own baseline in the time tables. The
	# peak RSS after it keeps out a scale row whose growth is 1.00.
	(($(grep -Ec '^\| empty \| [0-9]+ \| [0-9.]+ \| 1\.00 \| [0-9]+ \|' <<<"$output") == 6)) ||
		{ echo "a time table lacks the ratio to empty"; false; }
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

# Between reps this host drifts by more than the shim costs: each config is
# paired with empty's run of the same rep, and each runs first in its turn.
@test "the real table gives each config's CPU over empty's rep by rep, as the CSV has them: median and order-statistic interval, each config first in one rep" {
	local config want have
	not_sanitized "a benchmark, and it preloads the shim alone into the programs"
	need dash
	run -0 --separate-stderr "$CW_BUILD/bench" --workloads real \
		--programs dash --modes pidfd --reps 4 --real-n 2 \
		--csv "$BATS_TEST_TMPDIR/r.csv"
	# With 4 reps the interval's order statistics are the extremes.
	awk -F, '$1 == "real-dash" && $6 == "ms wall" && !($4 in first) { first[$4] = $2 }
		$1 == "real-dash" && $6 == "ms cpu" { cpu[$2, $4] = $5; configs[$2] }
		END {
			for (r in first) firsts[first[r]]++
			for (c in configs) {
				if (firsts[c] != 1) {
					print c " first in " firsts[c] + 0 " reps of 4" >"/dev/stderr"
					bad = 1
				}
				for (r = 1; r <= 4; r++) v[r] = cpu[c, r] / cpu["empty", r]
				for (i = 1; i <= 4; i++) for (j = i + 1; j <= 4; j++)
					if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
				printf "%s %.3f %.3f %.3f\n", c, (v[2] + v[3]) / 2, v[1], v[4]
			}
			exit bad
		}' "$BATS_TEST_TMPDIR/r.csv" >"$BATS_TEST_TMPDIR/want"
	[[ $(wc -l <"$BATS_TEST_TMPDIR/want") == 4 ]] || { cat "$BATS_TEST_TMPDIR/want"; false; }
	while read -r config want; do
		have=$(sed -n "s/^| dash | $config | .* | \([0-9.]*\) (\([0-9.]*\) to \([0-9.]*\)) |\$/\1 \2 \3/p" <<<"$output")
		[[ -n $have ]] || { echo "no paired cell for $config"; false; }
		# The CSV rounds to the microsecond: the last digit may differ.
		awk -v a="$want" -v b="$have" 'BEGIN {
			split(a, x, " "); split(b, y, " ")
			for (i = 1; i <= 3; i++) if (x[i] - y[i] > 0.0015 || y[i] - x[i] > 0.0015) exit 1
		}' || { echo "$config: table $have, from the CSV $want"; false; }
	done <"$BATS_TEST_TMPDIR/want"
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
