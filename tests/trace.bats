#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The lifecycle trace (CHILDWATCH_TRACE, childwatch --trace), childwatch
# report and childwatch diagnose: they name who took whose child.

load test_helper
bats_require_minimum_version 1.5.0

# The CLI built with ASan and UBSan, to feed bad traces to: make test
# builds it; make check-asan's own CLI is one.
if [[ $CW_SANITIZER == asan ]]; then
	CW_ASAN=$CW_CLI
else
	CW_ASAN=$CW_ROOT/build/childwatch-asan
fi

cw_setup()
{
	TRACE=$BATS_TEST_TMPDIR/trace.jsonl
}

@test "diagnose names each child system() lost, the thief's call site, and exits with the program's status" {
	not_sanitized "the sanitizer's own wait interceptors stand between the program and the shim, so sites name them"
	run --separate-stderr -1 cli diagnose -- "$FIX/steal_system"
	[[ $stderr == *"Lost children"* ]] || false
	[[ $stderr =~ child\ [0-9]+,\ started\ by\ system\(\)\ in\ steal_system\ \(main\+0x[0-9a-f]+\),\ was\ taken\ by\ waitpid\(-1\)\ in\ steal_system\ \(\+0x[0-9a-f]+(:\ [a-z_]+\ at\ [^\ ]+)?\)\ on\ thread\ [0-9]+\;\ system\(\)\ in\ steal_system.*\ then\ failed\ with\ ECHILD\. ]] || false
	[[ $stderr =~ Verdict:\ [1-9][0-9]*\ lost ]] || false
	run -3 cli diagnose -- sh -c 'exit 3'
}

@test "the report of an unmediated run names pclose()'s and waitpid(pid)'s thieves and exits 1" {
	traced off "$FIX/steal_popen" || true
	run -1 "$CW_CLI" report "$TRACE"
	[[ $output =~ started\ by\ popen\(\).*was\ taken\ by\ waitpid\(-1\).*\;\ pclose\(\)\ in\ .*then\ failed\ with\ ECHILD ]] || false
	rm "$TRACE"
	traced off "$FIX/two_components" || true
	run -1 "$CW_CLI" report "$TRACE"
	[[ $output =~ started\ by\ fork\(\).*was\ taken\ by\ waitpid\(-1\).*\;\ waitpid\([0-9]+\)\ in\ .*then\ failed\ with\ ECHILD ]] || false
}

@test "under every mode the stealing program's report finds nothing lost and exits 0" {
	for mode in "${CW_MODES[@]}"; do
		rm -f "$TRACE"
		traced "$mode" "$FIX/steal_system"
		run -0 "$CW_CLI" report "$TRACE"
		[[ $output == *"Verdict: 0 lost, 0 zombies left"* ]] || false
	done
}

@test "a waitpid(-1) that would have taken popen()'s exited child is reported as a theft averted" {
	not_sanitized "the sanitizer's own wait interceptors stand between the program and the shim, so sites name them"
	for mode in "${CW_MODES[@]}"; do
		rm -f "$TRACE"
		traced "$mode" "$FIX/trace_cases" averted
		run -0 "$CW_CLI" report "$TRACE"
		[[ $output =~ waitpid\(-1\)\ in\ trace_cases\ \(main\+0x[0-9a-f]+\)\ on\ thread\ [0-9]+\ \(main\)\ would\ have\ taken\ child\ [0-9]+,\ started\ by\ popen\(\) ]] || false
	done
	rm -f "$TRACE"
	traced off "$FIX/trace_cases" averted || true
	run -1 "$CW_CLI" report "$TRACE"
	[[ $output == *"pclose() in trace_cases"*"then failed with ECHILD."* ]] || false
}

@test "a status taken by waitpid(-1) and kept for a late waitpid(pid) is reported as replayed" {
	not_sanitized "the sanitizer's own wait interceptors stand between the program and the shim, so sites name them"
	traced pidfd "$FIX/late_waiter"
	# The fixture waits once more to check the status comes only once:
	# that ECHILD, after its own component had the status, is no loss.
	run -0 "$CW_CLI" report "$TRACE"
	[[ $output =~ taken\ first\ by\ waitpid\(-1\)\ in\ late_waiter.*was\ kept\ and\ given\ to\ waitpid\([0-9]+\) ]] || false
}

