#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
load test_helper
bats_require_minimum_version 1.5.0

# install_make ARGS...: make install or uninstall in the source tree, with
# only the directories ARGS give: none from the environment or from an outer
# make test. ldconfig is never run: a test must not touch the machine's
# linker cache.
install_make()
{
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PREFIX -u DESTDIR \
		-u BINDIR -u LIBDIR -u INCLUDEDIR -u MANDIR -u PKGCONFIGDIR \
		make -C "$CW_ROOT" --no-print-directory LDCONFIG=: "$@"
}

@test "make install honours PREFIX and DESTDIR and make uninstall removes exactly what it installed" {
	not_sanitized "make install builds and installs the plain build, which make test checks"
	local root=$BATS_TEST_TMPDIR/root p path
	local -a files=(
		bin/childwatch
		lib/libchildwatch.so.0.1.0
		include/childwatch.h
		lib/pkgconfig/childwatch.pc
		share/man/man1/childwatch.1
		share/man/man3/childwatch.3
		share/man/man7/childwatch.7
	)
	# Another package's file in a shared directory must survive uninstall.
	mkdir -p "$root/opt/cw/lib"
	echo other >"$root/opt/cw/lib/other.so"

	run -0 install_make install DESTDIR="$root" PREFIX=/opt/cw
	for p in "${files[@]}"; do
		path=$root/opt/cw/$p
		[[ -f $path && ! -L $path ]] || { echo "missing file $path"; false; }
	done
	[[ -x $root/opt/cw/bin/childwatch ]] || false
	[[ $(readlink "$root/opt/cw/lib/libchildwatch.so.0") == libchildwatch.so.0.1.0 ]] || false
	[[ $(readlink "$root/opt/cw/lib/libchildwatch.so") == libchildwatch.so.0 ]] || false
	# The soname is what programs linked with -lchildwatch record.
	run -0 readelf -d "$root/opt/cw/lib/libchildwatch.so.0.1.0"
	[[ $output == *"Library soname: [libchildwatch.so.0]"* ]] || false
	# PREFIX is compiled in and written out; DESTDIR is not.
	run -0 grep -x 'prefix=/opt/cw' "$root/opt/cw/lib/pkgconfig/childwatch.pc"
	run -1 grep -l -a -F "$root" "$root/opt/cw/bin/childwatch" \
		"$root/opt/cw/lib/pkgconfig/childwatch.pc"
	run -0 grep -c -a -F /opt/cw/lib "$root/opt/cw/bin/childwatch"

	run -0 install_make uninstall DESTDIR="$root" PREFIX=/opt/cw
	run -0 find "$root" -type f -o -type l
	[[ $output == "$root/opt/cw/lib/other.so" ]]
}

@test "a program built with pkg-config against an installed copy compiles, links and runs" {
	not_sanitized "make install builds and installs the plain build, which make test checks"
	command -v pkg-config >/dev/null || skip "no pkg-config"
	local root=$BATS_TEST_TMPDIR/root flags mode
	run -0 install_make install DESTDIR="$root" PREFIX=/opt/cw

	cat >"$BATS_TEST_TMPDIR/seven.c" <<'EOF'
#include <childwatch.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static int got = -1000;

static void on_child(pid_t pid, int returncode, void *arg)
{
	(void)pid;
	(void)arg;
	pthread_mutex_lock(&lock);
	got = returncode;
	pthread_cond_signal(&done);
	pthread_mutex_unlock(&lock);
}

int main(void)
{
	struct timespec deadline;
	cw_watcher *w = cw_get_child_watcher();
	pid_t pid;
	int r = 0;

	if (!w) {
		perror("cw_get_child_watcher");
		return 2;
	}
	pid = fork();
	if (pid == 0)
		_exit(7);
	if (cw_add_child_handler(w, pid, on_child, NULL) < 0)
		return 2;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&lock);
	while (got == -1000 && r == 0)
		r = pthread_cond_timedwait(&done, &lock, &deadline);
	pthread_mutex_unlock(&lock);
	if (r) {
		fprintf(stderr, "no callback: %s\n", strerror(r));
		return 1;
	}
	printf("returncode %d\n", got);
	return 0;
}
EOF
	# The copy under DESTDIR is not at its real path: the sysroot puts
	# DESTDIR back in front of the paths the .pc file gives.
	run -0 env PKG_CONFIG_PATH="$root/opt/cw/lib/pkgconfig" \
		PKG_CONFIG_SYSROOT_DIR="$root" \
		pkg-config --cflags --libs childwatch
	flags=$output
	[[ $flags == *"-I$root/opt/cw/include"* ]] || false
	[[ $flags == *"-L$root/opt/cw/lib"* && $flags == *-lchildwatch* ]] || false
	# shellcheck disable=SC2086
	run -0 "${CC:-cc}" -std=gnu17 -Wall -Wextra -Werror -pthread \
		-o "$BATS_TEST_TMPDIR/seven" "$BATS_TEST_TMPDIR/seven.c" $flags
	for mode in "${CW_MODES[@]}"; do
		run -0 --separate-stderr env -u LD_PRELOAD \
			LD_LIBRARY_PATH="$root/opt/cw/lib" CHILDWATCH_MODE="$mode" \
			timeout 30 "$BATS_TEST_TMPDIR/seven"
		[[ $output == "returncode 7" ]] || { echo "mode $mode: $output $stderr"; false; }
	done
}

