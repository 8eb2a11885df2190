#!/bin/bash
# SPDX-License-Identifier: MIT
# valgrind.sh BUILD [REGEX]: every C fixture of BUILD (BUILD/fixtures), or
# those whose line below REGEX matches, under
# valgrind's memcheck, bare and with BUILD/libchildwatch.so preloaded in
# each mode, with the arguments and in the modes the bats suite uses.
# make check-valgrind runs it on the plain build.
#
# A run fails when memcheck finds an error in any process: the fixture, the
# children it forks (valgrind follows fork) and the fixtures it re-executes
# (traced too). Leaks are listed in the logs but fail nothing: a forked
# child that leaves (exit, _exit, a signal) holds its parent's heap while
# the pointers to it were in the parent's registers and frames, so memcheck
# calls "definitely lost" blocks the child never owned (the api fixture's
# watcher, 72 bytes, in every forked child); and valgrind's error status in
# a child would change the status the fixture checks. System programs the fixtures exec (sh from
# system() and popen(), /bin/true) run natively, with the shim preloaded.
# A fixture's own verdict is checked too, so a run that memcheck slowed past
# what the fixture tolerates shows as such, not as a memory error.
set -u
build=$(cd "${1:?usage: valgrind.sh BUILD [REGEX]}" && pwd)
only=${2:-}
logs=$build/valgrind
modes_all="bare safe fast threaded pidfd"

