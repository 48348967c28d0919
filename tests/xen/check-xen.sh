#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make check-xen: both real-Xen scenarios, one result line.
#   1. tests/xen/run.sh           PV dom0 + PV test domain (grantmem's own programs)
#   2. tests/xen/pvh/run-pvh.sh   a PVH guest's own virtio-blk driver over an
#                                 ioreq server (skipped with GM_XEN_SKIP_PVH=1)
# Each prints its checks and ends with "N passed, M failed"; this script
# prints the sum the same way and fails if either did.
set -u
builddir=$1 srcdir=$2
total_pass=0 total_fail=0 status=0

run() { # run NAME SCRIPT: run one scenario, add its counts
	local name=$1 script=$2 log last
	log=$(mktemp) || exit 99
	bash "$script" "$builddir" "$srcdir" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	rm -f "$log"
	if [ -z "$last" ]; then
		echo "check-xen: $name gave no result line (exit $rc)"
		total_fail=$((total_fail + 1))
		status=1
		return
	fi
	local p f
	p=${last%% passed*}
	f=${last#*passed, }
	f=${f%% failed*}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	[ "$rc" -eq 0 ] && [ "$f" -eq 0 ] || status=1
}

run "PV scenario" "$srcdir/tests/xen/run.sh"
if [ "${GM_XEN_SKIP_PVH:-0}" = 1 ]; then
	echo "check-xen: PVH scenario skipped (GM_XEN_SKIP_PVH=1)"
elif grep -q '^#define GM_HAVE_IOREQ 1' "$builddir/config.h"; then
	run "PVH scenario" "$srcdir/tests/xen/pvh/run-pvh.sh"
else
	echo "check-xen: PVH scenario needs the ioreq server (configure found no libxendevicemodel)"
	total_fail=$((total_fail + 1))
	status=1
fi
echo "$total_pass passed, $total_fail failed"
exit $status
