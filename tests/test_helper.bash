# SPDX-License-Identifier: MIT
# Shared setup for the childwatch bats suite.
#
# Fixtures (build/fixtures/NAME, from tests/fixtures/NAME.c) exit 0 when the
# guarantee they check held, 1 when it was broken (with a "FAIL: ..." line on
# stderr), 2 on a setup error.

# The tree this helper belongs to, wherever the test file that loads it
# lives (tests/ or tests/stress/).
CW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# CW_BUILD picks another build of the same sources, as make check-asan and
# make check-tsan do (build/asan, build/tsan); CW_SANITIZER names its
# sanitizer, asan or tsan, and CW_SAN_RUNTIME the runtime library to
# preload.
CW_BUILD=$(cd "${CW_BUILD:-$CW_ROOT/build}" && pwd)
CW_LIB=$CW_BUILD/libchildwatch.so
CW_CLI=$CW_BUILD/childwatch
FIX=$CW_BUILD/fixtures
# What LD_PRELOAD holds to put the shim into a program: the shim alone, or
# after a sanitizer's runtime, which must be loaded before anything it
# instruments, and into programs that are not instrumented (sh, python3)
# only a preload puts it first.
CW_PRELOAD=$CW_LIB
CW_SANITIZER=${CW_SANITIZER:-}

# The run-time options of a sanitizer build. Every report aborts the
# process (status 134, which no fixture gives) and is also written to a file
# under $CW_BUILD/reports, so that a report from a child or a grandchild
# whose status nobody checks still fails the test (teardown below).
cw_sanitizer_setup()
{
	local reports=$CW_BUILD/reports/new common

	mkdir -p "$reports"
	CW_SAN_RUNTIME=${CW_SAN_RUNTIME:-$(${CC:-cc} -print-file-name="lib$CW_SANITIZER.so")}
	[[ -f $CW_SAN_RUNTIME ]] || {
		echo "no $CW_SANITIZER runtime at '$CW_SAN_RUNTIME'" >&2
		return 1
	}
	CW_PRELOAD="$CW_SAN_RUNTIME $CW_LIB"
	common="halt_on_error=1:abort_on_error=1"
	case $CW_SANITIZER in
	asan)
		# detect_leaks=0: LeakSanitizer would report at exit what
		# bash, python3 and perl never free, and a fixture's children
		# leave through _exit, which skips it; make check-valgrind
		# checks the shim's and the fixtures' leaks instead.
		export ASAN_OPTIONS="$common:detect_leaks=0:log_path=$reports/asan"
		export UBSAN_OPTIONS="$common:print_stacktrace=1:log_path=$reports/ubsan"
		;;
	tsan)
		# handle_*=0: TSan's runtime starts from the shim's module
		# constructor and installs its deadly-signal handlers through
		# sigaction, which is the shim's, instrumented, entered before
		# TSan has a thread state: it crashed every process. A crash
		# still fails the test, only without TSan's stack.
		# die_after_fork=0: a child forked from a process with threads
		# may start threads (the pidfd and threaded watchers do); TSan
		# would kill it for that.
		# report_signal_unsafe=0: the programs' own handlers (bash's,
		# the fixtures' fork in a handler) call malloc; the shim's
		# relay calls them, but none of it is the shim's.
		# report_thread_leaks=0: a fixture exits while its threads
		# wait, on purpose. tests/tsan.supp says why its one
		# suppression is a false report.
		export TSAN_OPTIONS="$common:die_after_fork=0:handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0:report_signal_unsafe=0:report_thread_leaks=0:suppressions=$CW_ROOT/tests/tsan.supp:log_path=$reports/tsan"
		;;
	*)
		echo "CW_SANITIZER='$CW_SANITIZER' is not asan or tsan" >&2
		return 1
		;;
	esac
}

# A test that cannot run against a sanitizer build says why: not_sanitized
# REASON skips it there.
not_sanitized()
{
	[[ -z $CW_SANITIZER ]] || skip "not under $CW_SANITIZER: $*"
}

