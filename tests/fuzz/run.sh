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
#
# FUZZ_JOBS targets run at once (default: the number of CPUs), each on one
# core; the lines come out when all are done, in the order of the targets,
# whatever order they finished in.  FUZZ_MAX_LEN caps the input length
# (default 1024 bytes, room for dozens of operations; libFuzzer's own
# default, 4096, lets its inputs and with them the time each execution
# takes grow fourfold).
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
jobs=${FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
case $jobs in '' | *[!0-9]* | 0) jobs=1 ;; esac
max_len=${FUZZ_MAX_LEN:-1024}
mkdir -p "$bld/artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/gm-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
summary="$bld/fuzz-summary.txt"
: >"$summary.tmp"

# One target: run it, leave "EXECS CRASHES" in $work/$t.result and, after a
# crash, the lines worth showing in $work/$t.why.
run_target() {
	t=$1
	bin="$bld/$t"
	mkdir -p "$work/$t"
	if [ -d "$here/corpus/$t" ]; then
		cp "$here/corpus/$t"/* "$work/$t"/ 2>/dev/null || true
	fi
	log="$bld/$t.log"
	before=$(ls "$bld/artifacts" | grep -c "^$t-" || true)
	"$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -max_len="$max_len" \
		-print_final_stats=1 -artifact_prefix="$bld/artifacts/$t-" "$work/$t" >"$log" 2>&1
	rc=$?
	after=$(ls "$bld/artifacts" | grep -c "^$t-" || true)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	[ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	[ -n "$execs" ] || execs=0
	crashes=$((after - before))
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1 # died without leaving an input: still a failure
	fi
	if [ "$crashes" -ne 0 ]; then
		grep -E "ERROR|invariant failed|SUMMARY|Test unit written" "$log" | head -n 5 |
			sed 's/^/    /' >"$work/$t.why"
	fi
	echo "$execs $crashes" >"$work/$t.result"
}

# The targets that are built, dealt round-robin to $jobs slots; each slot
# runs its share one after the other.
built=""
for t in $targets; do
	[ -x "$bld/$t" ] && built="$built $t"
done
slot=0
while [ "$slot" -lt "$jobs" ]; do
	i=0
	mine=""
	for t in $built; do
		[ $((i % jobs)) -eq "$slot" ] && mine="$mine $t"
		i=$((i + 1))
	done
	if [ -n "$mine" ]; then
		(for t in $mine; do run_target "$t"; done) &
	fi
	slot=$((slot + 1))
done
wait

total_execs=0
total_crashes=0
ntargets=0
for t in $built; do
	execs=0
	crashes=1 # no result: the run itself failed
	if [ -f "$work/$t.result" ]; then
		read -r execs crashes <"$work/$t.result"
	fi
	line="fuzz $t: execs=$execs crashes=$crashes"
	echo "$line"
	echo "$line" >>"$summary.tmp"
	[ -f "$work/$t.why" ] && cat "$work/$t.why"
	total_execs=$((total_execs + execs))
	total_crashes=$((total_crashes + crashes))
	ntargets=$((ntargets + 1))
done
line="fuzz total: execs=$total_execs crashes=$total_crashes targets=$ntargets seconds=$secs"
echo "$line"
echo "$line" >>"$summary.tmp"
mv "$summary.tmp" "$summary"
[ "$total_crashes" -eq 0 ]
