#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The pages of sections 1 and 7 (docs/man/*.1, grantmem.7):
#   - every installed tool ($GM_INSTALLED_TOOLS, make's bin_PROGRAMS) has a
#     page, and the page is installed ($GM_MAN1_PAGES, dist_man1_MANS); no
#     page for a tool that is not installed;
#   - every long option the tool's --help lists (tools/common/args.h prints
#     its whole option table, --help and --version included) is in its
#     page's OPTIONS, and every option the OPTIONS list is one the tool
#     accepts: the page cannot go stale;
#   - each page has an EXIT STATUS and an EXAMPLES section;
#   - where man(1) is installed, every page formats without a warning.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
: "${GM_INSTALLED_TOOLS:?set by make check}" "${GM_MAN1_PAGES:?set by make check}"
status=0 n=0
fail() { echo "FAIL: $*"; status=1; }

# long_options TOOL: the long options TOOL --help lists, one per line of its
# "options:" block ("  -x, --xen SPEC  ..." or "      --fault ...").
long_options() {
	"$1" --help </dev/null 2>/dev/null |
		awk '/^options:/ { t = 1; next }
		     t && /^[^ ]/ { t = 0 }
		     t && match($0, /^  (-[A-Za-z], |    )--[a-z0-9][a-z0-9-]*/) {
			s = substr($0, 1, RLENGTH); sub(/.*--/, "", s); print s
		     }' | sort -u
}

# page_options PAGE: the long options its OPTIONS section lists (the tag
# line after each .TP).
page_options() {
	awk '/^\.SH/ { in_opts = ($0 ~ /^\.SH "?OPTIONS"?$/) }
	     in_opts && prev == ".TP" { s = $0
		 while (match(s, /\\-\\-[A-Za-z0-9][A-Za-z0-9\\-]*/)) {
			o = substr(s, RSTART + 4, RLENGTH - 4); gsub(/\\-/, "-", o); print o
			s = substr(s, RSTART + RLENGTH)
		 } }
	     { prev = $0 }' "$1" | sort -u
}

for tool in $GM_INSTALLED_TOOLS; do
	name=${tool##*/}
	name=${name%.exe}
	page=$top_srcdir/docs/man/$name.1
	n=$((n + 1))
	[ -f "$page" ] || { fail "$name is installed but has no page docs/man/$name.1"; continue; }
	case " $GM_MAN1_PAGES " in
	*" docs/man/$name.1 "*) ;;
	*) fail "docs/man/$name.1 is not installed (dist_man1_MANS)" ;;
	esac
	opts=$(long_options "$top_builddir/$tool")
	echo "$opts" | grep -qx help || { fail "$name --help lists no options"; continue; }
	listed=$(page_options "$page")
	for o in $opts; do
		echo "$listed" | grep -qx -- "$o" || fail "$name accepts --$o, its page's OPTIONS do not list it"
	done
	for o in $listed; do
		echo "$opts" | grep -qx -- "$o" || fail "$name.1 lists --$o, which $name does not accept"
	done
	grep -Eq '^\.SH "?EXIT STATUS"?$' "$page" || fail "$name.1 has no EXIT STATUS section"
	grep -q '^\.SH EXAMPLES' "$page" || fail "$name.1 has no EXAMPLES section"
done
for page in "$top_srcdir"/docs/man/*.1; do
	name=${page##*/}
	name=${name%.1}
	case " $GM_INSTALLED_TOOLS " in
	*"/$name "* | *"/$name.exe "*) ;;
	*) fail "docs/man/$name.1 documents $name, which is not installed" ;;
	esac
done

if command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1; then
	for page in "$top_srcdir"/docs/man/*.1 "$top_srcdir"/docs/man/*.7; do
		out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
			man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
		[ -z "$out" ] || { fail "${page##*/} does not format cleanly:"; echo "$out"; }
	done
else
	echo "man or groff is not installed: pages not formatted"
fi
echo "$n tools checked"
exit $status
