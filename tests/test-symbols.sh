#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Each library exports exactly the functions its headers declare GM_API,
# under its version node:
#   libgrantmem.so        every header but emu.h and ioreq.h   GRANTMEM_0.1
#                         + the GM__PRIVATE names of every       GRANTMEM_PRIVATE
#                           internal header under lib/ and backends/
#                           but those of sources this configuration does
#                           not build ($GM_PRIVATE_UNBUILT, from local.mk)
#   libgrantmem-emu.so    emu.h                                 GRANTMEM_EMU_0.1
#   libgrantmem-ioreq.so  ioreq.h                               GRANTMEM_IOREQ_0.1
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}" "${NM:=nm}"
inc=$top_srcdir/include/grantmem
libs=$top_builddir/.libs
[ -f "$libs/libgrantmem.so" ] || { echo "no $libs/libgrantmem.so (shared library disabled?)"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
status=0

# declared MARK FILE...: the name before '(' of each declaration marked MARK
# (and, for GM__PRIVATE, of each variable: "GM__PRIVATE extern T name;").
declared() {
	mark=$1
	shift
	cat "$@" | tr '\n' ' ' | sed 's/;/;\n/g' | grep -- "$mark" |
		sed -n 's/.*[ *]\(gm_[a-z0-9_]*\) *(.*/\1/p
			/GM__PRIVATE extern /s/.*[ *]\(gm_[a-z0-9_]*\);.*/\1/p' | sort -u
}

# check LIB NODE DECLARED-FILE: LIB's exports in NODE equal DECLARED-FILE.
check() {
	so=$libs/$1 node=$2 want=$3
	[ -f "$so" ] || { echo "FAIL: $so not built"; status=1; return; }
	[ -s "$want" ] || { echo "FAIL: found no declarations for $1 $node"; status=1; return; }
	objdump -T "$so" | awk -v n="$node" '$0 ~ (" " n " ") && $NF ~ /^gm_/ {print $NF}' |
		sort -u >"$tmp/got"
	if ! diff -u "$want" "$tmp/got"; then
		echo "FAIL: $1 $node differs from the headers ('-' declared only, '+' exported only)"
		status=1
	fi
	# nothing named gm_ outside the library's nodes
	stray=$($NM -D --defined-only "$so" | awk '$3 ~ /^gm_/ {print $3}' | sed 's/@.*//' |
		sort -u | comm -23 - "$tmp/all-$1")
	[ -z "$stray" ] || { echo "FAIL: $1 exports outside its nodes: $stray"; status=1; }
	echo "$1 $node: $(wc -l <"$tmp/got") symbols"
}

core_headers=$(ls "$inc"/*.h | grep -v '/emu\.h$' | grep -v '/ioreq\.h$')
# shellcheck disable=SC2086
declared GM_API $core_headers >"$tmp/core"
(cd "$top_srcdir" && find lib backends -name '*.h') | sort >"$tmp/internal"
for h in ${GM_PRIVATE_UNBUILT:-}; do
	grep -qx "$h" "$tmp/internal" ||
		{ echo "FAIL: $h (GM_PRIVATE_UNBUILT) does not exist"; status=1; }
	grep -vx "$h" "$tmp/internal" >"$tmp/internal.new"
	mv "$tmp/internal.new" "$tmp/internal"
done
# shellcheck disable=SC2046
declared GM__PRIVATE $(sed "s|^|$top_srcdir/|" "$tmp/internal") >"$tmp/private"
declared GM_API "$inc/emu.h" >"$tmp/emu"
declared GM_API "$inc/ioreq.h" >"$tmp/ioreq"
sort -u "$tmp/core" "$tmp/private" >"$tmp/all-libgrantmem.so"
cp "$tmp/emu" "$tmp/all-libgrantmem-emu.so"
cp "$tmp/ioreq" "$tmp/all-libgrantmem-ioreq.so"

check libgrantmem.so GRANTMEM_0.1 "$tmp/core"
check libgrantmem.so GRANTMEM_PRIVATE "$tmp/private"
check libgrantmem-emu.so GRANTMEM_EMU_0.1 "$tmp/emu"
check libgrantmem-ioreq.so GRANTMEM_IOREQ_0.1 "$tmp/ioreq"
exit $status
