#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# childwatch report on traces of real interpreters: python3's subprocess
# (vfork, close_fds) and multiprocessing, node's child_process, perl under
# $SIG{CHLD}='IGNORE'. Each runs bare (off) and in every mode.

load test_helper
bats_require_minimum_version 1.5.0

setup()
{
	TRACE=$BATS_TEST_TMPDIR/trace.jsonl
	# The interpreter itself: a version manager's wrapper script would
	# add its own processes to the trace.
	PY=$(python3 -c 'import sys; print(sys.executable)')
}

# traced_run MODE CMD...: run CMD in MODE (off included), tracing to a
# fresh $TRACE; its status is CMD's.
traced_run()
{
	local mode=$1
	shift
	rm -f "$TRACE"
	under "$mode" env CHILDWATCH_TRACE="$TRACE" "$@"
}

# tally PROGRAM: for the process of the trace whose start names PROGRAM
# (its first one), "spawns consumed-waits lost-lines exits".
tally()
{
	python3 - "$TRACE" "$1" <<-'EOF'
	import json, sys
	events = [json.loads(line) for line in open(sys.argv[1])]
	pid = next(e["pid"] for e in events if e["ev"] == "start" and
	           e["exe"].rsplit("/", 1)[-1].startswith(sys.argv[2]))
	mine = [e for e in events if e["pid"] == pid]
	count = lambda ev: sum(e["ev"] == ev for e in mine)
	print(count("spawn"), sum(e["ev"] == "wait" and e["consumed"]
	                          for e in mine), count("lost"), count("exit"))
	EOF
}

# lost_lines: "distinct-children lost-lines" over every lost line.
lost_lines()
{
	python3 - "$TRACE" <<-'EOF'
	import json, sys
	lost = [(e["pid"], e["child"]) for e in map(json.loads, open(sys.argv[1]))
	        if e["ev"] == "lost"]
	print(len(set(lost)), len(lost))
	EOF
}

# kept_in_every_mode N CMD...: under each mediating mode the late waits of
# CMD get the N statuses its thief took.
kept_in_every_mode()
{
	local n=$1 mode
	shift
	for mode in "${CW_MODES[@]}"; do
		traced_run "$mode" "$@"
		run -0 "$CW_CLI" report "$TRACE"
		[[ $output == *"Statuses kept for a late waiter ($n)"* ]] || { echo "mode $mode: $output"; false; }
	done
}

@test "python3's subprocess children, with close_fds and with pass_fds, leave the parent's trace whole in off and every mode" {
	for mode in off "${CW_MODES[@]}"; do
		traced_run "$mode" "$PY" -c '
import os, subprocess
r, w = os.pipe()
for i in range(10):
    subprocess.run(["/bin/true"], pass_fds=(w,) if i % 2 else ())
'
		run -0 tally python
		[[ $output == "10 10 0 1" ]] || { echo "mode $mode: spawns waits lost exits: $output"; false; }
		run -0 "$CW_CLI" report "$TRACE"
		[[ $output != *"missed events"* ]] || false
	done
}

@test "posix_spawn file actions that close or dup2 over the trace's descriptor leave the parent's trace whole" {
	for mode in off "${CW_MODES[@]}"; do
		traced_run "$mode" "$PY" -c '
import os, sys
trace = os.environ["CHILDWATCH_TRACE"]
fd = next(int(f) for f in os.listdir("/proc/self/fd")
          if os.path.realpath("/proc/self/fd/" + f) == os.path.realpath(trace))
for actions in ([(os.POSIX_SPAWN_CLOSE, fd)], [(os.POSIX_SPAWN_DUP2, 1, fd)]):
    os.waitpid(os.posix_spawn("/bin/true", ["true"], os.environ,
                              file_actions=actions), 0)
'
		run -0 tally python
		[[ $output == "2 2 0 1" ]] || { echo "mode $mode: spawns waits lost exits: $output"; false; }
	done
}

@test "python3 losing 40 of 40 children to waitpid(-1) reports 40 lost, each under python3 in the tree" {
	not_sanitized "the sanitizer's own wait interceptors stand between the program and the shim, so sites name them"
	local script='
import os, subprocess
for i in range(40):
    p = subprocess.Popen(["/bin/true"], pass_fds=(1,) if i % 2 else ())
    os.waitpid(-1, 0)
    p.wait()
'
	traced_run off "$PY" -c "$script"
	run -1 "$CW_CLI" report "$TRACE"
	[[ $output == *"Verdict: 40 lost,"* ]] || false
	[[ $output == *"Lost children (40)"* ]] || false
	(($(grep -c 'started by vfork() in _posixsubprocess.*was taken by waitpid(-1)' <<<"$output") == 40)) || false
	run -1 "$CW_CLI" report --json "$TRACE"
	python3 -c '
import json, sys
r = json.loads(sys.argv[1])
py = next(p for p in r["processes"] if "python" in (p["exe"] or ""))
kids = [k for k in py["children"] if k["spawn"]]
assert len(kids) == 40, len(kids)
roots = [p for p in r["processes"] if p["pid"] != py["pid"]
         and p["ppid"] == py["pid"] and p["pid"] not in [k["pid"] for k in kids]]
assert not roots, roots
' "$output"
	kept_in_every_mode 40 "$PY" -c "$script"
}

