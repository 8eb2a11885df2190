#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Owners win: the caller that created a child, or waits for it by pid, gets
# its status ahead of any waitpid(-1) elsewhere in the process.

load test_helper
bats_require_minimum_version 1.5.0

@test "system() keeps its child's status while another thread reaps with waitpid(-1)" {
	loses_bare "$FIX/steal_system"
	passes_in_every_mode "$FIX/steal_system"
}

@test "pclose() keeps its child's status while another thread reaps with waitpid(-1)" {
	loses_bare "$FIX/steal_popen"
	passes_in_every_mode "$FIX/steal_popen"
}

@test "waitpid(pid) gets its child even after a SIGCHLD handler reaped with waitpid(-1, WNOHANG)" {
	# TSan's runtime runs the handler at its next intercepted call, not
	# at the signal: bare then lost nothing in one check-tsan run of two.
	[[ $CW_SANITIZER == tsan ]] || loses_bare "$FIX/deferred_handler"
	passes_in_every_mode "$FIX/deferred_handler"
}

@test "a blocked waitpid(pid) wins its child over a blocked waitpid(-1), which gets the next child" {
	passes_in_every_mode "$FIX/precedence"
}

@test "system() ignores SIGINT and SIGQUIT and blocks SIGCHLD while it waits, as POSIX requires" {
	run -0 "$FIX/system_signals"
	passes_in_every_mode "$FIX/system_signals"
}

@test "fclose() of a popen() stream waits for its child and returns the status, as glibc's does" {
	run -0 "$FIX/popen_fclose"
	passes_in_every_mode "$FIX/popen_fclose"
}

@test "a library's waitpid(pid) still gets its child's status after another component's SIGCHLD handler reaped it by si_pid" {
	not_sanitized "the sanitizer's wait interceptors are the call site the shim sees, so both components look like its runtime"
	loses_bare "$FIX/pid_thief"
	passes_in_every_mode "$FIX/pid_thief"
}

@test "a runtime that peeks with waitid(P_ALL, WNOWAIT) and reaps only its own pids sees what the kernel shows beside a waitpid(-1) reaper, and still gets its child's status" {
	loses_bare "$FIX/peeker"
	passes_in_every_mode "$FIX/peeker"
}
