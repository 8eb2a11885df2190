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
# fast's collect, one blocking peek, the reap, and a peek again when a
# creation raced it: constant, where safe makes 300.
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

# bash blocks SIGCHLD and then waits for any child: a wait that slept on a
# timer to notice the exit showed as one timed-out futex wait per command.
@test "a bash script of 50 commands makes no timed wait that times out, in any mode" {
	strace_works || skip "strace is missing or may not trace here"
	for mode in "${CW_MODES[@]}"; do
		run -0 timeout -k 5 60 strace -f -qq -e trace=futex,epoll_pwait,ppoll,pselect6 \
			-o "$BATS_TEST_TMPDIR/$mode" env CHILDWATCH_MODE="$mode" \
			LD_PRELOAD="$CW_PRELOAD" bash -c \
			'n=0; for i in $(seq 50); do /bin/true && n=$((n + 1)); done; echo $n'
		[[ $output == 50 ]] || { echo "mode $mode: $output"; false; }
		run grep -c ETIMEDOUT "$BATS_TEST_TMPDIR/$mode"
		[[ $output == 0 ]] ||
			{ echo "mode $mode: $output timed-out waits"; false; }
	done
}

# kernel_waits MODE|bare SCRIPT: the wait4 and waitid calls bash makes
# running SCRIPT, its children's included.
kernel_waits()
{
	local log=$BATS_TEST_TMPDIR/waits.$1 preload=()
	[[ $1 == bare ]] || preload=(-E CHILDWATCH_MODE="$1" -E LD_PRELOAD="$CW_PRELOAD")
	timeout -k 5 60 strace -f -qq -c -o "$log" "${preload[@]}" bash -c "$2" >/dev/null ||
		return
	awk '$NF == "wait4" || $NF == "waitid" { n += $4 } END { print n + 0 }' "$log"
}

# For each command bash waits twice, bare: once blocked, once in its
# SIGCHLD handler, which finds no child. Under the shim, in pidfd and
# threaded, the blocked wait sleeps in a peek and reaps the child the peek
# named, and the handler's is answered from the table's count of children;
# the shim's start looks once for children inherited across exec. safe and
# fast hear each exit as a SIGCHLD of their own, and their waits collect
# after one: a peek more per command. A peek that repeats what the previous
# one said, or a collect after one that saw nothing, shows as fifty more.
@test "a bash script of 50 commands makes at most five kernel waits more than bare in pidfd and threaded, two for one in safe and fast" {
	not_sanitized "the runtime's own calls are not the shim's"
	need_ptrace
	local script='for i in $(seq 50); do /bin/true; done' bare mode limit
	bare=$(kernel_waits bare "$script")
	((bare >= 100)) || { echo "bare made $bare waits"; false; }
	for mode in "${CW_MODES[@]}"; do
		case $mode in
		pidfd | threaded) limit=$((bare + 5)) ;;
		*) limit=$((2 * bare + 10)) ;;
		esac
		run -0 kernel_waits "$mode" "$script"
		((output <= limit)) ||
			{ echo "mode $mode: $output waits against bare's $bare"; false; }
	done
}
