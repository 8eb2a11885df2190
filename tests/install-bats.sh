#!/bin/sh
# SPDX-License-Identifier: MIT
# install-bats.sh DIR VERSION: prints the path of a bats to run the suite
# with. The one on PATH if any; else bats-core VERSION from the npm
# registry, or Debian's bats package, unpacked under DIR (no root needed
# once the package lists are there).
set -eu
dir=$1
version=$2

if command -v bats >/dev/null 2>&1; then
	command -v bats
	exit 0
fi
for bats in "$dir/node_modules/bats/bin/bats" "$dir/deb/usr/bin/bats"; do
	if [ -x "$bats" ]; then
		echo "$bats"
		exit 0
	fi
done
mkdir -p "$dir"
if command -v npm >/dev/null 2>&1 &&
	npm install --silent --no-audit --no-fund --prefix "$dir" \
		"bats@$version" >&2; then
	echo "$dir/node_modules/bats/bin/bats"
	exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
	if ! (cd "$dir" && apt-get download bats >&2 2>/dev/null) &&
		[ "$(id -u)" = 0 ]; then
		apt-get update -qq >&2 && (cd "$dir" && apt-get download bats >&2)
	fi
	if ls "$dir"/bats_*.deb >/dev/null 2>&1 &&
		dpkg-deb -x "$dir"/bats_*.deb "$dir/deb"; then
		echo "$dir/deb/usr/bin/bats"
		exit 0
	fi
fi
echo "make test: bats-core is missing and could not be fetched;" \
	"install it (apt-get install bats, or npm install -g bats@$version)" >&2
exit 1
