#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The wait family keeps the kernel's semantics under the shim: each fixture
# passes bare, and must pass the same way in every mediating mode.

load test_helper
bats_require_minimum_version 1.5.0

@test "WNOHANG gives 0 for a live child, then its pid, then ECHILD, and waitpid(-1) with no child fails at once" {
	run -0 "$FIX/wnohang"
	passes_in_every_mode "$FIX/wnohang"
}

@test "stops and continues are reported by waitpid and waitid only when asked for" {
	run -0 "$FIX/stopcont"
	passes_in_every_mode "$FIX/stopcont"
}

@test "waitid with WNOWAIT reports the same exit twice and leaves it for the next wait" {
	run -0 "$FIX/wnowait"
	passes_in_every_mode "$FIX/wnowait"
}

@test "waitpid(-pgid), waitpid(0) and waitid(P_PGID) select children by process group" {
	run -0 "$FIX/pgid"
	passes_in_every_mode "$FIX/pgid"
}

@test "waitid by P_ALL, P_PID and P_PIDFD fills every siginfo field for exits and kills" {
	run -0 "$FIX/waitid_kinds"
	passes_in_every_mode "$FIX/waitid_kinds"
}

@test "wait4 and wait3 return the child's CPU usage, charged to RUSAGE_CHILDREN only once waited for" {
	run -0 "$FIX/rusage"
	passes_in_every_mode "$FIX/rusage"
}

@test "the wait family fails with the kernel's exact EINVAL and ECHILD, without blocking" {
	run -0 "$FIX/errors"
	passes_in_every_mode "$FIX/errors"
}

@test "a blocking waitpid fails EINTR for a handler without SA_RESTART and restarts for one with it" {
	not_under tsan "TSan runs a handler at its next intercepted call, not inside the wait: the fixture fails without the shim too"
	run -0 "$FIX/eintr"
	passes_in_every_mode "$FIX/eintr"
}

@test "a wait for any child takes the calling thread's children first, then the other threads' in the order the threads were created, as Linux does" {
	same_as_bare "$FIX/thread_order"
}