@test "node's children, polled again by libuv after a thief took them, count once each with their failed waits" {
	command -v node >/dev/null || skip "no node"
	not_sanitized "a thread preloaded into node beside a sanitizer's runtime"
	local script="
const { spawn } = require('child_process');
for (let i = 0; i < 30; i++) spawn('/bin/true');
// One exit more: libuv polls every child it still holds again.
setTimeout(() => spawn('/bin/true'), 500);
setTimeout(() => process.exit(0), 1500);
"
	traced_run off env LD_PRELOAD="$CW_PRELOAD $FIX/thief.so" node -e "$script"
	run -0 lost_lines
	local children=${output% *} waits=${output#* }
	((children > 0 && waits > children)) || false
	run -1 "$CW_CLI" report "$TRACE"
	[[ $output == *"Verdict: $children lost ($waits failed waits),"* ]] || false
	[[ $output == *"Lost children ($children)"* ]] || false
	[[ $output =~ then\ failed\ with\ ECHILD\ \([0-9]+\ failed\ waits\ for\ it\) ]] || false
	for mode in "${CW_MODES[@]}"; do
		traced_run "$mode" env LD_PRELOAD="$CW_PRELOAD $FIX/thief.so" node -e "$script"
		run -0 "$CW_CLI" report "$TRACE"
		[[ $output == *"Verdict: 0 lost,"* && $output != *"missed events"* ]] || { echo "mode $mode: $output"; false; }
	done
}

@test "python3 multiprocessing's children, polled again after a thief took them, count once each" {
	local script='
import multiprocessing as mp, os
def work(ev):
    ev.wait()
if __name__ == "__main__":
    mp.set_start_method("fork")
    ev = mp.Event()
    ps = [mp.Process(target=work, args=(ev,)) for _ in range(20)]
    for p in ps:
        p.start()
    ev.set()
    for p in ps:
        os.waitpid(-1, 0)
    for p in ps:
        p.join(0.01)
        p.is_alive()
'
	traced_run off "$PY" -c "$script"
	run -0 lost_lines
	[[ $output == "20 "* ]] || false
	local waits=${output#* }
	((waits > 20)) || false
	run -1 "$CW_CLI" report "$TRACE"
	[[ $output == *"Verdict: 20 lost ($waits failed waits),"* ]] || false
	[[ $output == *"Lost children (20)"* ]] || false
	kept_in_every_mode 20 "$PY" -c "$script"
}

@test "perl under \$SIG{CHLD}='IGNORE' loses system()'s statuses to the kernel, in the parent and in forked workers, bare, and keeps them in every mode" {
	command -v perl >/dev/null || skip "no perl"
	local script='
$SIG{CHLD} = "IGNORE";
system("/bin/true") for 1 .. 40;
for (1 .. 2) {
	next if fork();
	system("/bin/true") for 1 .. 5;
	exit 0;
}
# Until the workers are gone: with SIGCHLD ignored, wait() blocks until no
# child is left, then fails. A timed sleep let a loaded machine end the
# trace before the workers had written theirs.
1 while wait() != -1;
'
	traced_run off perl -e "$script"
	run -1 "$CW_CLI" report "$TRACE"
	[[ $output == *"Lost children (50)"* ]] || false
	(($(grep -c 'was reaped by the kernel: SIGCHLD was SIG_IGN' <<<"$output") == 50)) || false
	[[ $output != *"cannot see"* ]] || false
	for mode in "${CW_MODES[@]}"; do
		traced_run "$mode" perl -e "$script"
		run -0 "$CW_CLI" report "$TRACE"
		[[ $output == *"Verdict: 0 lost"* ]] || { echo "mode $mode: $output"; false; }
	done
}

@test "a process's start records the SIGCHLD disposition it inherited" {
	command -v perl >/dev/null || skip "no perl"
	traced_run off perl -e '$SIG{CHLD} = "IGNORE"; exec "/bin/true"'
	run -0 grep '"ev":"start".*"exe":"/usr/bin/true"' "$TRACE"
	[[ $output == *'"sigchld":{"handler":"SIG_IGN","flags":[]}'* ]] || false
}

@test "the report warns when a process's trace holds children no spawn line explains, and still hangs them under it" {
	traced_run off "$PY" -c 'import subprocess; [subprocess.run(["/bin/true"]) for _ in range(3)]'
	run -0 "$CW_CLI" report "$TRACE"
	[[ $output != *"missed events"* ]] || false
	grep -v '"ev":"spawn"' "$TRACE" >"$BATS_TEST_TMPDIR/cut.jsonl"
	run -0 "$CW_CLI" report "$BATS_TEST_TMPDIR/cut.jsonl"
	[[ $output == *"Warning: the trace missed events"* ]] || false
	[[ $output =~ process\ [0-9]+\ \(python[0-9.]*\)\ has\ 3\ children\ that\ no\ spawn\ line\ explains ]] || false
	# The three still hang under python3, not beside it as roots.
	(($(grep -c '^    - [0-9]* (creation not seen)' <<<"$output") == 3)) || false
	run -0 "$CW_CLI" report --json "$BATS_TEST_TMPDIR/cut.jsonl"
	[[ $output =~ \"missed_spawns\":\[\{\"pid\":[0-9]+,\"children\":3, ]] || false
	# A child made by a raw fork system call, taken by waitpid(-1).
	traced_run off "$FIX/unknown_child"
	run -0 "$CW_CLI" report "$TRACE"
	[[ $output =~ process\ [0-9]+\ \(unknown_child\)\ has\ 1\ child\ that\ no\ spawn\ line\ explains ]] || false
}

@test "the report's first screen is the verdict and the lost children; the process tree comes after" {
	traced_run off "$FIX/static_thief" || true
	run -1 "$CW_CLI" report "$TRACE"
	[[ ${lines[1]} == "Verdict: 1 lost, 0 zombies left, 0 thefts averted" ]] || false
	[[ ${lines[2]} == "Lost children (1)" ]] || false
	[[ $output == *"Lost children (1)"*"Processes"* ]] || false
}

@test "a site in a static function is named with its function and line from the binary's debug info" {
	not_sanitized "the sanitizer's own wait interceptors stand between the program and the shim, so sites name them"
	command -v addr2line >/dev/null || skip "no addr2line"
	local line
	line=$(grep -n "the thief's call" "$CW_ROOT/tests/fixtures/static_thief.c")
	line=${line%%:*}
	traced_run off "$FIX/static_thief" || true
	run -1 "$CW_CLI" report "$TRACE"
	[[ $output =~ taken\ by\ waitpid\(-1\)\ in\ static_thief\ \(\+0x[0-9a-f]+:\ steal_one\ at\ static_thief\.c:$line\) ]] || false
	# Without addr2line, the report says how to ask it.
	run -1 env PATH=/nonexistent "$CW_CLI" report "$TRACE"
	[[ $output =~ static_thief\ \(\+0x[0-9a-f]+:\ addr2line\ -f\ -e\ [^\ ]*/static_thief\ 0x[0-9a-f]+\ names\ it\) ]] || false
	# Stripped of its symbols and debug info there is nothing to name.
	strip -o "$BATS_TEST_TMPDIR/static_thief" "$FIX/static_thief"
	traced_run off "$BATS_TEST_TMPDIR/static_thief" || true
	run -1 "$CW_CLI" report "$TRACE"
	[[ $output =~ taken\ by\ waitpid\(-1\)\ in\ static_thief\ \(\+0x[0-9a-f]+\)\ on ]] || false
}

@test "diagnose names a SIGCHLD handler that reaps by si_pid as the thief, with the creating library's failed wait, and no loss for a component's own second wait" {
	local lost echild hechild
	run -1 --separate-stderr cli diagnose -- "$FIX/pid_thief"
	# Each component's failed first waits are losses: the library's
	# always, the handler's when the library wins the race for a child.
	echild=$(sed -n 's/.* of [0-9]* (\([0-9]*\) ECHILD).*/\1/p' <<<"$output")
	hechild=$(sed -n 's/.*handler reaped [0-9]* (\([0-9]*\) ECHILD).*/\1/p' <<<"$output")
	lost=$(sed -n 's/^Verdict: \([0-9]*\) lost.*/\1/p' <<<"$stderr")
	[[ -n $echild && -n $hechild && $lost == $((echild + hechild)) ]] || false
	grep -q 'was taken by waitpid([0-9]*) in reap_by_pid.so .* waitpid([0-9]*) in spawner.so .* then failed with ECHILD' <<<"$stderr"
	# The handler's second wait for a child it reaped is no loss.
	[[ $(grep -c "waitpid([0-9]*) in reap_by_pid.so ([^)]*) then failed" <<<"$stderr") == "$hechild" ]]
}