@test "the installed CLI finds the installed library without LD_LIBRARY_PATH" {
	not_sanitized "make install builds and installs the plain build, which make test checks"
	local prefix=$BATS_TEST_TMPDIR/prefix bindir=$BATS_TEST_TMPDIR/bin

	# The usual layout: the library is in ../lib beside the CLI.
	run -0 install_make install PREFIX="$prefix"
	cd "$BATS_TEST_TMPDIR"
	run -0 env -u LD_LIBRARY_PATH -u LD_PRELOAD \
		"$prefix/bin/childwatch" -- sh -c 'echo "$LD_PRELOAD"'
	[[ $(readlink -f "$output") == "$(readlink -f "$prefix/lib/libchildwatch.so.0.1.0")" ]] || false
	run -0 env -u LD_LIBRARY_PATH -u LD_PRELOAD \
		"$prefix/bin/childwatch" -- grep -c "$prefix/lib/libchildwatch" /proc/self/maps
	run -0 install_make uninstall PREFIX="$prefix"
	[[ ! -e $prefix/bin/childwatch && ! -e $prefix/lib/libchildwatch.so ]] || false

	# BINDIR elsewhere: only the compiled-in LIBDIR can lead to it.
	run -0 install_make install PREFIX="$prefix" BINDIR="$bindir"
	run -7 env -u LD_LIBRARY_PATH -u LD_PRELOAD \
		"$bindir/childwatch" -- sh -c 'echo "$LD_PRELOAD"; exit 7'
	[[ $output == "$prefix/lib/libchildwatch.so" ]] || false
	run -0 install_make uninstall PREFIX="$prefix" BINDIR="$bindir"
	run -0 find "$prefix" "$bindir" -type f -o -type l
	[[ -z $output ]]
}

@test "each manual page renders without warnings" {
	command -v man >/dev/null || skip "no man"
	local page
	for page in "$CW_ROOT"/man/childwatch.{1,3,7}; do
		run -0 --separate-stderr man --warnings -l "$page"
		[[ -z $stderr ]] || { echo "$page: $stderr"; false; }
		[[ $output == *"SEE ALSO"* ]] || false
		if command -v groff >/dev/null; then
			run -0 --separate-stderr groff -ww -z -man "$page"
			[[ -z $stderr ]] || { echo "$page: $stderr"; false; }
		fi
	done
}

@test "the library exports only the interposed libc symbols and the cw_ API" {
	local want got
	# The names between global: and local:, split on ';' and blanks.
	want=$(sed -e 's|/\*.*\*/||' "$CW_ROOT/shim/exports.map" |
		awk '/global:/ { on = 1; sub(/.*global:/, "") }
		     /local:/ { on = 0 }
		     on { gsub(/;/, " "); for (i = 1; i <= NF; i++) print $i }' |
		sort)
	got=$(nm -D --defined-only "$CW_LIB" | awk '{ print $3 }' | sort)
	[[ -n $want ]] || false
	if [[ $got != "$want" ]]; then
		diff <(echo "$want") <(echo "$got") | sed 's/^</map only:/; s/^>/exported only:/'
		false
	fi
}
