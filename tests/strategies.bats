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

@test "threaded keeps one watcher thread per live child and no pidfd" {
	census threaded
	[[ $output == "threads=200 pidfds=0" ]]
}

@test "pidfd keeps one watcher thread and one pidfd per live child" {
	census pidfd
	[[ $output == "threads=1 pidfds=200" ]]
}

@test "safe and fast start no thread and hold no descriptor" {
	census safe
	[[ $output == "threads=0 pidfds=0" ]]
	census fast
	[[ $output == "threads=0 pidfds=0" ]]
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

@test "fast collects each exit with a constant number of waits, whatever the live children" {
	strace_works || skip "strace is missing or may not trace here"
	run -0 waits_for_ten_exits fast
	((output <= 10 * 5)) || false
}

@test "pidfd finds each exit without a scan" {
	strace_works || skip "strace is missing or may not trace here"
	run -0 waits_for_ten_exits pidfd
	((output <= 10 * 5)) || false
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
	run -0 env -u CHILDWATCH_MODE LD_PRELOAD="$CW_PRELOAD" "$FIX/census" 20
	[[ $output == "threads=1 pidfds=20" ]]
}
