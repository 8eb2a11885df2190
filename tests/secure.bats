#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Set-user-ID programs (AT_SECURE): the shim reads none of its variables, so
# a caller can neither pick its mode nor make it write a trace.

load test_helper
bats_require_minimum_version 1.5.0

cw_setup()
{
	not_sanitized "the loader ignores a sanitizer runtime's preload in a set-user-ID program"
	((EUID == 0)) || skip "making a set-user-ID program needs root"
	id nobody >/dev/null 2>&1 || skip "no user nobody to run it as"
	# Somewhere nobody may write too, so that only AT_SECURE can stop a
	# trace; and a copy of the program that nobody owns, set-user-ID.
	DIR=$(mktemp -d)
	chmod 1777 "$DIR"
	cp "$FIX/secure" "$DIR/secure"
	chown nobody "$DIR/secure"
	chmod 4755 "$DIR/secure"
	"$DIR/secure" || skip "$DIR does not run set-user-ID programs"
}

cw_teardown()
{
	[[ -z ${DIR:-} ]] || rm -rf "$DIR"
}

@test "a set-user-ID program ignores CHILDWATCH_MODE and CHILDWATCH_TRACE" {
	# Without set-user-ID, the same program reads both.
	run -2 env CHILDWATCH_MODE=bogus "$FIX/secure"
	CHILDWATCH_TRACE=$DIR/plain "$FIX/secure"
	grep -q '"ev":"spawn"' "$DIR/plain"

	run -0 env CHILDWATCH_MODE=bogus CHILDWATCH_TRACE="$DIR/trace" \
		"$DIR/secure"
	[[ ! -e $DIR/trace ]] || false
}

@test "a set-user-ID program runs in the default mode whatever CHILDWATCH_MODE names" {
	# off lets a waitpid(-1) take popen's child: the fixture exits 4.
	run -4 env CHILDWATCH_MODE=off "$FIX/secure"
	run -0 env CHILDWATCH_MODE=off "$DIR/secure"
}
