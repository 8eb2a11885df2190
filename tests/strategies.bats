#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Each strategy differs the way its name promises, seen from outside.
load test_helper
bats_require_minimum_version 1.5.0

census()
{
	run -0 under "$1" "$FIX/census" 200
}

# Wait system calls the shim makes for 10 exits with 300 idle children.
waits_for_ten_exits()
{
	strace -f -qq -e trace=waitid,getppid -o "$BATS_TEST_TMPDIR/trace" \
		env CHILDWATCH_MODE="$1" LD_PRELOAD="$CW_PRELOAD" "$FIX/scan_cost" 300 10
	awk '/getppid/ { phase++; next } phase == 1 && /waitid/ { n++ }
	     END { print n + 0 }' "$BATS_TEST_TMPDIR/trace"
}

@test "no mode starts a thread or holds a pidfd for children the program waits for itself" {
	for mode in "${CW_MODES[@]}"; do
		census "$mode"
		[[ $output == "threads=0 pidfds=0" ]] ||
			{ echo "mode $mode: $output"; false; }
	done
}

@test "off adds nothing to the process" {
	census off
	[[ $output == "threads=0 pidfds=0" ]]
}

@test "safe probes every child it knows on each exit: O(n) waits" {
	strace_works || skip "strace is missing or may not trace here"
	run -0 waits_for_ten_exits safe
	((output >= 10 * 300)) || false
}

# A blocked wait for any child costs a few waits per exit, counted here:
# the kernel's pick, one blocking peek, one probe, the reap, and a
# peek again when a creation raced it: constant, where safe makes 300.
@test "fast collects each exit with a constant number of waits, whatever the live children" {
	strace_works || skip "strace is missing or may not trace here"
	run -0 waits_for_ten_exits fast
	((output <= 10 * 10)) || false
}

@test "pidfd and threaded find each exit without a scan" {
	strace_works || skip "strace is missing or may not trace here"
	run -0 waits_for_ten_exits pidfd
	((output <= 10 * 10)) || false
	run -0 waits_for_ten_exits threaded
	((output <= 10 * 10)) || false
}

@test "safe, threaded and pidfd never touch a child they did not see created" {
	for mode in safe threaded pidfd; do
		run -0 under "$mode" "$FIX/unknown_child"
		[[ $output == kept ]] || { echo "mode $mode: $output"; false; }
	done
}

@test "fast collects a child it did not see created and keeps it for the program" {
	run -0 under fast "$FIX/unknown_child"
	[[ $output == collected ]]
}

@test "the default mode is pidfd" {
	run -0 env -u CHILDWATCH_MODE CHILDWATCH_TRACE="$BATS_TEST_TMPDIR/t" \
		LD_PRELOAD="$CW_PRELOAD" "$FIX/census" 20
	grep -q '"mode":"pidfd"' "$BATS_TEST_TMPDIR/t"
}