@test "children never waited for are zombies left, one still running is named, and the report exits 1" {
	for mode in off pidfd fast; do
		rm -f "$TRACE"
		traced "$mode" "$FIX/trace_cases" leak
		run -1 "$CW_CLI" report "$TRACE"
		[[ $output == *"Zombies left (exited, never waited for) (3)"* ]] || false
		# Under TSan, the caller the shim sees is TSan's fork.
		[[ $CW_SANITIZER == tsan ]] ||
			[[ $output =~ started\ by\ fork\(\)\ in\ trace_cases\ \(main\+0x[0-9a-f]+\),\ exited\ and\ was\ never\ waited\ for ]] || false
		[[ $output == *"Children still running at exit (1)"* ]] || false
	done
}

@test "a second component's SIGCHLD handler replacing the first's is named with both installers" {
	not_under tsan "TSan's sigaction puts its own handler in the program's place, so the shim sees TSan's both times"
	for mode in off safe pidfd; do
		rm -f "$TRACE"
		traced "$mode" "$FIX/trace_cases" handlers
		run -0 "$CW_CLI" report "$TRACE"
		[[ $output == *"SIGCHLD handler trace_cases (component_b_handler+0), installed by signal() in trace_cases"*", replaced handler trace_cases (component_a_handler+0) installed by sigaction() in trace_cases"* ]] || false
	done
}

@test "a shell pipeline and make -j under --trace leave one trace: every line parses and the tree holds every process" {
	command -v make >/dev/null || skip "make is not installed"
	printf 'all: a b c\na b c:\n\t@echo $@ | tr a-c A-C >/dev/null\n' \
		>"$BATS_TEST_TMPDIR/Makefile"
	# An argument with a quote, a tab and a byte that is not UTF-8, which
	# the trace must escape to stay JSON.
	cat >"$BATS_TEST_TMPDIR/tree.sh" <<-EOF
	seq 1 20 | sort -r | head -3 >/dev/null
	sh -c "\$(printf 'true "\t\377"')"
	make -s -j3 -C "$BATS_TEST_TMPDIR"
	EOF
	run -0 cli --trace "$TRACE" -- sh "$BATS_TEST_TMPDIR/tree.sh"
	every_line_parses "$TRACE"
	run -0 "$CW_CLI" report --json "$TRACE"
	python3 -c '
import json, sys
r = json.loads(sys.argv[1])
exes = [p["exe"] or "" for p in r["processes"]]
names = {e.rsplit("/", 1)[-1] for e in exes}
want = {"dash", "seq", "sort", "head", "make", "tr"}
missing = (want - names) if "dash" in names else (want - {"dash"} | {"bash"}) - names
if missing: sys.exit("no %s in %s" % (missing, sorted(names)))
if r["lost"] or r["zombies"]: sys.exit("lost or zombies in %s" % r)
' "$output"
}

@test "report names unusable lines by number and still uses the rest; bad files get one line and status 2" {
	traced pidfd "$FIX/trace_cases" leak
	{ head -c 100 "$TRACE"; echo; cat "$TRACE"; printf '{"ev":"x"}\n[1]\n'; head -c 30 "$TRACE"; } >"$BATS_TEST_TMPDIR/cut"
	n=$(wc -l <"$TRACE")
	run -1 "$CW_ASAN" report "$BATS_TEST_TMPDIR/cut"
	[[ $output == *"line 1 skipped: cut short"* ]] || false
	[[ $output == *"line $((n + 2)) skipped: an event without its pid, tid or time"* ]] || false
	[[ $output == *"line $((n + 3)) skipped: not a JSON object"* ]] || false
	[[ $output == *"line $((n + 4)) skipped: cut short (no end of line)"* ]] || false
	[[ $output == *"Zombies left (exited, never waited for) (3)"* ]] || false

	: >"$BATS_TEST_TMPDIR/empty"
	run --separate-stderr -2 "$CW_ASAN" report "$BATS_TEST_TMPDIR/empty"
	[[ $stderr == "childwatch: '$BATS_TEST_TMPDIR/empty' holds no trace events (0 lines, 0 unusable); run the program with CHILDWATCH_TRACE="* ]] || false
	head -c 65536 /dev/urandom >"$BATS_TEST_TMPDIR/garbage"
	run --separate-stderr -2 "$CW_ASAN" report "$BATS_TEST_TMPDIR/garbage"
	[[ $stderr == *"holds no trace events"* ]] || false
	run --separate-stderr -2 "$CW_ASAN" report "$BATS_TEST_TMPDIR/missing"
	[[ $stderr == "childwatch: cannot read trace '$BATS_TEST_TMPDIR/missing': No such file or directory" ]] || false
	run --separate-stderr -2 "$CW_ASAN" report --json "$BATS_TEST_TMPDIR"
	[[ $stderr == *"holds no trace events"* || $stderr == *"cannot read trace"* ]] || false
}

