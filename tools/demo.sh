#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: the lost-child bug bare, then its cure under every strategy.
set -u
build=${1:-build}
echo "A reaper thread loops on waitpid(-1) while the main thread waits for"
echo "its own children with system(), pclose() and waitpid(pid)."
echo
echo "bare (no childwatch):"
"$build/lost_child"
echo "  -> exit status $?"
for mode in safe fast threaded pidfd; do
	echo
	echo "childwatch --mode $mode:"
	"$build/childwatch" --mode "$mode" -- "$build/lost_child"
	echo "  -> exit status $?"
done
echo
echo "childwatch diagnose, on the bare run: who took whose child (the first"
echo "three of its findings):"
"$build/childwatch" diagnose -- "$build/lost_child" 2>&1 >/dev/null |
	sed -n '/^Lost children/,/^$/p' | head -4
