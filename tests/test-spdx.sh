#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every source, script and build file of grantmem says its licence in an
# SPDX-License-Identifier line within its first five lines, and the licence
# is one the project allows:
#   LGPL-2.1-or-later  everything (COPYING)
#   GPL-2.0            guest kernel code: the Linux modules of the PVH test
#                      domain, tests/xen/pvh/*.c with a MODULE_LICENSE
#                      (COPYING.GPL-2)
# The files are those git tracks in a clone, and in a release tarball every
# file but what autotools, configure and an in-tree build generate.
# Sources, scripts and build files: C, shell, Python, awk, automake,
# autoconf, m4, *.in templates, linker version scripts, configs, man page
# sources, debian/rules and anything else that starts with "#!".  Data
# (fuzz corpora, benchmark results) and prose (*.md) are not checked.
set -u
: "${top_srcdir:=.}"
cd "$top_srcdir" || exit 99
status=0

for f in COPYING COPYING.GPL-2; do
	[ -s "$f" ] || { echo "FAIL: no $f"; status=1; }
done

owned_files() {
	if [ -e .git ] && git ls-files >/dev/null 2>&1; then
		git ls-files
		return
	fi
	# a tarball: what make dist ships, less what is generated from it
	find . \( -name .git -o -name autom4te.cache -o -path ./build-aux -o -path ./build \
		-o -name .deps -o -name .libs -o -path ./docs/man/man3 \
		-o -path ./tests/fuzz/build -o -path ./tests/xen/work -o -path ./_build -o -path ./_inst \
		-o -path ./debian/tmp -o -path './debian/.debhelper' -o -path './debian/*/DEBIAN' \) -prune \
		-o -type f -print | sed 's|^\./||' |
		grep -v -x -e configure -e Makefile.in -e '.*/Makefile\.in' -e aclocal.m4 \
			-e config.h.in -e config.h -e config.status -e config.log -e libtool \
			-e Makefile -e 'm4/libtool\.m4' -e 'm4/lt.*\.m4' -e 'grantmem.*\.pc' \
			-e 'debian/[a-z0-9.+-]*/.*'
}

# checked PATH: whether PATH is a source, script or build file.
checked() {
	case $1 in
	tests/fuzz/corpus/* | *.md | *.png | *.json | *.txt) return 1 ;;
	*.c | *.h | *.sh | *.py | *.awk | *.am | *.mk | *.ac | *.m4 | *.in | *.sym | *.cfg | *.config)
		return 0 ;;
	docs/man/*.[1-8] | debian/rules) return 0 ;;
	esac
	[ "$(head -c 2 "$1" 2>/dev/null)" = '#!' ]
}

n=0
tmp=$(mktemp) || exit 99
trap 'rm -f "$tmp"' EXIT
owned_files >"$tmp"
while IFS= read -r f; do
	[ -f "$f" ] || continue
	checked "$f" || continue
	n=$((n + 1))
	id=$(head -n 5 "$f" | sed -n 's/.*SPDX-License-Identifier: *\([A-Za-z0-9.+-]*\).*/\1/p' | head -n 1)
	case $id in
	LGPL-2.1-or-later) ;;
	GPL-2.0)
		case $f in
		tests/xen/pvh/*.c)
			grep -q 'MODULE_LICENSE(' "$f" ||
				{ echo "FAIL: $f: GPL-2.0 is for guest kernel modules only"; status=1; } ;;
		*) echo "FAIL: $f: GPL-2.0 outside the guest kernel code"; status=1 ;;
		esac ;;
	'') echo "FAIL: $f: no SPDX-License-Identifier line in its first 5 lines"; status=1 ;;
	*) echo "FAIL: $f: licence $id is not allowed"; status=1 ;;
	esac
done <"$tmp"
[ "$n" -gt 0 ] || { echo "found no files to check"; exit 99; }
echo "$n files checked"
exit $status