# not_under SANITIZER REASON: the same, against one sanitizer only.
not_under()
{
	local sanitizer=$1
	shift
	[[ $CW_SANITIZER != "$sanitizer" ]] || skip "not under $sanitizer: $*"
}

# Every test has a time bound, so that a hang fails in seconds and names
# the test instead of holding the suite: bats aborts a test that outlasts
# BATS_TEST_TIMEOUT and kills what it started. test_time_bound SECONDS sets
# the bound for each test of the file that calls it (after load), for a
# plain build, times CW_SLOWDOWN: a sanitizer build is several times
# slower (make check-tsan takes six times as long as make test), and so
# gets five times as long, for the tests, the programs they run and the
# fixtures' own watchdogs (fixture.h). A CW_SLOWDOWN (a slow machine) or
# a BATS_TEST_TIMEOUT from the environment wins.
CW_ENV_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-}
if [[ -z ${CW_SLOWDOWN:-} ]]; then
	CW_SLOWDOWN=1
	[[ -z $CW_SANITIZER ]] || CW_SLOWDOWN=5
fi
export CW_SLOWDOWN
test_time_bound()
{
	BATS_TEST_TIMEOUT=${CW_ENV_TEST_TIMEOUT:-$(($1 * CW_SLOWDOWN))}
}
# The slowest test of make test takes about 30 s on 2 idle cores.
test_time_bound 120

if [[ -n $CW_SANITIZER ]]; then
	cw_sanitizer_setup || exit 1
fi

# Before each test: the file's own cw_setup, if it defines one. A test file
# never defines setup or teardown itself.
setup()
{
	if declare -F cw_setup >/dev/null; then
		cw_setup
	fi
}

# After each test: the file's own cw_teardown, if it defines one, then, against
# a sanitizer build, the check that no sanitizer wrote a report. A test file
# never defines teardown itself; it defines cw_teardown, which runs even
# when the test failed or timed out.
teardown()
{
	local status=0

	if declare -F cw_teardown >/dev/null; then
		cw_teardown || status=1
	fi
	idle_cpus
	if [[ -n $CW_SANITIZER ]]; then
		sanitizer_reports_none || status=1
	fi
	return "$status"
}

