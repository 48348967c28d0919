#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's Layout names the house as it is: every folder that has a
# local.mk (the build's rooms) is listed there, and every folder listed
# there exists.
set -u
: "${top_srcdir:=.}"
cd "$top_srcdir" || exit 99
readme=README.md
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

# the folders of the Layout section's block: "folder/  text" lines
awk '/^## Layout$/ { in_s = 1; next }
	in_s && /^## / { exit }
	in_s && /^```/ { in_b = !in_b; next }
	in_s && in_b && /^[a-z][^ ]*\/ / { sub(/\/ .*/, ""); print }' "$readme" | sort >"$tmp/listed"
[ -s "$tmp/listed" ] || { echo "no Layout block in $readme"; exit 99; }
find . -name local.mk -not -path './build/*' -not -path './_build/*' |
	sed 's|^\./||; s|/local.mk$||' | sort >"$tmp/rooms"
[ -s "$tmp/rooms" ] || { echo "no local.mk found under $PWD"; exit 99; }

status=0
for d in $(comm -23 "$tmp/rooms" "$tmp/listed"); do
	echo "FAIL: $d has a local.mk but $readme's Layout does not list it"
	status=1
done
while read -r d; do
	[ -d "$d" ] || { echo "FAIL: $readme's Layout lists $d/, which does not exist"; status=1; }
done <"$tmp/listed"
echo "$(wc -l <"$tmp/rooms") folders with a local.mk, $(wc -l <"$tmp/listed") listed in the Layout"
exit $status
