#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench-plot.sh JSON PNG - plot the access strategies of a grantmem-bench run
# (tools/grantmem-bench --json JSON): ns per access against access size, both
# on log scales, one line per strategy, reads and writes side by side.
#
# Needs gnuplot (Debian: gnuplot-nox) and awk only: grantmem-bench writes one
# row per line, so the rows are picked out with awk, not a JSON parser.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: bench-plot.sh JSON PNG" >&2
	exit 2
fi
json=$1
png=$2
if ! command -v gnuplot >/dev/null; then
	echo "bench-plot.sh: gnuplot not found (Debian: apt-get install gnuplot-nox)" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "strategy dir bytes median" for every strategy row with a median.
awk '
	/"group":"strategy"/ {
		s = $0; sub(/.*"strategy":"/, "", s); sub(/".*/, "", s)
		d = $0; sub(/.*"dir":"/, "", d); sub(/".*/, "", d)
		b = $0; sub(/.*"bytes":/, "", b); sub(/[,}].*/, "", b)
		m = $0; sub(/.*"median":/, "", m); sub(/[,}].*/, "", m)
		if (m != "null")
			print s, d, b, m
	}' "$json" >"$tmp/rows"
if [ ! -s "$tmp/rows" ]; then
	echo "bench-plot.sh: no strategy rows in $json" >&2
	exit 1
fi

strategies="cached map_per_access grant_copy transient memcpy bytes_ram"
declare -A title=(
	[cached]="grantmem cached (gm_read/gm_write hit)"
	[map_per_access]="map per access (vm-memory grant mode)"
	[grant_copy]="grant copy"
	[transient]="grantmem transient map"
	[memcpy]="memcpy, plain RAM"
	[bytes_ram]="gm_read/gm_write, RAM region"
)
for s in $strategies; do
	for d in read write; do
		awk -v s="$s" -v d="$d" '$1 == s && $2 == d { print $3, $4 }' "$tmp/rows" |
			sort -n >"$tmp/$s.$d"
	done
done

world=$(sed -n 's/.*"world":"\([a-z]*\)".*/\1/p' "$json" | head -n1)
cpu=$(sed -n 's/.*"cpu":"\([^"]*\)".*/\1/p' "$json" | head -n1)

{
	echo "set terminal pngcairo noenhanced size 1400,700 font 'sans,10'"
	echo "set output '$png'"
	echo "set multiplot layout 1,2 title 'grantmem access strategies, ${world:-?} Xen, ${cpu//\'/}'"
	echo "set logscale xy"
	echo "set xlabel 'access size (bytes)'"
	echo "set ylabel 'ns per access (median)'"
	echo "set xtics ('64' 64, '512' 512, '4 KiB' 4096, '64 KiB' 65536)"
	echo "set xrange [48:90000]"
	echo "set grid"
	echo "set key below"
	for d in read write; do
		echo "set title '${d}s'"
		plot="plot"
		sep=""
		for s in $strategies; do
			[ -s "$tmp/$s.$d" ] || continue
			plot+="$sep '$tmp/$s.$d' using 1:2 with linespoints lw 2 title '${title[$s]}'"
			sep=","
		done
		echo "$plot"
	done
	echo "unset multiplot"
} >"$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
echo "bench-plot.sh: wrote $png"
