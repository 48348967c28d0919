#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run every built libFuzzer target for a bounded time:
#     tests/fuzz/run.sh SECONDS [TARGET...]
# from the build directory (after `make fuzz`; FUZZ_BUILD names another
# directory holding the targets).  Each target runs with
# -max_total_time=SECONDS on a scratch copy of its seed corpus
# (tests/fuzz/corpus/<target>/, never modified), and the script prints one
# line per target and a total:
#     fuzz <target>: execs=N crashes=M
#     fuzz total: execs=N crashes=M targets=K
# The lines are also written to $FUZZ_BUILD/fuzz-summary.txt for
# tests/robustness-report.sh; crash inputs are kept in
# $FUZZ_BUILD/artifacts/.  Exit status 1 if any target crashed.
set -u

secs=${1:?usage: run.sh SECONDS [TARGET...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
bld=${FUZZ_BUILD:-}
if [ -z "$bld" ]; then
	for d in "$PWD/tests/fuzz/build" "$here/build"; do
		if [ -d "$d" ]; then bld=$d; break; fi
	done
fi
if [ -z "$bld" ] || [ ! -d "$bld" ]; then
	echo "fuzz: no targets: run \`make fuzz' first (or set FUZZ_BUILD)" >&2
	exit 2
fi
targets=${*:-fuzz-space fuzz-gnttab fuzz-virtq fuzz-xsconfig}
mkdir -p "$bld/artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/gm-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
summary="$bld/fuzz-summary.txt"
: >"$summary.tmp"

total_execs=0
total_crashes=0
ntargets=0
for t in $targets; do
	bin="$bld/$t"
	[ -x "$bin" ] || continue
	mkdir -p "$work/$t"
	if [ -d "$here/corpus/$t" ]; then
		cp "$here/corpus/$t"/* "$work/$t"/ 2>/dev/null || true
	fi
	log="$bld/$t.log"
	before=$(ls "$bld/artifacts" | grep -c "^$t-" || true)
	"$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="$bld/artifacts/$t-" "$work/$t" >"$log" 2>&1
	rc=$?
	after=$(ls "$bld/artifacts" | grep -c "^$t-" || true)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	[ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	[ -n "$execs" ] || execs=0
	crashes=$((after - before))
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1 # died without leaving an input: still a failure
	fi
	line="fuzz $t: execs=$execs crashes=$crashes"
	echo "$line"
	echo "$line" >>"$summary.tmp"
	if [ "$crashes" -ne 0 ]; then
		grep -E "ERROR|invariant failed|SUMMARY|Test unit written" "$log" | head -n 5 | sed 's/^/    /'
	fi
	total_execs=$((total_execs + execs))
	total_crashes=$((total_crashes + crashes))
	ntargets=$((ntargets + 1))
done
line="fuzz total: execs=$total_execs crashes=$total_crashes targets=$ntargets seconds=$secs"
echo "$line"
echo "$line" >>"$summary.tmp"
mv "$summary.tmp" "$summary"
[ "$total_crashes" -eq 0 ]
