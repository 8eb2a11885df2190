# SPDX-License-Identifier: MIT
# Shared setup for the childwatch bats suite.
#
# Fixtures (build/fixtures/NAME, from tests/fixtures/NAME.c) exit 0 when the
# guarantee they check held, 1 when it was broken (with a "FAIL: ..." line on
# stderr), 2 on a setup error.

CW_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
CW_LIB=$CW_ROOT/build/libchildwatch.so
CW_CLI=$CW_ROOT/build/childwatch
FIX=$CW_ROOT/build/fixtures

# Every mediating mode; CW_TEST_MODES narrows it ("pidfd fast") when debugging.
read -r -a CW_MODES <<<"${CW_TEST_MODES:-safe fast threaded pidfd}"

# under MODE CMD...: run CMD with the shim preloaded in MODE.
under()
{
	local mode=$1
	shift
	CHILDWATCH_MODE=$mode LD_PRELOAD=$CW_LIB "$@"
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
			env CHILDWATCH_MODE="$mode" LD_PRELOAD="$CW_LIB" "$@"
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