# NAME [ARGS...] | MODES | VALGRIND: how the suite runs each fixture. MODES
# defaults to every mode, bare included. VALGRIND, when set, is a pattern
# for the one line of stderr a fixture may fail with (status 1 or 2)
# because valgrind itself, not the shim, breaks what it checks:
# - sigchld_flags: in an SA_NODEFER handler, valgrind blocks the signal
#   and not sa_mask; bare gives the same line.
# - system_signals: the shell reads its parent's mask from /proc, and a
#   thread waiting for valgrind's lock shows valgrind's own mask
#   (0xffffffffbffbfa27), which dash cannot parse: exit 2, not 10 or 11.
# - vfork_spawn: valgrind runs vfork as fork, so posix_spawn's child
#   cannot report a failed exec; bare gives the same line.
# - waitid_kinds: valgrind 3.19 does not know pidfd_open (ENOSYS), bare
#   too; P_PIDFD is left to the bats suite. For the same reason pidfd mode
#   watches each child with a thread of its own there, which api close's
#   count of pidfd's one thread does not allow: it runs in the other modes.
# Children counts are smaller than the suite's: memcheck runs one thread
# at a time, some 20 to 50 times slower. The fixtures' watchdogs allow
# five times their plain bound (CW_SLOWDOWN, fixture.h).
fixture_runs()
{
	local c
	for c in sigchld signal two_children together race replace remove \
		unknown_status loop "stealer 24" current badmode close_race; do
		echo "api $c|safe fast threaded pidfd"
	done
	echo "api close|safe fast threaded"
	cat <<-'EOF'
	census 20|safe fast threaded pidfd off
	central_reaper|
	child_pages sigaction|safe fast threaded pidfd
	child_pages signal|safe fast threaded pidfd
	deferred_handler|safe fast threaded pidfd
	dfl_no_eintr all|bare threaded pidfd
	dfl_no_eintr|safe fast
	dfl_no_eintr reset|
	eintr|
	errno_kept|
	errors|
	exec_children|safe fast threaded pidfd
	faults eintr-restart|
	fds|
	fork_forgets|
	forked_sigaction|
	forked_sigaction ignored|
	handler_waits sigaction|
	handler_waits sigset|
	hammer 40|safe fast threaded pidfd
	late_waiter|safe fast threaded pidfd
	minflt 3 libc.so.6 off true|
	model --seeds 1-3 --ops 20|
	nested|
	peeker|safe fast threaded pidfd
	pgid|
	pid_thief|safe fast threaded pidfd
	popen_fclose|
	precedence|safe fast threaded pidfd
	preinit|safe fast threaded pidfd
	raw_syscalls steal|safe fast threaded pidfd
	raw_syscalls held|
	rusage|
	scan_cost 20 5|safe fast pidfd
	secure|
	sigaction_query|
	sigchld_flags||^FAIL: .*flags 0x40000000, sa_mask \{12\}: SIGUSR2 blocked=0 SIGCHLD blocked=1,
	sigchld_info|
	sigign|
	sigign_keeps|safe fast threaded pidfd
	signal_reset|
	sigwait|
	soak --children 40|safe fast threaded pidfd
	spawn_kinds|
	start_reentry|
	static_thief|safe fast threaded pidfd
	steal_popen|safe fast threaded pidfd
	steal_system|safe fast threaded pidfd
	stopcont|
	system_signals||^FAIL: system\(\) returned 0x200 \(10:
	thread_order|
	threads_blocked|
	torture 3|
	trace_cases leak|
	trace_cases handlers|
	trace_cases averted|safe fast threaded pidfd
	two_components|safe fast threaded pidfd
	unknown_child|safe fast threaded pidfd
	unseen_forks atfork 20|
	unseen_forks daemon 3|
	unseen_forks forkpty 3|
	unseen_forks stranger|
	vfork_sigaction|
	vfork_sigaction forked|
	vfork_spawn||^FAIL: posix_spawn\("/nonexistent"\) returned 0 \(Success\)
	waitid_kinds||^setup: pidfd_open: Function not implemented$
	waitid_zombie|
	wnohang|
	wnowait|
	zombie_kept|
	EOF
}

command -v valgrind >/dev/null || {
	echo "valgrind.sh: valgrind is not installed" >&2
	exit 2
}
export CW_SLOWDOWN=${CW_SLOWDOWN:-5}
rm -rf "$logs"
mkdir -p "$logs"
runs=0 failed=0
declare -A seen=()
while IFS='|' read -r cmd modes valgrind_breaks; do
	read -r -a argv <<<"$cmd"
	seen[${argv[0]}]=1
	[[ -z $only || $cmd =~ $only ]] || continue
	for mode in ${modes:-$modes_all}; do
		name="${cmd// /-}.$mode"
		mkdir -p "$logs/$name"
		env=()
		[[ $mode == bare ]] ||
			env=(CHILDWATCH_MODE="$mode" LD_PRELOAD="$build/libchildwatch.so")
		# --error-exitcode: 99, a status no fixture gives.
		# --run-libc-freeres=no: at exit valgrind calls libc's
		# __libc_freeres, which takes stdio's list lock. valgrind runs
		# vfork as fork, so a vfork child can copy that lock held by
		# a thread inside fork() and hang there before it exits
		# (hammer and soak did, in every mode).
		start=$SECONDS
		timeout -k 5 300 env "${env[@]}" valgrind \
			--error-exitcode=99 --run-libc-freeres=no \
			--leak-check=full \
			--show-leak-kinds=definite --errors-for-leak-kinds=none \
			--trace-children=yes \
			--trace-children-skip='/bin/*,/usr/*,/sbin/*' \
			--child-silent-after-fork=no \
			--log-file="$logs/$name/%p.log" \
			"$build/fixtures/${argv[0]}" "${argv[@]:1}" \
			>"$logs/$name/stdout" 2>"$logs/$name/stderr"
		status=$?
		runs=$((runs + 1))
		[[ ($status == 1 || $status == 2) && -n $valgrind_breaks ]] &&
			grep -Eq "$valgrind_breaks" "$logs/$name/stderr" &&
			status=0
		errors=$(cat "$logs/$name"/*.log 2>/dev/null |
			grep -c 'ERROR SUMMARY: [1-9]')
		if ((status != 0 || errors != 0)); then
			failed=$((failed + 1))
			echo "not ok $runs $name: status $status ($((SECONDS - start)) s)"
			sed 's/^/# /' "$logs/$name/stderr" | head -n 10
			grep -L 'ERROR SUMMARY: 0 ' "$logs/$name"/*.log |
				xargs -r sed -n '/Command:/p;/^==[0-9]*== [A-Z][a-z]/,$p' |
				sed 's/^/# /' | head -n 60
		else
			echo "ok $runs $name ($((SECONDS - start)) s)"
		fi
	done
done < <(fixture_runs)

# Not run: creating holds a posix_spawn in progress, and valgrind runs
# posix_spawn's CLONE_VFORK child as a plain fork, where it hangs, bare as
# well as preloaded.
seen[creating]=1
# Not run: sigaction_every_instruction single-steps its child, which under
# valgrind steps valgrind's translation of the code, not the code.
seen[sigaction_every_instruction]=1
# Not programs: tests/diagnose.bats preloads thief.so into node and
# python3, and pid_thief loads the other two.
seen[thief.so]=1 seen[reap_by_pid.so]=1 seen[spawner.so]=1
# A fixture added to tests/fixtures and not to the table above is not
# silently left out.
for f in "$build"/fixtures/*; do
	[[ -n ${seen[${f##*/}]:-} || -n $only ]] && continue
	failed=$((failed + 1))
	echo "not ok: ${f##*/} has no line in tests/valgrind.sh"
done
echo "# $runs runs, $failed failed; logs in $logs"
((failed == 0))
