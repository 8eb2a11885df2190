#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Fault injection: pidfd_open, fork, threads, memory and descriptors
# refused, signal storms, descriptors closed or replaced under the shim,
# fork in a signal handler, exit while threads wait. Each ends as bare libc
# would: same transcript and status, no crash, hang or lost status.
# (Exec with children alive or unwaited: exec_children in nothing_lost.bats.)

load test_helper
bats_require_minimum_version 1.5.0

@test "pidfd mode falls back to threads where seccomp refuses pidfd_open with ENOSYS or EPERM" {
	local err
	for err in ENOSYS EPERM; do
		passes_in_modes pidfd "$FIX/faults" pidfd-refused "$err" \
			"$FIX/soak" --children 500
		passes_in_modes pidfd "$FIX/faults" pidfd-refused "$err" \
			"$FIX/spawn_kinds"
	done
}

@test "fork, vfork and posix_spawn refused: EAGAIN reaches the caller, system and popen fail as glibc's" {
	same_as_bare "$FIX/faults" fork-refused
	[[ $output == *"refused fork+waitpid(pid) = -1 EAGAIN"* ]]
}

@test "thread creation refused from the start: every child still reaches its waits" {
	same_as_bare "$FIX/faults" threads-refused
	[[ $output == *"8 children collected"* ]]
}

@test "mmap and brk refused once running: children's statuses are kept" {
	not_sanitized "ASan's allocator aborts when mmap is refused"
	same_as_bare "$FIX/faults" mmap-refused
	[[ $output == *"statuses kept"* ]]
}

@test "every descriptor taken under a low RLIMIT_NOFILE: spawns and waits as bare" {
	same_as_bare "$FIX/faults" nofile
	[[ $output == *"descriptors exhausted: EMFILE"* ]]
}

@test "a storm of signals during every kind of wait: the same results, no EINTR under SA_RESTART" {
	not_under tsan "TSan's runtime delivers a signal at its next intercepted call and a storm of them coalesces: the bare run itself saw 63 signals and failed 'no storm'"
	same_as_bare "$FIX/faults" eintr-restart
	same_as_bare "$FIX/faults" eintr-norestart
}

@test "closing every descriptor, or dup2 over the shim's, with children alive: waits still end" {
	same_as_bare timeout -k 5 60 "$FIX/faults" close-all
	same_as_bare timeout -k 5 60 "$FIX/faults" dup2-over
	[[ $output == *"after 2 popen = child, exited 42"* ]]
}

# fork in a handler is not async-signal-safe once a process has threads
# (glibc's atfork lock): threaded and pidfd add threads, so only _Fork is
# tried there. The handler forks 500 times here, 4,096 in make check
# (tests/stress/faults.bats).
@test "a signal handler that forks while main forks and waits: every status right" {
	not_under tsan "TSan's runtime runs a thread of its own, so fork in a handler deadlocks as in threaded and pidfd"
	fork_in_handler_passes 250
}

@test "exit() while other threads block in waitpid, waitid and system: the process ends with its status" {
	local mode
	for mode in bare "${CW_MODES[@]}"; do
		if [[ $mode == bare ]]; then
			run -3 timeout -k 2 10 "$FIX/faults" exit-while-waiting
		else
			run -3 timeout -k 2 10 env CHILDWATCH_MODE="$mode" \
				LD_PRELOAD="$CW_PRELOAD" "$FIX/faults" exit-while-waiting
		fi
		[[ $output == "exiting with 3" ]] || false
	done
}

@test "a timer's handler that forks with _Fork, waits, sets SIGCHLD and kills, at any instruction: every status right, no hang" {
	not_under tsan "TSan's runtime is not async-signal-safe: with _Fork in a timer's handler one run hung and another lost a posix_spawn child to SIGSEGV"
	run -0 "$FIX/torture" 30
	passes_in_modes "off ${CW_MODES[*]}" timeout -k 5 60 "$FIX/torture" 30
}
