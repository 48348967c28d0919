#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every public header compiles alone, in C and in C++, with -Wall -Werror.
set -u
: "${top_srcdir:=.}" "${CC:=cc}" "${CXX:=c++}"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
for h in "$top_srcdir"/include/grantmem/*.h; do
	name=${h##*/}
	printf '#include <grantmem/%s>\nint gm_header_test_%s;\n' "$name" "$(echo "$name" | tr -c 'a-z0-9\n' _)" > "$tmp/t.c"
	cp "$tmp/t.c" "$tmp/t.cc"
	if ! $CC -std=c11 -Wall -Wextra -Werror -pedantic -I"$top_srcdir/include" -c "$tmp/t.c" -o "$tmp/t.o"; then
		echo "FAIL: $name does not compile alone as C"; fail=1
	fi
	if ! $CXX -std=c++11 -Wall -Wextra -Werror -I"$top_srcdir/include" -c "$tmp/t.cc" -o "$tmp/t.o"; then
		echo "FAIL: $name does not compile alone as C++"; fail=1
	fi
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no headers found"; exit 99; }
echo "$n headers checked"
exit $fail
