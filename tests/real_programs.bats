#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Real programs (bash, dash, GNU make, ninja, xargs, python3, perl, node,
# tclsh, and strace and gdb preloaded themselves) print the same and exit the
# same under every mode as they do bare; each test first pins the bare result
# so both runs cannot be equally broken.

load test_helper
bats_require_minimum_version 1.5.0

REAL=$BATS_TEST_DIRNAME/fixtures/real

# gcc 12's ASan runtime does not lock its allocator around fork: a child
# forked while another thread holds one of its allocator locks hangs at its
# first malloc. threaded mode starts a thread per child, which allocates as
# it starts, so bash forking its next job in that window hung in about one
# run of jobs.sh in eight; bash, make and python allocate in their children
# before exec. Against that build threaded mode is left to the C fixtures.
if [[ $CW_SANITIZER == asan ]]; then
	read -r -a CW_MODES <<<"${CW_MODES[*]/threaded/}"
fi

@test "bash background jobs give their own statuses to wait PID, wait -n and a late wait" {
	run -0 bash "$REAL/jobs.sh"
	output_is <<-'EOF'
	job 4: 4
	job 3: 3
	job 2: 2
	job 1: 1
	job 0: 0
	wait -n: 4 from the quick job
	gated job: 5
	already ended job: 6
	wait with no operands: 0
	EOF
	same_as_bare bash "$REAL/jobs.sh"
}

@test "bash PIPESTATUS and pipefail report every stage of false | true | (exit 3)" {
	run -0 bash "$REAL/pipestatus.sh"
	output_is <<-'EOF'
	PIPESTATUS: 1 0 3
	PIPESTATUS: 9 0 0
	1 2 3
	PIPESTATUS: 0 0 0
	pipefail: 3
	pipefail: 5
	pipefail: 0
	EOF
	same_as_bare bash "$REAL/pipestatus.sh"
}

@test "bash command substitutions in a loop of 50 keep their output and status" {
	run -0 bash "$REAL/cmdsubst.sh"
	output_is <<-'EOF'
	sum 1275, statuses 75
	nested: abc
	with a background job: bg status 3
	EOF
	same_as_bare bash "$REAL/cmdsubst.sh"
}

@test "bash with set -m runs the CHLD trap once per child that exits" {
	not_sanitized "bash's own CHLD trap count races when a runtime slows it: bare bash with ASan's runtime lost a trap in 1 run of 100 (run_pending_traps: bad value in trap_list[17])"
	run -0 bash "$REAL/chld_trap.sh"
	output_is <<-'EOF'
	after 5 background jobs and a foreground command: 6
	after a command substitution (hi): 7
	EOF
	same_as_bare bash "$REAL/chld_trap.sh"
}

@test "bash process substitutions deliver their data and their status to wait \$!" {
	run -0 bash "$REAL/procsubst.sh"
	output_is <<-'EOF'
	read a
	read b
	read c
	diff: 1
	one
	two
	<(...) via-fd: 4
	>(...) SHOUT: 2
	EOF
	same_as_bare bash "$REAL/procsubst.sh"
}

@test "a bash coprocess answers each line and wait gets its status after its input closes" {
	run -0 bash "$REAL/coproc.sh"
	output_is <<-'EOF'
	ONE
	TWO
	THREE
	coproc: 3
	EOF
	same_as_bare bash "$REAL/coproc.sh"
}

@test "bash job specs %1, %?string and kill %name reach their job and give its status" {
	not_under tsan "in pidfd, bash with TSan's runtime gives kill %sleep 0, 143 or 127 from run to run, and bash cannot run with TSan's runtime alone (it crashes), so there is no bare run to compare; not analysed further"
	run -0 bash "$REAL/jobspec.sh"
	output_is <<-'EOF'
	wait %1: 4
	wait %?exit: 6
	[1]+  Running                 ( read -r _ < "$dir/gate1"; exit 3 ) &
	wait %?gate1: 3
	wait %?gate2: 5
	kill %sleep: 143
	jobs left: 0
	EOF
	same_as_bare bash "$REAL/jobspec.sh"
}

