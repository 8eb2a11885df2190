#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The public watcher API (childwatch.h) under each mode, after CPython's
# child-watcher tests, with real children: build/fixtures/api CASE.

load test_helper
bats_require_minimum_version 1.5.0

@test "a watcher calls the handler once with the child's pid, exit code and argument" {
	passes_in_every_mode "$FIX/api" sigchld
}

@test "a child killed by a signal gives the handler minus the signal number" {
	passes_in_every_mode "$FIX/api" signal
}

@test "two children exiting at different times each get their own handler once" {
	passes_in_every_mode "$FIX/api" two_children
}

@test "two children released at the same moment both get their handlers" {
	passes_in_every_mode "$FIX/api" together
}

@test "a child that is already a zombie when its handler is added still gets it once" {
	passes_in_every_mode "$FIX/api" race
}

@test "a second handler for the same pid replaces the first" {
	passes_in_every_mode "$FIX/api" replace
}

@test "a removed handler never runs and removing twice or an unknown pid returns 0" {
	passes_in_every_mode "$FIX/api" remove
}

@test "a child reaped past the shim is refused with ECHILD, or gets one callback with its code or 255, never a hang" {
	not_under tsan "the sanitizer's fork interceptor is the call site the shim sees for fork and the fixture's for its wait, so the fixture's wait looks like another component's and its status is kept for the creator (a callback, not ECHILD; seen in safe)"
	passes_in_every_mode "$FIX/api" unknown_status
}

@test "cw_close stops callbacks, leaves no thread or fd behind, gives the child back and refuses new handlers with EBADF" {
	not_under tsan "TSan's runtime starts a thread of its own, which the fixture counts"
	passes_in_every_mode "$FIX/api" close
}

@test "200 watchers each closed just after a reap woke its dispatcher all close, and no removed handler runs" {
	passes_in_every_mode "$FIX/api" close_race
}

@test "with a loop attached callbacks wait for cw_loop_dispatch in its thread, follow a re-attach, and go to the watcher's thread when detached" {
	passes_in_every_mode "$FIX/api" loop
}

@test "200 children each get exactly one callback while another thread loops on waitpid(-1)" {
	passes_in_every_mode "$FIX/api" stealer
}

@test "cw_get_child_watcher returns one watcher until cw_set_child_watcher replaces it" {
	passes_in_every_mode "$FIX/api" current
}

@test "cw_watcher_new refuses a bogus mode or another mode than the process's with EINVAL, and NULL arguments are refused" {
	passes_in_every_mode "$FIX/api" badmode
}

@test "a program linked with -lchildwatch and not preloaded gets its callback in the default mode" {
	run -0 "$FIX/api" sigchld
}

@test "a child forked while a dispatcher runs gets callbacks for its own children through the inherited watcher, and closes it" {
	not_sanitized "under ASan's runtime safe gave no callback in the forked child within the fixture's 3 s; not analysed"
	passes_in_every_mode "$FIX/api" forked
}
