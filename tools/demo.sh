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
