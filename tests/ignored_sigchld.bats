#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# SIGCHLD ignored (SIG_IGN, or SA_NOCLDWAIT), set by the program or
# inherited over exec, loses nothing a caller asks for by pid: system(),
# pclose() and waitpid(pid) get their child's real status in every mode,
# while nothing else the program can see changes.

load test_helper
bats_require_minimum_version 1.5.0

REAL=$BATS_TEST_DIRNAME/fixtures/real

# ignoring CMD...: CMD started with SIGCHLD ignored, as a parent that
# ignores it starts its programs; CW_IGNORING=1 tells a script to ignore
# it itself as well.
ignoring()
{
	CW_IGNORING=1 bash -c 'trap "" CHLD; exec "$@"' ignoring "$@"
}

# same_when_ignored CMD...: CMD, started with SIGCHLD ignored, prints and
# exits under every mode as it does bare with SIGCHLD at its default; bare
# with SIGCHLD ignored it does not (the loss).
same_when_ignored()
{
	local mode want_out want_status
	run "$@"
	want_out=$output
	want_status=$status
	run ignoring "$@"
	if [[ $output == "$want_out" ]] && ((status == want_status)); then
		echo "bare, ignoring SIGCHLD loses nothing for: $*"
		return 1
	fi
	for mode in "${CW_MODES[@]}"; do
		run ignoring env CHILDWATCH_MODE="$mode" LD_PRELOAD="$CW_PRELOAD" "$@"
		if [[ $output != "$want_out" ]] || ((status != want_status)); then
			echo "mode $mode, SIGCHLD ignored, differs from bare at SIG_DFL for: $*"
			echo "bare  (status $want_status): $want_out"
			echo "$mode (status $status): $output"
			return 1
		fi
	done
}

@test "with SIGCHLD ignored, system(), pclose() and waitpid(pid) get their child's status, no zombie stays, and exec'd programs inherit SIG_IGN" {
	loses_bare "$FIX/sigign_keeps"
	passes_in_every_mode "$FIX/sigign_keeps"
}

@test "with SIGCHLD ignored since exec, system(), pclose() and waitpid(pid) get their child's status" {
	run -1 ignoring "$FIX/sigign_keeps" inherited
	passes_in_every_mode bash -c 'trap "" CHLD; exec "$@"' ignoring \
		"$FIX/sigign_keeps" inherited
}

@test "tclsh's exec gets each child's status under a parent that ignores SIGCHLD" {
	need tclsh
	same_when_ignored tclsh "$REAL/tcl_exec.tcl"
}

@test "perl's system(), backticks and waitpid(\$pid) get each child's status with \$SIG{CHLD} = 'IGNORE'" {
	need perl
	local mode want
	want=$(printf '%s\n' 'system: returned 768, $? >> 8 = 3' \
		"backticks: 'from backticks', status 2" \
		'waitpid: own pid, status 5' \
		'waitpid after the exit: own pid, status 6' \
		'wait: -1')
	run -0 perl "$REAL/perl_ignoring.pl"
	[[ $output != "$want" ]] || false
	for mode in "${CW_MODES[@]}"; do
		run -0 under "$mode" perl "$REAL/perl_ignoring.pl"
		if [[ $output != "$want" ]]; then
			printf 'mode %s:\n%s\nexpected:\n%s\n' "$mode" "$output" "$want"
			return 1
		fi
	done
}

@test "python's subprocess gets each child's return code under a parent that ignores SIGCHLD" {
	need python3
	same_when_ignored python3 "$REAL/subprocess_basic.py"
}
