#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's Layout names the house as it is: every folder that has a
# local.mk (the build's rooms), and every other folder to three levels that
# holds sources, scripts or documents, is listed there, and every folder
# listed there exists.
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
	in_s && in_b && /^[.a-z][^ ]*\/ / { sub(/\/ .*/, ""); print }' "$readme" | sort >"$tmp/listed"
[ -s "$tmp/listed" ] || { echo "no Layout block in $readme"; exit 99; }
find . -name local.mk -not -path './build/*' -not -path './_build/*' |
	sed 's|^\./||; s|/local.mk$||' | sort >"$tmp/rooms"
[ -s "$tmp/rooms" ] || { echo "no local.mk found under $PWD"; exit 99; }
# every folder to three levels holding what is written by hand (not what a
# build makes: objects, programs, logs; not build trees, not the fuzzers'
# corpora, not debian/source, which is Debian's own)
find . -maxdepth 4 -type f \( -name '*.[ch]' -o -name '*.sh' -o -name '*.mk' -o -name '*.md' \
	-o -name '*.in' -o -name '*.cfg' -o -name '*.[17]' -o -name '*.sym' -o -name '*.m4' \
	-o -name '*-init' -o -name run -o -name control \) |
	sed 's|^\./||; s|/[^/]*$||' | grep -v -E '^(\.|build|_build|autom4te\.cache|build-aux)(/|$)|/\.|^[^/]*\.[a-z]+$|^debian/source$|^tests/fuzz/corpus|^tests/xen/work' |
	grep '/' >"$tmp/more" || true
find . -maxdepth 2 -type f -path './.ci/*' | sed 's|^\./||; s|/[^/]*$||' >>"$tmp/more"
sort -u "$tmp/rooms" "$tmp/more" >"$tmp/all"

status=0
for d in $(comm -23 "$tmp/all" "$tmp/listed"); do
	if grep -q -x "$d" "$tmp/rooms"; then
		echo "FAIL: $d has a local.mk but $readme's Layout does not list it"
	else
		echo "FAIL: $d holds sources or documents but $readme's Layout does not list it"
	fi
	status=1
done
while read -r d; do
	[ -d "$d" ] || { echo "FAIL: $readme's Layout lists $d/, which does not exist"; status=1; }
done <"$tmp/listed"
echo "$(wc -l <"$tmp/all") folders ($(wc -l <"$tmp/rooms") with a local.mk), $(wc -l <"$tmp/listed") listed in the Layout"
exit $status
