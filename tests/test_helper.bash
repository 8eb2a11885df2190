# SPDX-License-Identifier: MIT
# Shared setup for the childwatch bats suite.
#
# Fixtures (build/fixtures/NAME, from tests/fixtures/NAME.c) exit 0 when the
# guarantee they check held, 1 when it was broken (with a "FAIL: ..." line on
# stderr), 2 on a setup error.

CW_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
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

if [[ -n $CW_SANITIZER ]]; then
	cw_sanitizer_setup || exit 1
	# A file that defines its own teardown must call this one too.
	teardown()
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
fi

# Every mediating mode; CW_TEST_MODES narrows it ("pidfd fast") when debugging.
read -r -a CW_MODES <<<"${CW_TEST_MODES:-safe fast threaded pidfd}"

# under MODE CMD...: run CMD with the shim preloaded in MODE. Against a
# sanitizer build a hang (see real_programs.bats) ends at a timeout instead
# of holding bats forever.
under()
{
	local mode=$1
	shift
	if [[ -n $CW_SANITIZER ]]; then
		CHILDWATCH_MODE=$mode LD_PRELOAD=$CW_PRELOAD timeout -k 5 120 "$@"
	else
		CHILDWATCH_MODE=$mode LD_PRELOAD=$CW_PRELOAD "$@"
	fi
}

# cli ARGS...: the CLI from the build under test. It puts the shim in front
# of the LD_PRELOAD it finds, so a sanitizer build's runtime is handed to it
# there and, coming second in the program it runs, has its load-order check
# switched off: the shim defines none of the runtime's allocator symbols,
# so it still gets them.
cli()
{
	if [[ -n $CW_SANITIZER ]]; then
		LD_PRELOAD=$CW_SAN_RUNTIME ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0 \
			"$CW_CLI" "$@"
	else
		"$CW_CLI" "$@"
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
		run --separate-stderr timeout -k 5 120 \
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
	run --separate-stderr "$@"
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
	run "$@"
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
