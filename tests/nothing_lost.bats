#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Nothing lost, nothing doubled: every child's status reaches the one caller
# that waits for it, exactly once, whoever else reaps with waitpid(-1).

load test_helper
bats_require_minimum_version 1.5.0

@test "fork, vfork, posix_spawn, posix_spawnp, system and popen each return their child's status once" {
	run -0 "$FIX/spawn_kinds"
	passes_in_every_mode "$FIX/spawn_kinds"
}

@test "spawner threads lose no status and leave no zombie while a hostile thread reaps with waitpid(-1)" {
	# 500 children race the hostile thread hundreds of times (bare
	# loses about four in ten); make check runs 10,000
	# (tests/stress/hammer.bats).
	loses_bare "$FIX/hammer" 500
	passes_in_every_mode "$FIX/hammer" 500
}

@test "a late waitpid(pid) gets a status that waitpid(-1) already consumed, and only once" {
	loses_bare "$FIX/late_waiter"
	passes_in_every_mode "$FIX/late_waiter"
}

@test "a single reaper thread blocking in waitpid(-1) still collects every child" {
	run -0 "$FIX/central_reaper"
	passes_in_every_mode "$FIX/central_reaper"
}

@test "waitpid(pid) keeps its child while another component polls waitpid(-1, WNOHANG)" {
	loses_bare "$FIX/two_components"
	passes_in_every_mode "$FIX/two_components"
}

@test "children alive or unwaited across exec are still waited for by the new image" {
	run -0 "$FIX/exec_children"
	passes_in_every_mode "$FIX/exec_children"
}

@test "waitpid(-1, WNOHANG) says 0, not ECHILD, while another thread is inside posix_spawn" {
	run -0 "$FIX/creating"
	passes_in_every_mode "$FIX/creating"
}