@test "a bash script that ends waiting for its failed background job exits with that job's status" {
	run -5 bash "$REAL/last_bg_fail.sh"
	[[ $output == started ]] || false
	same_as_bare bash "$REAL/last_bg_fail.sh"
}

@test "dash background jobs, pipelines and command substitutions keep their statuses" {
	need dash
	run -0 dash "$REAL/dash.sh"
	output_is <<-'EOF'
	job b: 4
	job a: 3
	dash -c job: 5
	wait with no operands: 0
	false | true: 0
	true | false: 1
	! true | false: 0
	1 2 3
	command substitutions: 250
	inner: 7
	EOF
	same_as_bare dash "$REAL/dash.sh"
}

@test "make -j4 builds eight independent targets and then the one that needs them all" {
	need make
	run -0 bash "$REAL/make.sh" "$REAL/make/ok.mk" -j4
	output_is <<-'EOF'
	a.out: a
	all.out: a b c d e f g h
	b.out: b
	c.out: c
	d.out: d
	e.out: e
	f.out: f
	g.out: g
	h.out: h
	EOF
	same_as_bare bash "$REAL/make.sh" "$REAL/make/ok.mk" -j4
}

@test "make -j4 -k with one failing target makes the other eight and exits 2" {
	need make
	run -2 bash "$REAL/make.sh" "$REAL/make/fail.mk" -j4 -k
	output_is <<-'EOF'
	make: *** [Makefile:9: bad] Error 1
	make: Target 'all' not remade because of errors.
	a.out: a
	b.out: b
	c.out: c
	d.out: d
	e.out: e
	f.out: f
	g.out: g
	h.out: h
	EOF
	same_as_bare bash "$REAL/make.sh" "$REAL/make/fail.mk" -j4 -k
}

@test "make -j4 without -k stops at a failing target, skips what needs it and exits 2" {
	need make
	run -2 bash "$REAL/make.sh" "$REAL/make/stop.mk" -j4
	output_is <<-'EOF'
	make: *** [Makefile:13: bad] Error 1
	a.out: a
	b.out: b
	c.out: c
	EOF
	same_as_bare bash "$REAL/make.sh" "$REAL/make/stop.mk" -j4
}

@test "ninja -j4 stops at a failing edge, keeps the edges that ran and exits 1" {
	need ninja
	run -1 bash "$REAL/ninja.sh" "$REAL/ninja/fail.ninja" -j4
	output_is <<-'EOF'
	FAILED: bad.out
	ninja: build stopped: subcommand failed.
	until [ -s a.out ] && [ -s b.out ] && [ -s c.out ] && [ -s d.out ]; do sleep 0.01; done; exit 1
	a.out: a
	b.out: b
	c.out: c
	d.out: d
	EOF
	same_as_bare bash "$REAL/ninja.sh" "$REAL/ninja/fail.ninja" -j4
}

@test "ninja -j2 -k 0 reports both failing edges, builds every edge that needs neither and exits 1" {
	need ninja
	run -1 bash "$REAL/ninja.sh" "$REAL/ninja/keep.ninja" -j2 -k 0
	output_is <<-'EOF'
	FAILED: x.out
	FAILED: y.out
	exit 1
	exit 2
	ninja: build stopped: cannot make progress due to previous errors.
	after_pq.out: after_pq
	p.out: p
	q.out: q
	EOF
	same_as_bare bash "$REAL/ninja.sh" "$REAL/ninja/keep.ninja" -j2 -k 0
}

@test "xargs -P4 -n1 runs all 20 commands and exits 0 when each succeeds" {
	run -0 bash "$REAL/xargs.sh"
	output_is <<-'EOF'
	1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
	xargs: 0
	EOF
	same_as_bare bash "$REAL/xargs.sh"
}

@test "xargs -P4 -n1 runs all 20 commands and exits 123 when one of them fails" {
	run -123 bash "$REAL/xargs.sh" 13
	output_is <<-'EOF'
	1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
	xargs: 123
	EOF
	same_as_bare bash "$REAL/xargs.sh" 13
}