@test "exec is traced before the image goes, and a failed exec after: execl runs the same command line" {
	for mode in off "${CW_MODES[@]}"; do
		rm -f "$TRACE"
		traced "$mode" "$FIX/trace_cases" execl
		grep -q '"ev":"exec_failed",.*"call":"execl",.*"path":"/nonexistent/sh","argv0":"sh","error":"ENOENT"' "$TRACE"
		grep -q '"ev":"exec",.*"call":"execl",.*"path":"/bin/sh","argv0":"sh"' "$TRACE"
		grep -q '"ev":"start",.*"argv":\["sh","-c","exit 4"\]' "$TRACE"
	done
}

@test "the trace is created mode 0600, refuses a symbolic link, and the program runs on" {
	traced pidfd env true
	[[ $(stat -c %a "$TRACE") == 600 ]] || false
	: >"$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" "$BATS_TEST_TMPDIR/link"
	TRACE=$BATS_TEST_TMPDIR/link
	run --separate-stderr -3 traced pidfd sh -c 'exit 3'
	[[ $stderr == "childwatch: cannot trace to '$BATS_TEST_TMPDIR/link': it is a symbolic link; set CHILDWATCH_TRACE to a regular file's path"* ]] || false
	[[ ! -s $BATS_TEST_TMPDIR/target ]] || false
	run --separate-stderr -2 cli --trace "$BATS_TEST_TMPDIR/link" true
	[[ $stderr == "childwatch: cannot write trace '$BATS_TEST_TMPDIR/link': it is a symbolic link" ]] || false
}

@test "a program that closes the trace's descriptor and reuses its number never gets trace lines" {
	for mode in off "${CW_MODES[@]}"; do
		traced "$mode" "$FIX/trace_cases" reuse "$BATS_TEST_TMPDIR/mine"
		[[ ! -s $BATS_TEST_TMPDIR/mine ]] || false
	done
}

@test "a vfork child that closes the trace's descriptor or dup2s over it before exec leaves the parent's trace on" {
	not_under tsan "TSan's runtime runs vfork as fork: the trace shows fork, called from its interceptor"
	for mode in off "${CW_MODES[@]}"; do
		rm -f "$TRACE"
		traced "$mode" "$FIX/trace_cases" vfork_over
		(($(grep -c '"ev":"spawn",.*"call":"vfork"' "$TRACE") == 2)) || { echo "mode $mode"; cat "$TRACE"; false; }
		(($(grep -c '"ev":"wait",.*"consumed":true' "$TRACE") == 2)) || false
		grep -q '"ev":"exit",.*"running":0' "$TRACE"
	done
}

@test "every traced event of every mode is one whole JSON line" {
	# 500 children of hammer's four spawners and its thief; make check
	# traces 10,000 (tests/stress/hammer.bats).
	hammer_traces_parse 500
}

@test "report and diagnose answer --help, and refuse bad usage in one line with status 2" {
	run -0 "$CW_CLI" report --help
	[[ ${lines[0]} == "usage: childwatch report [--json] FILE" ]] || false
	run -0 cli diagnose --help
	[[ ${lines[0]} == "usage: childwatch diagnose [--json] [--keep] [--] PROGRAM [ARGS...]" ]] || false
	run --separate-stderr -2 "$CW_CLI" report
	[[ $stderr == "childwatch: report takes one trace file; try: childwatch report FILE" ]] || false
	run --separate-stderr -2 "$CW_CLI" report --bogus "$TRACE"
	[[ $stderr == "childwatch report: unknown option '--bogus'; see childwatch report --help" ]] || false
	run --separate-stderr -2 cli diagnose
	[[ $stderr == "childwatch: no program given; try: childwatch diagnose -- PROGRAM [ARGS...]" ]] || false
}
