#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
load test_helper
bats_require_minimum_version 1.5.0

@test "childwatch runs a program under the chosen mode and exits with its status" {
	for mode in "${CW_MODES[@]}" off; do
		run -7 cli --mode "$mode" -- sh -c 'echo "$CHILDWATCH_MODE"; exit 7'
		[[ $output == "$mode" ]] || false
	done
}

@test "childwatch -m sets the mode like --mode" {
	run -0 cli -m fast -- sh -c 'echo "$CHILDWATCH_MODE"'
	[[ $output == fast ]]
}

@test "childwatch preloads the shim into the program" {
	run -0 cli -- sh -c 'echo "$LD_PRELOAD"'
	[[ $output == */libchildwatch.so* ]]
	run -0 cli -- grep -c libchildwatch /proc/self/maps
	((output > 0))
}

@test "childwatch exits 128+N when signal N kills the program" {
	run -137 cli -- sh -c 'kill -KILL $$'
	run -143 cli -- sh -c 'kill -TERM $$'
}

@test "childwatch rejects an unknown mode in one line naming the valid ones" {
	run -2 --separate-stderr cli --mode bogus -- true
	[[ $stderr == *"'bogus' is not a mode"*"safe, fast, threaded, pidfd, off"* ]] || false
	((${#stderr_lines[@]} == 1))
}

@test "childwatch without a program says how to give one and exits 2" {
	run -2 --separate-stderr cli
	[[ $stderr == *"no program given"* ]]
}

@test "childwatch reports a program it cannot run and exits 127" {
	run -127 --separate-stderr cli -- /nonexistent/program
	[[ $stderr == *"cannot run '/nonexistent/program'"* ]]
}

@test "childwatch --help describes the usage on stdout" {
	run -0 cli --help
	[[ $output == usage:* ]]
}

@test "an unknown CHILDWATCH_MODE stops the program with status 2 before its main runs" {
	run -2 --separate-stderr env CHILDWATCH_MODE=bogus LD_PRELOAD="$CW_PRELOAD" \
		sh -c 'echo main ran'
	[[ -z $output ]]
	[[ $stderr == "childwatch: CHILDWATCH_MODE='bogus' is not a mode; set it to one of safe, fast, threaded, pidfd, off (unset means pidfd)" ]]
}

@test "CHILDWATCH_MODE is read even when a preinit function calls into the shim before libc has set environ" {
	run -2 --separate-stderr env CHILDWATCH_MODE=bogus LD_PRELOAD="$CW_PRELOAD" \
		"$FIX/preinit"
	[[ -z $output ]]
	[[ $stderr == *"CHILDWATCH_MODE='bogus' is not a mode"* ]]
	passes_in_every_mode "$FIX/preinit"
}

@test "a library that calls back into the shim while it starts, as a sanitizer's runtime does, neither hangs it nor keeps it off" {
	run -0 "$FIX/start_reentry"
	for mode in "${CW_MODES[@]}" off; do
		CHILDWATCH_TRACE=$BATS_TEST_TMPDIR/$mode \
			passes_in_modes "$mode" "$FIX/start_reentry"
		grep -q "\"ev\":\"start\".*\"mode\":\"$mode\".*/start_reentry\"" \
			"$BATS_TEST_TMPDIR/$mode"
		grep -q '"ev":"spawn".*"call":"fork"' "$BATS_TEST_TMPDIR/$mode"
	done
	# The handler it installed may run at any instruction from then on:
	# the shim has started (its adoption peek) before main runs.
	strace_works || return 0
	for mode in "${CW_MODES[@]}"; do
		run -0 --separate-stderr strace -qq -e trace=waitid,rt_sigaction \
			-E CHILDWATCH_MODE="$mode" -E LD_PRELOAD="$CW_PRELOAD" \
			-E CHILDWATCH_TRACE="$BATS_TEST_TMPDIR/strace-$mode" \
			"$FIX/start_reentry"
		[[ $stderr == *WNOWAIT*"rt_sigaction(SIGUSR1, NULL"* ]] ||
			{ echo "mode $mode: the shim started after main: $stderr"; false; }
	done
}

@test "an empty CHILDWATCH_MODE is refused like any other non-mode" {
	run -2 --separate-stderr env CHILDWATCH_MODE= LD_PRELOAD="$CW_PRELOAD" /bin/true
}

@test "the demo's reproducer loses children bare and loses none under every mode" {
	run -1 "$CW_BUILD/lost_child"
	[[ $output == *"statuses lost"* ]]
	for mode in "${CW_MODES[@]}"; do
		run -0 under "$mode" "$CW_BUILD/lost_child"
		[[ $output != *lost* ]] || false
	done
}
