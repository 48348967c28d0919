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

# The grant address macros are integer constant expressions in both
# languages: the round trip of the largest gref checked at compile time.
cat > "$tmp/g.c" <<'EOF2'
#include <grantmem/grant.h>
#ifdef __cplusplus
#define GM_CHECK(e) static_assert(e, #e)
#else
#define GM_CHECK(e) _Static_assert(e, #e)
#endif
GM_CHECK(GM_GRANT_REF(GM_GRANT_ADDR(0xffffffffu, 4095)) == 0xffffffffu);
GM_CHECK(GM_GRANT_OFFSET(GM_GRANT_ADDR(0xffffffffu, 4095)) == 4095);
GM_CHECK(GM_GRANT_REF(GM_GRANT_ADDR(0, 0)) == 0 && GM_GRANT_OFFSET(GM_GRANT_ADDR(0, 0)) == 0);
GM_CHECK(GM_GRANT_IS_GRANT(GM_GRANT_ADDR(0, 0)) && !GM_GRANT_IS_GRANT(4096));
GM_CHECK(sizeof(GM_GRANT_REF(0)) == sizeof(gm_gref));
int gm_grant_macros_test;
EOF2
cp "$tmp/g.c" "$tmp/g.cc"
if ! $CC -std=c11 -Wall -Wextra -Werror -pedantic -I"$top_srcdir/include" -c "$tmp/g.c" -o "$tmp/g.o"; then
	echo "FAIL: the grant.h address macros do not work in C"; fail=1
fi
if ! $CXX -std=c++11 -Wall -Wextra -Werror -I"$top_srcdir/include" -c "$tmp/g.cc" -o "$tmp/g.o"; then
	echo "FAIL: the grant.h address macros do not work in C++"; fail=1
fi
echo "$n headers checked"
exit $fail