@test "python subprocess.run, Popen, communicate, os.system and os.popen report each child's status" {
	need python3
	run -0 python3 "$REAL/subprocess_basic.py"
	output_is <<-'EOF'
	run: 0 b'out\n' b'err\n'
	run check raised, returncode 4
	Popen exit 7: 7 7
	communicate: b'HELLO\nHELLO\nHELLO\n' 0
	check_output: b'x\n'
	call: 9
	os.system: 768 3
	from os.system
	os.system: 0
	os.popen read: from popen
	os.popen close: 1280
	os.popen close: None
	EOF
	same_as_bare python3 "$REAL/subprocess_basic.py"
}

@test "python Popen.wait(timeout) raises TimeoutExpired, then kill() gives -9 and terminate() -15" {
	need python3
	run -0 python3 "$REAL/subprocess_signals.py"
	output_is <<-'EOF'
	TimeoutExpired after 0.2 s, returncode None
	kill: -9
	poll while running: None
	terminate: -15
	run timeout raised
	EOF
	same_as_bare python3 "$REAL/subprocess_signals.py"
}

@test "python wait(timeout) and communicate(timeout) raise TimeoutExpired, then return the status once the child ends" {
	need python3
	run -0 python3 "$REAL/subprocess_timeout.py"
	output_is <<-'EOF'
	wait raised TimeoutExpired, returncode None
	wait after stdin closed: 6
	communicate raised TimeoutExpired, returncode None
	communicate: (b'started\ndone\n', b'') 7
	round 0 returncode 0
	round 1 returncode 1
	round 2 returncode 2
	EOF
	same_as_bare python3 "$REAL/subprocess_timeout.py"
}

@test "python waits 20 concurrent Popen children in reverse order and each keeps its status" {
	need python3
	run -0 python3 "$REAL/popen_many.py"
	output_is <<-'EOF'
	19 18 17 16 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0
	EOF
	same_as_bare python3 "$REAL/popen_many.py"
}

@test "python asyncio gathers 5 create_subprocess_exec children with their own returncodes" {
	need python3
	run -0 python3 "$REAL/asyncio_gather.py"
	output_is <<-'EOF'
	child 0 returncode 0
	child 1 returncode 1
	child 2 returncode 2
	child 3 returncode 3
	child 4 returncode 4
	EOF
	same_as_bare python3 "$REAL/asyncio_gather.py"
}

@test "python asyncio.run kills a subprocess that outlives its timeout and gets -9" {
	need python3
	run -0 python3 "$REAL/asyncio_timeout.py"
	output_is <<-'EOF'
	timed out, returncode None
	killed: -9
	quick: 3
	EOF
	same_as_bare python3 "$REAL/asyncio_timeout.py"
}

@test "perl system(), backticks, fork with waitpid and wait report each child's status" {
	need perl
	run -0 perl "$REAL/perl_basic.pl"
	output_is <<-'EOF'
	system: returned 768, $? >> 8 = 3
	system killed: signal 15
	from system
	backticks: from backticks, status 2
	backticks list: 3 lines
	waitpid: status 6, own pid yes
	waitpid: status 5, own pid yes
	waitpid: status 4, own pid yes
	wait: status 8, own pid yes
	wait with no children: -1
	EOF
	same_as_bare perl "$REAL/perl_basic.pl"
}

@test "perl system() keeps its status while a \$SIG{CHLD} reaper runs waitpid(-1, WNOHANG)" {
	need perl
	run -0 perl "$REAL/perl_sigchld.pl"
	output_is <<-'EOF'
	system 1: returned 768, $? >> 8 = 3
	system 2: returned 768, $? >> 8 = 3
	system 3: returned 768, $? >> 8 = 3
	system 4: returned 768, $? >> 8 = 3
	system 5: returned 768, $? >> 8 = 3
	reaper: 1 2 3
	reaper took only forked children: yes
	EOF
	same_as_bare perl "$REAL/perl_sigchld.pl"
}

