#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The house keeps its layers (docs/architecture.md, "Who may use whom"):
#   0. every layer has one public header, and every header in
#      include/grantmem/ but the umbrella grantmem.h is a layer's;
#   1. every #include under lib/, backends/ and include/grantmem/ names its
#      own folder or a layer its row allows;
#   2. every symbol an object file of the build needs from another folder is
#      defined in a layer its row allows (calls and data, from nm);
#   3. no object file needs a symbol of a file that needs one of its own
#      (no call circles, also inside a folder).
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}" "${NM:=nm}"
doc=$top_srcdir/docs/architecture.md
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

# The table: "name folder headers uses..." per layer.
awk -F'|' '/^\| [a-z]+ \| `/ {
	name = $2; folder = $3; header = $4; uses = $6
	gsub(/[ `]/, "", name); gsub(/[ `]/, "", folder); gsub(/[ `]/, "", header)
	gsub(/^ +| +$/, "", uses)
	print name, folder, header, uses
}' "$doc" >"$tmp/layers"
[ "$(wc -l <"$tmp/layers")" -ge 8 ] || { echo "no layer table in $doc"; exit 99; }

status=0
fail() {
	echo "FAIL: $*"
	status=1
}

# layer_of_path PATH: the layer whose folder holds PATH (relative to srcdir)
layer_of_path() {
	awk -v p="$1" '{ if (index(p, $2 "/") == 1) { print $1; exit } }' "$tmp/layers"
}
layer_of_header() {
	awk -v h="$1" '{ n = split($3, hs, ","); for (i = 1; i <= n; i++) if (hs[i] == h) { print $1; exit } }' "$tmp/layers"
}
# allowed FROM TO: may layer FROM use layer TO?
allowed() {
	[ "$1" = "$2" ] && return 0
	awk -v f="$1" -v t="$2" '$1 == f { for (i = 4; i <= NF; i++) if ($i == t) ok = 1 }
		END { exit !ok }' "$tmp/layers"
}

# ---- 0. one public header per layer ----
while read -r name _ header _; do
	case $header in
	'' | *,*) fail "layer $name names ${header:-no header}: want one public header" ;;
	esac
done <"$tmp/layers"
for h in "$top_srcdir"/include/grantmem/*.h; do
	h=${h##*/}
	[ "$h" = grantmem.h ] || [ -n "$(layer_of_header "$h")" ] ||
		fail "include/grantmem/$h is no layer's public header"
done

# ---- 1. includes ----
nincl=0
cd "$top_srcdir" || exit 99
for f in $(find lib backends include/grantmem -name '*.[ch]' | sort); do
	case $f in
	include/grantmem/grantmem.h) continue ;;
	include/grantmem/*) from=$(layer_of_header "${f##*/}") ;;
	*) from=$(layer_of_path "$f") ;;
	esac
	[ -n "$from" ] || { fail "$f belongs to no layer of docs/architecture.md"; continue; }
	sed -n 's/^[ \t]*#[ \t]*include[ \t]*\([<"][^>"]*[>"]\).*/\1/p' "$f" >"$tmp/incs"
	while read -r inc; do
		to=
		case $inc in
		'<grantmem/grantmem.h>') fail "$f includes the umbrella header"; continue ;;
		'<grantmem/'*) h=${inc#<grantmem/}; h=${h%>}; to=$(layer_of_header "$h")
			[ -n "$to" ] || { fail "$f includes unknown <grantmem/$h>"; continue; } ;;
		'"config.h"') continue ;;
		'"'*/*'"') p=${inc#\"}; p=${p%\"}
			for root in lib backends; do
				[ -f "$root/$p" ] && to=$(layer_of_path "$root/$p")
			done
			[ -n "$to" ] || { fail "$f includes \"$p\", found in no layer"; continue; } ;;
		'"'*'"') p=${inc#\"}; p=${p%\"}
			[ -f "$(dirname "$f")/$p" ] || { fail "$f includes \"$p\", not in its folder"; continue; }
			to=$from ;;
		*) continue ;; # system headers
		esac
		nincl=$((nincl + 1))
		allowed "$from" "$to" || fail "$f ($from) includes $inc of layer $to"
	done <"$tmp/incs"
done
cd - >/dev/null || exit 99

# ---- 2. and 3. symbols ----
# Object files of the library folders: libtool's PIC objects in .libs/ when
# shared libraries are built, else the plain ones.
objs=$(find "$top_builddir/lib" "$top_builddir/backends" -path '*/.libs/*.o' 2>/dev/null | sort)
[ -n "$objs" ] || objs=$(find "$top_builddir/lib" "$top_builddir/backends" -name '*.o' 2>/dev/null | sort)
[ -n "$objs" ] || { echo "no object files under $top_builddir/lib: build first"; exit 99; }
for o in $objs; do
	rel=${o#"$top_builddir"/}
	dir=$(dirname "$rel"); dir=${dir%/.libs}
	base=$(basename "$rel" .o); base=${base#*_la-} # libtool's per-target prefix
	node=$dir/$base
	$NM -P "$o" | awk -v n="$node" '
		$2 ~ /^[TDBRWVGS]$/ { print "D", n, $1 }
		$2 ~ /^[Uw]$/ { print "U", n, $1 }'
done >"$tmp/syms"
# edges "from to", each once, between different files
awk '$1 == "D" { def[$3] = $2 } $1 == "U" { use[++n] = $2 " " $3 }
	END { for (i = 1; i <= n; i++) { split(use[i], u, " ")
		if ((u[2] in def) && def[u[2]] != u[1]) print u[1], def[u[2]] } }' \
	"$tmp/syms" | sort -u >"$tmp/edges"
nedges=$(wc -l <"$tmp/edges")
while read -r a b; do
	la=$(layer_of_path "$a/") lb=$(layer_of_path "$b/")
	[ -n "$la" ] && [ -n "$lb" ] || { fail "object $a or $b belongs to no layer"; continue; }
	allowed "$la" "$lb" || fail "$a ($la) uses $b ($lb)"
done <"$tmp/edges"
# circles: a file that reaches itself through the edges
awk '{ out[$1] = out[$1] " " $2; node[$1]; node[$2] }
	function visit(v,   i, k, w) {
		state[v] = 1; path[++depth] = v
		k = split(out[v], w, " ")
		for (i = 1; i <= k; i++) {
			if (state[w[i]] == 1) { cyc = w[i]; for (j = depth; j >= 1 && path[j] != w[i]; j--) cyc = path[j] " -> " cyc
				print "FAIL: call circle: " w[i] " -> " cyc; bad = 1 }
			else if (!state[w[i]]) visit(w[i])
		}
		state[v] = 2; depth--
	}
	END { for (v in node) if (!state[v]) visit(v); exit bad }' "$tmp/edges" || status=1

echo "$nincl includes and $nedges cross-file symbol uses checked against $(wc -l <"$tmp/layers") layers"
exit $status
