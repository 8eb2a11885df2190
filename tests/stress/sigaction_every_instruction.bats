#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The last sigaction wins, at whatever instruction of it a handler's own
# sigaction interrupts (make check): each run single-steps its child up to
# 620,000 times (the rounds' lengths summed), 20 to 25 s a mode here, and
# keeps both cores busy in the kernel meanwhile.

load ../test_helper
bats_require_minimum_version 1.5.0
test_time_bound 300

# Under TSan the handler would run at the next intercepted call, never at
# the instruction the signal came to; under ASan the modes took six minutes.
@test "the last sigaction wins, at whatever instruction of it a handler's own sigaction interrupts, bare and in every mode" {
	not_sanitized "the plain build's run steps into every instruction"
	run -0 "$FIX/sigaction_every_instruction"
	passes_in_modes "off ${CW_MODES[*]}" "$FIX/sigaction_every_instruction"
}
