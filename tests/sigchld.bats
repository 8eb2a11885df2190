#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# SIGCHLD keeps the kernel's semantics under the shim: each fixture passes
# bare, and must pass the same way in every mediating mode.

load test_helper
bats_require_minimum_version 1.5.0

@test "an SA_SIGINFO SIGCHLD handler sees the kernel's siginfo and can reap the child inside the handler" {
	run -0 "$FIX/sigchld_info"
	passes_in_every_mode "$FIX/sigchld_info"
}

@test "SA_NOCLDSTOP, SA_RESETHAND, SA_NODEFER and sa_mask act on SIGCHLD as the kernel defines them" {
	not_under tsan "TSan's sigaction stores the program's handler and installs its own, with a full sa_mask and no SA_RESETHAND, and runs the program's at its next intercepted call: the fixture fails without the shim too"
	run -0 "$FIX/sigchld_flags"
	passes_in_every_mode "$FIX/sigchld_flags"
}

@test "sigaction and signal read back the SIGCHLD disposition, flags and mask the program installed" {
	not_under tsan "TSan's sigaction stores the program's handler and installs its own, with a full sa_mask and no SA_RESETHAND, and runs the program's at its next intercepted call: the fixture fails without the shim too"
	run -0 "$FIX/sigaction_query"
	passes_in_every_mode "$FIX/sigaction_query"
}

@test "with SIGCHLD ignored or SA_NOCLDWAIT waitpid(-1) blocks until the last child exits and leaves no zombie" {
	run -0 "$FIX/sigign"
	passes_in_every_mode "$FIX/sigign"
}

@test "a blocked SIGCHLD taken by sigwaitinfo, sigtimedwait, signalfd or sigsuspend names a child still waitable" {
	run -0 "$FIX/sigwait"
	passes_in_every_mode "$FIX/sigwait"
}

@test "a vfork child that sets SIGCHLD before it exits leaves the parent's handler installed and running" {
	run -0 "$FIX/vfork_sigaction"
	passes_in_every_mode "$FIX/vfork_sigaction"
}

@test "the same in a forked child that never touched SIGCHLD before it vforked" {
	run -0 "$FIX/vfork_sigaction" forked
	passes_in_every_mode "$FIX/vfork_sigaction" forked
}

@test "a forked child changes SIGCHLD from its parent's handler as bare: each change returns the one before, its handler runs, ignoring reaps" {
	run -0 "$FIX/forked_sigaction"
	passes_in_every_mode "$FIX/forked_sigaction"
}

@test "the same from a parent that ignored SIGCHLD when it forked: the child's SIG_DFL makes its children waitable again" {
	run -0 "$FIX/forked_sigaction" ignored
	passes_in_every_mode "$FIX/forked_sigaction" ignored
}

@test "a forked child that resets its signals with signal() and its kin, as libuv's does before exec, makes the shim look up no function" {
	local mode names
	# dlsym takes the loader's lock and may allocate: no async-signal-safe
	# interposer may call it after the shim's start. Nor may the child be
	# the first to call sigemptyset or sigaddset: binding either looks
	# through every library of the program. The loader's bindings log names
	# each lookup, and what made it.
	run -0 "$FIX/signal_reset"
	names=$(nm -D --defined-only "$CW_LIB" | awk '$3 !~ /^cw_/ { print $3 }' | paste -sd'|')
	names+="|sigemptyset|sigaddset"
	for mode in off "${CW_MODES[@]}"; do
		rm -f "$BATS_TEST_TMPDIR"/ld.*
		run -0 --separate-stderr bounded env CHILDWATCH_MODE="$mode" LD_PRELOAD="$CW_PRELOAD" \
			LD_DEBUG=bindings LD_DEBUG_OUTPUT="$BATS_TEST_TMPDIR/ld" "$FIX/signal_reset"
		run -1 grep -hoE "(^|[[:space:]])$output:[[:space:]]+binding file [^ ]*libchildwatch[^ ]* .*symbol \`($names)'" "$BATS_TEST_TMPDIR"/ld.*
	done
}
