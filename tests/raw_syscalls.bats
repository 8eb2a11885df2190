#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Waits made with syscall(2) itself (GLib, tokio) and pidfds are mediated
# like libc's wrappers.

load test_helper
bats_require_minimum_version 1.5.0

@test "a thread reaping with syscall(SYS_wait4, -1) cannot take system()'s children" {
	loses_bare "$FIX/raw_syscalls" steal
	passes_in_every_mode "$FIX/raw_syscalls" steal
}

@test "syscall(SYS_wait4) and syscall(SYS_waitid) get statuses and CPU usage that fast mode collected first" {
	run -0 "$FIX/raw_syscalls" held
	passes_in_every_mode "$FIX/raw_syscalls" held
}

@test "waitid(P_PIDFD) on a pidfd from syscall(SYS_pidfd_open) or pidfd_open() gets the status in every mode" {
	run -0 "$FIX/raw_syscalls" pidfd
	passes_in_every_mode "$FIX/raw_syscalls" pidfd
}

@test "a process copied by syscall(SYS_fork), SYS_clone, SYS_clone3 or a fork made by hand forks and waits for its own children, none of its parent's" {
	run -0 "$FIX/raw_syscalls" copied
	passes_in_every_mode "$FIX/raw_syscalls" copied
}