# sanitizer_reports_none: no sanitizer report was written since the last
# call; prints and files away any that was.
sanitizer_reports_none()
{
	local reports=$CW_BUILD/reports report found=0

	for report in "$reports"/new/*; do
		[[ -e $report ]] || continue
		found=1
		echo "sanitizer report $report:"
		head -n 60 "$report"
		mv "$report" "$reports/"
	done
	((found == 0))
}

# Every mediating mode; CW_TEST_MODES narrows it ("pidfd fast") when debugging.
read -r -a CW_MODES <<<"${CW_TEST_MODES:-safe fast threaded pidfd}"

# The helpers below run programs with fd 3, bats' own output, closed: a
# process that outlives its test then cannot hold bats open. A test that
# starts something in the background closes it too: cmd 3>&- &.
#
# They also run each program under timeout(1), which kills the program's
# whole process group: bats ends a test at its bound by killing the test's
# own children only, and a grandchild that hangs holding the pipe through
# which run reads its output would hold the test, and bats, until it ended.
# CW_RUN_BOUND seconds (120 times CW_SLOWDOWN, or the test's bound if that
# is shorter) is well above what any program of make test takes.

# bounded CMD...: CMD, killed with its process group after CW_RUN_BOUND s.
bounded()
{
	local bound=${CW_RUN_BOUND:-$((120 * CW_SLOWDOWN))}
	((bound <= BATS_TEST_TIMEOUT)) || bound=$BATS_TEST_TIMEOUT
	timeout -k 5 "$bound" "$@" 3>&-
}

# under MODE CMD...: run CMD with the shim preloaded in MODE; a hang (see
# real_programs.bats) ends at CW_RUN_BOUND instead of holding bats.
under()
{
	local mode=$1
	shift
	bounded env CHILDWATCH_MODE="$mode" LD_PRELOAD="$CW_PRELOAD" "$@"
}

# cli ARGS...: the CLI from the build under test. It puts the shim in front
# of the LD_PRELOAD it finds, so a sanitizer build's runtime is handed to it
# there and, coming second in the program it runs, has its load-order check
# switched off: the shim defines none of the runtime's allocator symbols,
# so it still gets them.
cli()
{
	if [[ -n $CW_SANITIZER ]]; then
		bounded env LD_PRELOAD="$CW_SAN_RUNTIME" \
			ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" \
			"$CW_CLI" "$@"
	else
		bounded "$CW_CLI" "$@"
	fi
}

# passes_in_modes "MODE..." CMD...: CMD exits 0 under each of the modes. A
# hang in a forked grandchild, which the fixture's alarm does not reach,
# ends at the timeout instead of holding bats forever.
passes_in_modes()
{
	local mode modes
	read -r -a modes <<<"$1"
	shift
	for mode in "${modes[@]}"; do
		run --separate-stderr bounded \
			env CHILDWATCH_MODE="$mode" LD_PRELOAD="$CW_PRELOAD" "$@"
		if ((status != 0)); then
			echo "mode $mode: exit status $status from $*"
			echo "stdout: $output"
			echo "stderr: $stderr"
			return 1
		fi
	done
}

# passes_in_every_mode CMD...: CMD exits 0 under each mediating mode.
passes_in_every_mode()
{
	passes_in_modes "${CW_MODES[*]}" "$@"
}

# loses_bare CMD...: CMD shows the loss (exit 1) without the shim, so the
# fixture really exercises the bug the shim cures.
loses_bare()
{
	run --separate-stderr bounded "$@"
	if ((status != 1)); then
		echo "bare run of $* exited $status, expected 1 (the loss)"
		echo "stderr: $stderr"
		return 1
	fi
}

# same_as_bare CMD...: stdout and exit status under each mode equal a bare run.
same_as_bare()
{
	local mode want_out want_status
	run bounded "$@"
	want_out=$output
	want_status=$status
	for mode in "${CW_MODES[@]}"; do
		run under "$mode" "$@"
		if [[ $output != "$want_out" ]] || ((status != want_status)); then
			echo "mode $mode differs from bare for: $*"
			echo "bare  (status $want_status): $want_out"
			echo "$mode (status $status): $output"
			return 1
		fi
	done
}

# need PROGRAM: skip the test when PROGRAM is not installed.
need()
{
	command -v "$1" >/dev/null || skip "$1 is not installed"
}

# strace_works: strace is installed and ptrace is allowed (containers may
# refuse it).
strace_works()
{
	command -v strace >/dev/null && strace -f -o /dev/null true 2>/dev/null
}

# need_ptrace: skip the test where strace is missing or ptrace is refused.
need_ptrace()
{
	need strace
	strace_works || skip "ptrace is not permitted here"
}

# output_is <<EOF: the last run printed exactly the here-document.
output_is()
{
	local want
	want=$(cat)
	[[ $output == "$want" ]] && return
	printf 'expected:\n%s\nactual:\n%s\n' "$want" "$output"
	return 1
}

# traced MODE CMD...: run CMD with the shim in MODE, tracing to $TRACE,
# which the test file sets (in its setup).
traced()
{
	local mode=$1
	shift
	CHILDWATCH_TRACE=$TRACE CHILDWATCH_MODE=$mode LD_PRELOAD=$CW_PRELOAD "$@" 3>&-
}

# every_line_parses FILE: each line of FILE is one JSON object.
every_line_parses()
{
	python3 -c '
import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    if not isinstance(json.loads(line), dict):
        sys.exit("line %d is not an object" % n)
' "$1"
}

# busy_cpus: a busy loop on every CPU until the test ends (teardown stops
# them, whatever the test's outcome), to widen the gap between a child's
# exit and a watcher's report of it.
CW_BUSY_PIDS=()
busy_cpus()
{
	local i n
	n=$(nproc)
	for ((i = 0; i < n; i++)); do
		yes >/dev/null 3>&- &
		CW_BUSY_PIDS+=($!)
	done
}

# idle_cpus: stop what busy_cpus started.
idle_cpus()
{
	if ((${#CW_BUSY_PIDS[@]} > 0)); then
		kill "${CW_BUSY_PIDS[@]}" 2>/dev/null || :
		wait "${CW_BUSY_PIDS[@]}" 2>/dev/null || :
		CW_BUSY_PIDS=()
	fi
}

# The load tests: make test runs each at a small size, make check
# (tests/stress/) again at full size.

# soak_passes_in_every_mode CHILDREN: tests/fixtures/soak loses no status,
# doubles none and leaves nothing behind under each mode.
soak_passes_in_every_mode()
{
	local mode
	for mode in "${CW_MODES[@]}"; do
		run --separate-stderr timeout -k 5 $((120 + $1 / 40)) \
			env CHILDWATCH_MODE="$mode" LD_PRELOAD="$CW_PRELOAD" \
			"$FIX/soak" --children "$1" 3>&-
		echo "$output"
		if ((status != 0)); then
			echo "mode $mode: exit status $status"
			echo "stderr: $stderr"
			return 1
		fi
		[[ $output == *" lost=0 doubled=0 stray=0 "* ]] || false
		[[ $output == *" children_left=0 zombies=0 fds_leaked=0 threads_leaked=0" ]] || false
	done
}

# hammer_traces_parse CHILDREN: every line that tests/fixtures/hammer's
# CHILDREN children leave in the trace, in every mode and unmediated, is
# one whole JSON object, and the report reads the trace. Sets TRACE.
hammer_traces_parse()
{
	local mode
	TRACE=$BATS_TEST_TMPDIR/trace.jsonl
	for mode in "${CW_MODES[@]}"; do
		traced "$mode" "$FIX/hammer" "$1" >/dev/null
	done
	every_line_parses "$TRACE"
	run -0 "$CW_CLI" report "$TRACE"
	TRACE=$BATS_TEST_TMPDIR/off.jsonl
	traced off "$FIX/hammer" "$1" >/dev/null || true
	every_line_parses "$TRACE"
}

# model_matches_bare_on_busy_cpus SEEDS OPS RUNS: tests/fixtures/model's
# transcript for SEEDS and OPS is the bare one in each of RUNS runs a mode
# while every CPU is busy.
model_matches_bare_on_busy_cpus()
{
	local seeds=$1 ops=$2 runs=$3 mode bare i
	run -0 bounded "$FIX/model" --seeds "$seeds" --ops "$ops"
	bare=$output
	busy_cpus
	for mode in "${CW_MODES[@]}"; do
		for ((i = 1; i <= runs; i++)); do
			run bounded env CHILDWATCH_MODE="$mode" \
				LD_PRELOAD="$CW_PRELOAD" \
				"$FIX/model" --seeds "$seeds" --ops "$ops"
			[[ $output == "$bare" ]] && continue
			echo "mode $mode, run $i, differs from bare (seeds $seeds, ops $ops):"
			diff <(echo "$bare") <(echo "$output") | head -10
			return 1
		done
	done
	idle_cpus
}

# fork_in_handler_passes N: tests/fixtures/faults' SIGALRM handler forks up
# to N times while main forks and waits, with every status right: fork in
# safe and fast, _Fork (which takes no lock) in every mode.
fork_in_handler_passes()
{
	run -0 bounded "$FIX/faults" fork-in-handler "$1"
	passes_in_modes "safe fast" timeout -k 5 60 "$FIX/faults" fork-in-handler "$1"
	same_as_bare "$FIX/faults" _Fork-in-handler "$1"
}