@test "node spawnSync and spawned children report each child's exit code or signal in 'exit' and 'close'" {
	need node
	run -0 node "$REAL/node_children.js"
	output_is <<-'EOF'
	spawnSync exit 3: status 3 signal null stdout ""
	spawnSync echo: status 0 signal null stdout "out\n"
	spawnSync self TERM: status null signal SIGTERM stdout ""
	spawn exit 0: exit(0, null) close(0, null) stdout ""
	spawn exit 5: exit(5, null) close(5, null) stdout "five\n"
	spawn exit 42: exit(42, null) close(42, null) stdout ""
	spawn self KILL: exit(null, SIGKILL) close(null, SIGKILL) stdout ""
	spawn killed TERM: exit(null, SIGTERM) close(null, SIGTERM) stdout ""
	spawn killed INT: exit(null, SIGINT) close(null, SIGINT) stdout ""
	EOF
	same_as_bare node "$REAL/node_children.js"
}

@test "tclsh exec and close of an open |cmd pipe put each child's status in errorCode" {
	need tclsh
	run -0 tclsh "$REAL/tcl_exec.tcl"
	output_is <<-'EOF'
	exec: hello
	exec exit 3: CHILDSTATUS PID 3 (child process exited abnormally)
	exec killed: CHILDKILLED PID SIGTERM {software termination signal}
	exec with output: CHILDSTATUS PID 4 (out
	child process exited abnormally)
	exec pipeline: 1 2 3 
	exec failing pipeline stage: CHILDSTATUS PID 5
	open | read: from pipe
	close ok: 0 ()
	open | r+: got hello
	close exit 6: CHILDSTATUS PID 6
	close killed: CHILDKILLED PID SIGKILL {kill signal}
	exec &: 1 pid
	EOF
	same_as_bare tclsh "$REAL/tcl_exec.tcl"
}

@test "strace -f, itself preloaded, follows a shell's children and exits with the shell's status" {
	need_ptrace
	run -6 bash "$REAL/strace.sh" /bin/sh "$REAL/fork_wait.sh"
	output_is <<-EOF
	background: 3
	foreground: 4
	substitution: inner 5
	execve("/bin/sh", ["/bin/sh", SCRIPT], ADDR /* N vars */) = 0
	exit_group(3)                     = ?
	execve("/usr/bin/sh", ["sh", "-c", "exit 4"], ADDR /* N vars */) = 0
	exit_group(4)                     = ?
	exit_group(5)                     = ?
	exit_group(6)                     = ?
	EOF
	same_as_bare timeout -k 5 60 bash "$REAL/strace.sh" /bin/sh "$REAL/fork_wait.sh"
}

@test "gdb -batch, itself preloaded, runs a shell that forks and waits to its exit code" {
	not_sanitized "gdb with a sanitizer runtime preloaded hangs at its start in setlocale, without the shim as well"
	need gdb
	need_ptrace
	run -1 bash "$REAL/gdb.sh" /bin/sh -c 'exit 3'
	output_is <<-'EOF'
	inferior exited with code 03
	No stack.
	EOF
	same_as_bare timeout -k 5 60 bash "$REAL/gdb.sh" /bin/sh -c 'exit 3'
	run -1 bash "$REAL/gdb.sh" /bin/sh "$REAL/fork_wait.sh"
	output_is <<-'EOF'
	background: 3
	foreground: 4
	substitution: inner 5
	inferior exited with code 06
	No stack.
	EOF
	same_as_bare timeout -k 5 60 bash "$REAL/gdb.sh" /bin/sh "$REAL/fork_wait.sh"
}

@test "gdb -batch, itself preloaded, stops a shell at its SIGSEGV after a child and prints the backtrace" {
	not_sanitized "gdb with a sanitizer runtime preloaded hangs at its start in setlocale, without the shim as well"
	need gdb
	need_ptrace
	run -0 bash "$REAL/gdb.sh" /bin/sh -c 'sh -c "exit 2"; kill -SEGV $$'
	output_is <<-'EOF'
	received SIGSEGV
	backtrace: 11 frames, innermost kill
	EOF
	same_as_bare timeout -k 5 60 \
		bash "$REAL/gdb.sh" /bin/sh -c 'sh -c "exit 2"; kill -SEGV $$'
}
