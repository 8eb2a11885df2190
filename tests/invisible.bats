#!/usr/bin/env bats
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

# syscall_names LIBRARY MODE CMD...: the names of the system calls CMD
# makes with LIBRARY preloaded in CHILDWATCH_MODE=MODE, one a line, sorted.
syscall_names()
{
	local log=$BATS_TEST_TMPDIR/strace lib=$1 mode=$2
	shift 2
	strace -f -qq -o "$log" -E CHILDWATCH_MODE="$mode" -E LD_PRELOAD="$lib" "$@" ||
		return
	sed -n 's/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p' "$log" | sort
}

# lookups MODE CMD...: the libc functions the shim looked up in CMD, one a
# line: LD_DEBUG prints dlsym's bindings without a version.
lookups()
{
	local mode=$1
	shift
	env CHILDWATCH_MODE="$mode" LD_DEBUG=bindings LD_PRELOAD="$CW_PRELOAD" "$@" 2>&1 >/dev/null |
		sed -n "s/.*binding file [^ ]*libchildwatch.so .* normal symbol \`\([a-zA-Z_0-9]*\)'\$/\1/p"
}

# calls MODE CMD...: the libc functions the shim called in CMD, one a line:
# the loader binds each as it is first called, after the shim's constructor
# has begun (the data the shim reads, it binds before).
calls()
{
	local mode=$1
	shift
	env CHILDWATCH_MODE="$mode" LD_DEBUG=bindings LD_PRELOAD="$CW_PRELOAD" "$@" 2>&1 >/dev/null |
		sed -n "/calling init: .*libchildwatch.so/,\$ s/.*binding file [^ ]*libchildwatch.so .* normal symbol \`\([a-zA-Z_0-9]*\)' \[.*/\1/p"
}

# The floor is an empty preloaded library, built as anyone would build one:
# four segments, and RELRO's mprotect after relocation. The shim's code and
# read-only data are one segment and its writable state one page, without
# RELRO (Makefile): the loader maps it with two mmaps and the mprotect
# fewer, and a mapping of the shim's own, its .bss grown past that page for
# one, would show as a call the floor does not make.
@test "a program that creates no child, waits for none and installs no handler makes no system call it does not make under an empty preloaded library, the loader maps the shim with two mmaps and an mprotect fewer, and the shim looks up nothing" {
	not_sanitized "the runtime makes calls and lookups of its own"
	need_ptrace
	local mode floor extra fewer
	floor=$(syscall_names "$CW_BUILD/empty.so" off /bin/true)
	[[ $floor == *execve* ]] || { echo "no floor: $floor"; false; }
	for mode in off "${CW_MODES[@]}"; do
		run -0 syscall_names "$CW_PRELOAD" "$mode" /bin/true
		extra=$(comm -13 <(echo "$floor") <(echo "$output") | xargs)
		fewer=$(comm -23 <(echo "$floor") <(echo "$output") | xargs)
		[[ -z $extra && $fewer == "mmap mmap mprotect" ]] ||
			{ printf 'mode %s: more than the empty library: %s; fewer: %s\n' "$mode" "$extra" "$fewer"; false; }
		run -0 lookups "$mode" /bin/true
		[[ -z $output ]] || { echo "mode $mode looked up: $output"; false; }
		run -0 calls "$mode" /bin/true
		[[ -z $output ]] || { echo "mode $mode called: $output"; false; }
		# cat closes stdout at exit: fclose, which a popen() stream
		# would make the shim's, is looked up and nothing else.
		run -0 lookups "$mode" cat /dev/null
		[[ $output == fclose ]] || { echo "mode $mode, cat looked up: $output"; false; }
	done
}

# The loader writes the shim's GOT and .dynamic in every process, and the
# shim's state (CW_HOT) sits beside them: one page copied, as long as the
# writable segment fits in one (Makefile). Past it, every process pays a
# second copy, which no system call shows.
@test "the shim's writable segment, GOT and state together, lies on one page" {
	not_sanitized "instrumented globals and their redzones are larger"
	need readelf
	local rw vaddr memsz
	rw=$(readelf -lW "$CW_LIB" | awk '$1 == "LOAD" && $7 == "RW" { print $3, $6 }')
	[[ $rw == 0x* ]] || { echo "no writable segment: $rw"; false; }
	read -r vaddr memsz <<<"$rw"
	(((vaddr % 4096) + memsz <= 4096)) ||
		{ echo "writable segment at $vaddr, $memsz bytes: more than one page"; false; }
}

