#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian packaging (debian/) agrees with the build:
#   - debian/libgrantmem0.symbols lists, for each library, exactly the
#     gm_ functions it exports under its public version node (the
#     GRANTMEM_PRIVATE helpers are covered by one optional pattern), so that
#     dpkg-gensymbols (run at check level 4 by debian/rules) never meets a
#     symbol the file does not know;
#   - debian/changelog's version is the one configure.ac gives the build.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}" "${NM:=nm}"
syms=$top_srcdir/debian/libgrantmem0.symbols
libs=$top_builddir/.libs
[ -f "$syms" ] || { echo "FAIL: no $syms"; exit 1; }
[ -f "$libs/libgrantmem.so" ] || { echo "no $libs/libgrantmem.so (shared library disabled?)"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
status=0

version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")
changelog=$(sed -n '1s/^grantmem (\([^)]*\)).*/\1/p' "$top_srcdir/debian/changelog")
if [ -z "$version" ] || [ "$version" != "$changelog" ]; then
	echo "FAIL: debian/changelog is at \"$changelog\", configure.ac at \"$version\""
	status=1
fi

grep -q '^ (symver|optional)GRANTMEM_PRIVATE ' "$syms" ||
	{ echo "FAIL: $syms does not cover GRANTMEM_PRIVATE with an optional pattern"; status=1; }
for pair in libgrantmem:GRANTMEM_0.1 libgrantmem-emu:GRANTMEM_EMU_0.1 \
	libgrantmem-ioreq:GRANTMEM_IOREQ_0.1; do
	lib=${pair%%:*} node=${pair#*:}
	[ -f "$libs/$lib.so" ] || { echo "FAIL: $lib.so not built"; status=1; continue; }
	$NM -D --defined-only "$libs/$lib.so" |
		awk -v n="$node" '{ s = $3; if (s ~ ("@@" n "$")) { sub(/@@/, "@", s); print s } }' |
		sort >"$tmp/exported"
	# the symbols of LIB's section of the file, without the node's own
	awk -v so="$lib.so.0" '/^[^ *#]/ { in_lib = ($1 == so) } in_lib && /^ gm_/ { print $1 }' \
		"$syms" | sort >"$tmp/listed"
	grep -q "^$lib.so.0 libgrantmem0 " "$syms" || { echo "FAIL: $syms has no $lib.so.0"; status=1; }
	if ! diff -u "$tmp/listed" "$tmp/exported" >"$tmp/diff"; then
		echo "FAIL: $syms differs from what $lib exports ('-' listed only, '+' exported only):"
		cat "$tmp/diff"
		status=1
	fi
	echo "$lib: $(wc -l <"$tmp/exported") symbols"
done
exit $status
