# SPDX-License-Identifier: MIT
# The shim leaves no trace the program could see: errno, file descriptors,
# signal masks, zombies, nested processes and output stay as without it.

load test_helper
bats_require_minimum_version 1.5.0

@test "successful fork, wait, posix_spawn, system, popen, pclose and sigaction leave errno alone" {
	run -0 "$FIX/errno_kept"
	passes_in_every_mode "$FIX/errno_kept"
}

@test "twenty live children take no low fd from the program and every fd it did not open is close-on-exec" {
	run -0 "$FIX/fds"
	passes_in_every_mode "$FIX/fds"
}

@test "threads the program did not create block SIGCHLD, SIGINT, SIGTERM, SIGUSR1 and SIGALRM" {
	run -0 "$FIX/threads_blocked"
	passes_in_every_mode "$FIX/threads_blocked"
}

@test "an exited child stays a zombie holding its pid until the program waits for it" {
	run -0 "$FIX/zombie_kept"
	passes_in_every_mode "$FIX/zombie_kept"
}

@test "fork, system and popen work in the program, in a forked child and in a re-executed child" {
	run -0 "$FIX/nested"
	passes_in_every_mode "$FIX/nested"
}

@test "vfork and posix_spawn children give their statuses and a failed spawn leaves no child behind" {
	run -0 "$FIX/vfork_spawn"
	passes_in_every_mode "$FIX/vfork_spawn"
}

@test "the shim prints nothing on stdout or stderr of a program that prints nothing" {
	local mode
	for mode in "${CW_MODES[@]}"; do
		run -0 --separate-stderr under "$mode" /bin/true
		[[ -z $output && -z $stderr ]] ||
			{ echo "mode $mode: stdout '$output' stderr '$stderr'"; false; }
		run -0 --separate-stderr under "$mode" /bin/sh -c '/bin/true | /bin/true'
		[[ -z $output && -z $stderr ]] ||
			{ echo "mode $mode, sh: stdout '$output' stderr '$stderr'"; false; }
	done
}

@test "a forked child starts with none of its parent's children in the shim's table" {
	run -0 "$FIX/fork_forgets"
	passes_in_every_mode "$FIX/fork_forgets"
}

@test "a default SIGCHLD interrupts no system call in pidfd and threaded modes" {
	run -0 "$FIX/dfl_no_eintr" all
	passes_in_modes "threaded pidfd" "$FIX/dfl_no_eintr" all
}

@test "a default SIGCHLD interrupts no restartable system call in safe and fast modes" {
	passes_in_modes "safe fast" "$FIX/dfl_no_eintr"
}