# Each page of code a process runs costs it: a fault where its page table
# does not map it yet (a forked child's maps none of a library's code), and
# on a host that shadows page tables, the hypervisor's mapping of it. The
# shim's start is beside its constructor, what a forked child runs before
# it execs (bash's resets SIGCHLD) beside fork's return, and what the
# parent runs to make and wait for a child right after (shim/layout.ld):
# scattered over the library's code, bash ran twelve pages.
@test "a program that never forks runs one page of the shim's code, a bash command's forked child two before it execs and bash itself seven, in every mode" {
	not_sanitized "the runtime's own code runs in the shim's"
	need valgrind
	need bash
	local mode
	for mode in off "${CW_MODES[@]}"; do
		run -0 python3 "$BATS_TEST_DIRNAME/fixtures/code_pages.py" "$CW_PRELOAD" "$mode" /bin/true
		[[ $output == 1 ]] || { echo "mode $mode: /bin/true ran $output pages"; false; }
		run -0 python3 "$BATS_TEST_DIRNAME/fixtures/code_pages.py" "$CW_PRELOAD" "$mode" bash -c '/bin/true; :'
		((${#lines[@]} == 2 && lines[0] <= 7 && lines[1] <= 2)) ||
			{ echo "mode $mode: bash and its child ran ${lines[*]} pages"; false; }
	done
}

# A shell that runs one command forks once: what system(), popen(), ninja
# and make's recipes start for every command. The shim starts in each such
# process and records its one child; its table's entries are taken one at a
# time from pages that read as zeros, so it writes a page of them, not the
# sixteen that threading them all into a free list wrote (19 faults over
# the floor).
@test "a shell that runs one command takes at most 10 page faults more under the shim than under an empty preloaded library, in every mode" {
	not_sanitized "the runtime's own pages are in the count"
	need dash
	local mode floor faults
	# The second command keeps a dash that would exec its last one from
	# skipping the fork.
	floor=$("$FIX/minflt" 9 "$CW_BUILD/empty.so" off "$(command -v dash)" -c '/bin/true; :')
	for mode in off "${CW_MODES[@]}"; do
		faults=$("$FIX/minflt" 9 "$CW_PRELOAD" "$mode" "$(command -v dash)" -c '/bin/true; :')
		((faults <= floor + 10)) ||
			{ echo "mode $mode: $faults page faults, empty library $floor"; false; }
	done
}

# The table, its first buckets and its first entries are one mapping, whose
# first page holds all that such a shell writes: three mappings, each with
# its own madvise, cost it four system calls and two faults more.
@test "a shell that runs one command maps memory once more than under off, in every mode" {
	not_sanitized "the runtime maps memory of its own"
	need dash
	need_ptrace
	local mode log=$BATS_TEST_TMPDIR/strace off calls
	maps() {
		strace -qq -f -c -o "$log" -e trace=mmap,madvise \
			env CHILDWATCH_MODE="$1" LD_PRELOAD="$CW_PRELOAD" \
			dash -c '/bin/true; :' >/dev/null
		awk '$NF == "mmap" || $NF == "madvise" { n += $4 } END { print n + 0 }' "$log"
	}
	off=$(maps off)
	for mode in "${CW_MODES[@]}"; do
		calls=$(maps "$mode")
		((calls <= off + 2)) ||
			{ echo "mode $mode: $calls mmap and madvise, off $off"; false; }
	done
}

# perl registers fork handlers, and so libc runs the shim's in its forks:
# the child restores the mask the prepare handler blocked (one change more
# than off) and records nothing, for its table is empty and the creation
# was counted in the parent's. Recording there took the table's lock, two
# mask changes and a page, and left the child's count of creations at -1.
@test "a forked child of a program with fork handlers (perl's system) changes the signal mask once more than under off before it execs, in every mode" {
	not_sanitized "the runtime makes calls of its own"
	need perl
	need_ptrace
	local mode log=$BATS_TEST_TMPDIR/strace off masks
	masks() {
		strace -qq -f -o "$log" -e trace=rt_sigprocmask,execve \
			env CHILDWATCH_MODE="$1" LD_PRELOAD="$CW_PRELOAD" \
			perl -e 'system("/bin/true") == 0 or die for 1 .. 5'
		# Each child's changes before it runs /bin/true, the most of any.
		awk '$2 ~ /^rt_sigprocmask\(/ { n[$1]++ }
		     $2 ~ /^execve\("\/bin\/true"/ { if (n[$1] + 0 > most) most = n[$1]; seen++ }
		     END { print (seen == 5 ? most + 0 : "children " seen + 0) }' "$log"
	}
	off=$(masks off)
	[[ $off =~ ^[0-9]+$ ]] || { echo "off: $off"; false; }
	for mode in "${CW_MODES[@]}"; do
		masks=$(masks "$mode")
		((masks <= off + 1)) ||
			{ echo "mode $mode: a child changed the mask $masks times before exec, off $off"; false; }
	done
}

# bash's child resets SIGCHLD before its exec, asking for the old
# disposition: in pidfd and threaded the kernel holds it as the program
# gave it, so one rt_sigaction installs the new and returns the old. The
# shim's start reads the disposition once more.
@test "a bash command's rt_sigaction calls on SIGCHLD are off's and one, in pidfd and threaded" {
	not_sanitized "the runtime installs handlers of its own"
	need_ptrace
	local mode log=$BATS_TEST_TMPDIR/strace off calls
	sigchld_actions() {
		strace -qq -f -o "$log" -e trace=rt_sigaction \
			env CHILDWATCH_MODE="$1" LD_PRELOAD="$CW_PRELOAD" \
			bash -c '/bin/true; :'
		grep -c 'rt_sigaction(SIGCHLD' "$log"
	}
	off=$(sigchld_actions off)
	for mode in pidfd threaded; do
		calls=$(sigchld_actions "$mode")
		((calls <= off + 1)) ||
			{ echo "mode $mode: $calls rt_sigaction on SIGCHLD, off $off"; false; }
	done
}

# After fork every page is shared, and the first write to one copies it.
# bash's children reset SIGCHLD with sigaction before they exec, libuv's with
# signal: where the kernel holds the program's disposition as the program
# gave it (off, pidfd, threaded), the child changes the kernel's alone and
# copies no page of the shim's. Writing the shim's record of it copied one
# in every child. safe and fast stand their relay in for every disposition:
# the record is all there is of the program's, and is written.
@test "a forked child that resets SIGCHLD before it execs copies no page of the shim's, in off, pidfd and threaded" {
	not_sanitized "the runtime writes pages of its own"
	local mode how
	for how in sigaction signal; do
		for mode in off pidfd threaded; do
			run -0 --separate-stderr bounded env CHILDWATCH_MODE="$mode" LD_PRELOAD="$CW_PRELOAD" \
				"$FIX/child_pages" "$how"
			[[ $output == 0 ]] || { echo "mode $mode, $how: the child copied $output pages of the shim's"; false; }
		done
	done
}

# A bash command, in pidfd and threaded: fork records its child under the
# mask fork set (2 changes, and the child restores it: 1), the wait peeks
# before it takes the lock (2, the peek and the reap for bare's two waits),
# the SIGCHLD handler's waitpid(-1, WNOHANG) answers ECHILD from the table's
# counts (none), and the child's reset of SIGCHLD is the kernel's alone
# (none): 5 calls more than under off. Writing the shim's record of that
# reset, with its lock and the checks that the memory was the child's own,
# made it 10; looking at the table before the peek, and asking the kernel
# again in the handler, 15.
@test "a bash command makes at most 6 waits, mask changes and pid lookups more than under off, in pidfd and threaded" {
	not_sanitized "the runtime makes calls of its own"
	need_ptrace
	local mode log=$BATS_TEST_TMPDIR/strace off extra
	yes /bin/true | head -n 10 >"$BATS_TEST_TMPDIR/10"
	yes /bin/true | head -n 20 >"$BATS_TEST_TMPDIR/20"
	calls() {
		strace -qq -f -c -o "$log" \
			-e trace=rt_sigprocmask,waitid,wait4,getpid,getppid,kcmp,gettid \
			env CHILDWATCH_MODE="$1" LD_PRELOAD="$CW_PRELOAD" \
			bash "$BATS_TEST_TMPDIR/$2"
		awk '$NF ~ /^(rt_sigprocmask|waitid|wait4|getpid|getppid|kcmp|gettid)$/ { n += $4 } END { print n + 0 }' "$log"
	}
	# Per command: twenty less ten, so that the start is left out.
	per_command() { echo $((($(calls "$1" 20) - $(calls "$1" 10)) / 10)); }
	off=$(per_command off)
	for mode in pidfd threaded; do
		extra=$(($(per_command "$mode") - off))
		((extra <= 6)) ||
			{ echo "mode $mode: $extra calls a command more than off ($off)"; false; }
	done
}

# libuv, python's poll() and perl's waitpid($pid, WNOHANG) ask for one child
# without blocking: one lock, the kernel asked under it. Unlocking around
# that wait, as around one that blocks, made it four changes a poll.
@test "a waitpid(pid, WNOHANG) on a running child changes the signal mask at most twice, in every mode" {
	not_sanitized "the runtime makes calls of its own"
	need perl
	need_ptrace
	local mode log=$BATS_TEST_TMPDIR/strace per_poll
	cat >"$BATS_TEST_TMPDIR/poll.pl" <<'PERL'
use POSIX ":sys_wait_h";
my $polls = shift;
my $pid = fork // die "fork: $!";
if (!$pid) { sleep 60; exit 0 }
for (1 .. $polls) { waitpid($pid, WNOHANG) == 0 or die "poll $_: not 0" }
kill 'TERM', $pid;
waitpid($pid, 0) == $pid or die "wait: $!";
PERL
	masks() {
		strace -qq -c -o "$log" -e trace=rt_sigprocmask \
			env CHILDWATCH_MODE="$1" LD_PRELOAD="$CW_PRELOAD" \
			perl "$BATS_TEST_TMPDIR/poll.pl" "$2"
		awk '$NF == "rt_sigprocmask" { print $4 }' "$log"
	}
	for mode in "${CW_MODES[@]}"; do
		# Thirty polls less ten, so that the rest is left out.
		per_poll=$((($(masks "$mode" 30) - $(masks "$mode" 10)) / 20))
		((per_poll <= 2)) ||
			{ echo "mode $mode: $per_poll mask changes a poll"; false; }
	done
}

# posix_spawn needs SIGCHLD's lock only while the program ignores SIGCHLD
# (the new image must inherit SIG_IGN): per spawn and wait, the program's
# thread blocks signals to record the child and twice for the wait, and
# libc's posix_spawn twice more (8); the lock and getpid on every spawn made
# it 10 and one getpid a child.
@test "posix_spawn and waitpid(pid) in a program that does not ignore SIGCHLD ask no getpid and change the signal mask at most 8 times a child, in every mode" {
	not_sanitized "the runtime makes calls of its own"
	need_ptrace
	local mode log=$BATS_TEST_TMPDIR/strace getpids masks
	for mode in "${CW_MODES[@]}"; do
		strace -qq -c -o "$log" -e trace=getpid,rt_sigprocmask \
			env CHILDWATCH_MODE="$mode" LD_PRELOAD="$CW_PRELOAD" \
			"$FIX/minflt" 20 libc.so.6 off true >/dev/null
		getpids=$(awk '$NF == "getpid" { print $4 }' "$log")
		masks=$(awk '$NF == "rt_sigprocmask" { print $4 }' "$log")
		((${getpids:-0} <= 5 && ${masks:-0} <= 20 * 8 + 5)) ||
			{ echo "mode $mode: getpid ${getpids:-0}, rt_sigprocmask ${masks:-0} for 20 children"; false; }
	done
}

@test "a handler installed by a program that never forks finds every libc function the shim calls looked up, and the shim started, before it runs" {
	not_sanitized "the runtime makes calls and lookups of its own"
	need_ptrace
	local mode how
	for mode in off "${CW_MODES[@]}"; do
		for how in sigaction signal bsd_signal sysv_signal sigset; do
			run -0 lookups "$mode" "$FIX/handler_waits" "$how"
			[[ $output == *waitpid* ]] ||
				{ echo "mode $mode, $how: waitpid never looked up"; false; }
			run -0 --separate-stderr env CHILDWATCH_MODE="$mode" LD_DEBUG=bindings \
				LD_PRELOAD="$CW_PRELOAD" "$FIX/handler_waits" "$how"
			[[ $stderr == *"normal symbol \`waitpid'"*raising* ]] ||
				{ echo "mode $mode, $how: waitpid looked up in the handler"; false; }
			[[ $mode == off ]] && continue
			# The start's first system call: whether children were
			# inherited across exec.
			run -0 --separate-stderr strace -e trace=waitid,write -qq \
				env CHILDWATCH_MODE="$mode" LD_PRELOAD="$CW_PRELOAD" \
				"$FIX/handler_waits" "$how"
			[[ $stderr == *WNOWAIT*raising* ]] ||
				{ echo "mode $mode, $how: the shim started in the handler: $stderr"; false; }
		done
	done
}

# The table's first buckets are found from its address, which a forked
# child shares with its parent; past 64 children the table moves to its own.
@test "a forked child starts with none of its parent's children in the shim's table, and gets each of its own to its waits when both have more than the first buckets hold" {
	run -0 "$FIX/fork_forgets"
	passes_in_every_mode "$FIX/fork_forgets"
}

@test "forks the shim's fork() does not make (the program's fork handler, daemon(), forkpty()) find its locks free in the child, and fast's adopting such a child leaves its status to its waiter, and no other child's to a wait for a stranger" {
	local how
	for how in atfork daemon forkpty stranger; do
		run -0 "$FIX/unseen_forks" "$how"
		passes_in_modes "off ${CW_MODES[*]}" "$FIX/unseen_forks" "$how"
	done
}

@test "a default SIGCHLD interrupts no system call in pidfd and threaded modes" {
	run -0 "$FIX/dfl_no_eintr" all
	passes_in_modes "threaded pidfd" "$FIX/dfl_no_eintr" all
}

@test "a default SIGCHLD interrupts no restartable system call in safe and fast modes" {
	passes_in_modes "safe fast" "$FIX/dfl_no_eintr"
}

@test "once a SA_RESETHAND handler without SA_RESTART has run, SIGCHLD is default and interrupts no read, in every mode" {
	run -0 "$FIX/dfl_no_eintr" reset
	passes_in_every_mode "$FIX/dfl_no_eintr" reset
}

# The shim's own handler stands in for SIG_IGN in the kernel while the
# program ignores SIGCHLD (README, guarantee 4): the kernel's view is read
# in an image exec'd without the shim.
@test "SIGCHLD ignored before exec stays ignored after it, for sigaction and for the kernel in every image exec'd" {
	command -v perl >/dev/null || skip "perl is not installed"
	command -v python3 >/dev/null || skip "python3 is not installed"
	local show='import os, signal, sys
print(signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN, flush=True)
os.execv("/usr/bin/env", ["env", "-u", "LD_PRELOAD", sys.executable, "-c",
	"print(int(open(\"/proc/self/status\").read().split(\"SigIgn:\")[1].split()[0], 16) >> 16 & 1)"])'
	run -0 perl -e '$SIG{CHLD} = "IGNORE"; exec "python3", "-c", $ARGV[0]' "$show"
	[[ $output == $'True\n1' ]] || false
	same_as_bare perl -e '$SIG{CHLD} = "IGNORE"; exec "python3", "-c", $ARGV[0]' "$show"
}

@test "an exec'd child inherits the environment unchanged, the shim's variables included" {
	local mode
	for mode in "${CW_MODES[@]}"; do
		CHILDWATCH_TRACE=$BATS_TEST_TMPDIR/t under "$mode" dash -c \
			'env | sort >"$1"; dash -c "env | sort" >"$2"' _ \
			"$BATS_TEST_TMPDIR/parent" "$BATS_TEST_TMPDIR/child"
		run -0 diff "$BATS_TEST_TMPDIR/parent" "$BATS_TEST_TMPDIR/child"
		grep -q "^CHILDWATCH_MODE=$mode\$" "$BATS_TEST_TMPDIR/child"
		grep -q "^CHILDWATCH_TRACE=$BATS_TEST_TMPDIR/t\$" "$BATS_TEST_TMPDIR/child"
		grep -qxF "LD_PRELOAD=$CW_PRELOAD" "$BATS_TEST_TMPDIR/child"
	done
}
