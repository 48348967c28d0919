#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The section 3 pages (docs/man/gen-man3.sh, built into docs/man/man3/):
#   - every function the three libraries export (nm -D --defined-only,
#     names gm_*) has a page, its own or a ".so" alias of its group's; the
#     base layer's gm__ names (GRANTMEM_PRIVATE) are internal and have none;
#   - every alias points at a page that exists, every header has its page;
#   - where man(1) is installed, every page formats without a warning (the
#     check lintian makes).
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}" "${NM:=nm}"
man3=$top_builddir/docs/man/man3
libs=$top_builddir/.libs
[ -f "$libs/libgrantmem.so" ] || { echo "no $libs/libgrantmem.so (shared library disabled?)"; exit 77; }
[ -d "$man3" ] || { echo "FAIL: no $man3 (the pages are built by make all)"; exit 1; }
status=0 n=0

for lib in libgrantmem libgrantmem-emu libgrantmem-ioreq; do
	so=$libs/$lib.so
	[ -f "$so" ] || { echo "FAIL: $so not built"; status=1; continue; }
	names=$($NM -D --defined-only "$so" | awk '$3 ~ /^gm_/ && $3 !~ /^gm__/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
	[ -n "$names" ] || { echo "FAIL: $lib exports no gm_ function"; status=1; }
	for f in $names; do
		n=$((n + 1))
		[ -f "$man3/$f.3" ] || { echo "FAIL: $lib exports $f, which has no page"; status=1; }
	done
done

for p in "$man3"/*.3; do
	target=$(sed -n '1s/^\.so man3\///p' "$p")
	[ -z "$target" ] || [ -f "$man3/$target" ] ||
		{ echo "FAIL: ${p##*/} is an alias of $target, which does not exist"; status=1; }
done
for h in "$top_srcdir"/include/grantmem/*.h; do
	name=${h##*/}
	name=${name%.h}
	[ "$name" = grantmem ] || name=grantmem-$name
	[ -f "$man3/$name.3" ] || { echo "FAIL: ${h##*/} has no page $name(3)"; status=1; }
done

# Format each page as lintian does; .so aliases need the man3/ layout.
if command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1; then
	for p in "$man3"/*.3; do
		out=$(cd "$man3/.." && LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
			man --warnings -E UTF-8 -l -Tutf8 -Z "man3/${p##*/}" 2>&1 >/dev/null)
		[ -z "$out" ] || { echo "FAIL: ${p##*/} does not format cleanly:"; echo "$out"; status=1; }
	done
else
	echo "man or groff is not installed: pages not formatted"
fi
echo "$n exported functions, $(find "$man3" -name '*.3' | wc -l) pages"
exit $status
