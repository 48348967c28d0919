#!/bin/sh
# libgrantmem.so exports exactly the functions its headers declare GM_API,
# all under the GRANTMEM_0.1 version node.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}" "${NM:=nm}"
so="$top_builddir/.libs/libgrantmem.so"
[ -f "$so" ] || { echo "no $so (shared library disabled?)"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
# Declared: the name before '(' on lines that start a GM_API declaration.
cat "$top_srcdir"/include/grantmem/*.h | tr '\n' ' ' | sed 's/;/;\n/g' |
	grep 'GM_API' | sed -n 's/.*[ *]\(gm_[a-z0-9_]*\) *(.*/\1/p' | sort -u > "$tmp/declared"
$NM -D --defined-only "$so" | awk '$2 ~ /^[TWDBR]$/ {print $3}' |
	grep -v '^GRANTMEM_' | sed 's/@.*//' | sort -u > "$tmp/exported"
[ -s "$tmp/declared" ] || { echo "found no declarations"; exit 99; }
status=0
if ! diff -u "$tmp/declared" "$tmp/exported"; then
	echo "FAIL: exported symbols differ from the headers ('-' declared only, '+' exported only)"
	status=1
fi
if command -v objdump >/dev/null 2>&1; then
	bad=$(objdump -T "$so" | awk '/ gm_/ && $0 !~ /GRANTMEM_0\.1/' | head -3)
	[ -z "$bad" ] || { echo "FAIL: symbols outside GRANTMEM_0.1: $bad"; status=1; }
fi
echo "$(wc -l < "$tmp/exported") symbols exported"
exit $status
