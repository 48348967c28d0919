#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# demo.sh - virtio-blk over grants on an emulated Xen, end to end.
#
#   tools/demo.sh [BUILDDIR]          (or: make demo)
#
# Starts an emulated Xen hub, creates a scratch disk image, lets dom0 play the
# toolstack (backend and frontend directories in xenstore), runs grantmem-blk
# in driver domain 1 -- a backend without any foreign-mapping privilege: it
# maps only what the guest grants it -- and grantmem-guest as test domain 5,
# which drives random reads and writes through fresh grants per request and
# checks every byte it reads.  Ends with the guest's summary line; every
# request count the guest prints counts the same requests (its measured
# I/O), and the demo says so.
#
# Knobs (environment): DEMO_SECONDS (5), DEMO_DEPTH (16), DEMO_SIZE (4096),
# DEMO_QUEUES (2), DEMO_PERSISTENT (0; 1: pooled persistent grants),
# DEMO_IMAGE_MB (64), DEMO_BLK_WRAP (a command that runs the backend, e.g.
# "valgrind --error-exitcode=99": its exit status counts).  Everything it
# starts is stopped and every temporary
# file removed, also on Ctrl-C.
set -u

B=${1:-.}
B=$(cd "$B" && pwd) || exit 1
emu=$B/tools/grantmem-xen-emu
blk=$B/tools/grantmem-blk
guest=$B/tools/grantmem-guest
vdev=$B/tools/grantmem-vdev
for p in "$emu" "$blk" "$guest" "$vdev"; do
	[ -x "$p" ] || { echo "demo: missing $p (run make first)" >&2; exit 1; }
done

seconds=${DEMO_SECONDS:-5}
depth=${DEMO_DEPTH:-16}
size=${DEMO_SIZE:-4096}
queues=${DEMO_QUEUES:-2}
image_mb=${DEMO_IMAGE_MB:-64}
backend_dom=1
guest_dom=5

tmp=$(mktemp -d "${TMPDIR:-/tmp}/grantmem-demo-XXXXXX") || exit 1
hub_pid= blk_pid=
cleanup() {
	trap - EXIT INT TERM
	if [ -n "$blk_pid" ] && kill -0 "$blk_pid" 2>/dev/null; then
		kill -TERM "$blk_pid" 2>/dev/null
		wait "$blk_pid" 2>/dev/null
	fi
	if [ -n "$hub_pid" ] && kill -0 "$hub_pid" 2>/dev/null; then
		kill -TERM "$hub_pid" 2>/dev/null
		wait "$hub_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT TERM

say() { printf '==> %s\n' "$*"; }

say "emulated Xen hub at $tmp/hub"
"$emu" "$tmp/hub" &
hub_pid=$!
for _ in $(seq 100); do
	[ -S "$tmp/hub" ] && break
	kill -0 "$hub_pid" 2>/dev/null || { echo "demo: the hub died" >&2; exit 1; }
	sleep 0.05
done
[ -S "$tmp/hub" ] || { echo "demo: the hub did not start" >&2; exit 1; }
world="emu:$tmp/hub"

say "scratch image: $image_mb MiB"
truncate -s "${image_mb}M" "$tmp/disk.img" || exit 1

say "toolstack (dom0): device 0 from driver domain $backend_dom to domain $guest_dom"
"$vdev" add --xen "$world" --backend-domid $backend_dom --frontend-domid $guest_dom --devid 0 || exit 1

persist=
[ "${DEMO_PERSISTENT:-0}" = 1 ] && persist=--persistent
say "grantmem-blk in domain $backend_dom ($queues queue(s)${persist:+, persistent grants offered})"
wrap=()
if [ -n "${DEMO_BLK_WRAP:-}" ]; then
	# libtool runs the wrapped program itself, not its wrapper script
	# shellcheck disable=SC2206 # the knob is a command line: split it
	wrap=("$B/libtool" --mode=execute ${DEMO_BLK_WRAP})
	say "the backend runs under: $DEMO_BLK_WRAP"
fi
"${wrap[@]}" "$blk" --xen "$world,domid=$backend_dom" --image "$tmp/disk.img" --queues "$queues" \
	--frontend-domid $guest_dom --stats $persist > >(tee "$tmp/blk.out" | sed -u 's/^/    [blk] /') 2>&1 &
blk_pid=$!

say "grantmem-guest as domain $guest_dom: ${seconds}s of random ${size}-byte I/O, depth $depth per queue"
"$guest" --xen "$world,domid=$guest_dom,ram=256m" --seconds "$seconds" --depth "$depth" \
	--size "$size" --queues "$queues" --timeout 30 2>&1 | tee "$tmp/guest.out" | sed -u 's/^/    [guest] /'
guest_rc=${PIPESTATUS[0]}

say "stopping the backend (it releases every mapping) and the hub"
kill -TERM "$blk_pid" 2>/dev/null
wait "$blk_pid"
blk_rc=$?
blk_pid=
kill -TERM "$hub_pid" 2>/dev/null
wait "$hub_pid"
hub_rc=$?
hub_pid=
sleep 0.1 # let the backend's output drain through its prefixing pipe

summary=$(grep '^summary:' "$tmp/guest.out")
rc=0
[ "$guest_rc" -eq 0 ] && [ "$blk_rc" -eq 0 ] && [ "$hub_rc" -eq 0 ] && [ -n "$summary" ] || rc=1
[ $rc -eq 0 ] || echo "demo: FAILED (guest $guest_rc, backend $blk_rc, hub $hub_rc)" >&2
# One count of requests: the guest's (its result line and summary) and the
# backend's reads and writes; the backend's identify and flush requests
# are not the guest's measured I/O and are counted apart.
ours=$(sed -n 's/^summary: requests=\([0-9]*\) .*/\1/p' "$tmp/guest.out")
theirs=$(sed -n 's/.*grantmem-blk: [0-9]* requests: \([0-9]*\) reads, writes and discards.*/\1/p' \
	"$tmp/blk.out")
if [ $rc -eq 0 ] && [ -n "$persist" ] && [ -n "$ours" ] && [ "${theirs:-0}" -ge "$ours" ]; then
	say "$ours requests measured after the persistent warm-up; the backend's $theirs reads and writes include it"
elif [ $rc -eq 0 ] && [ -n "$ours" ] && [ "$ours" = "$theirs" ]; then
	say "$ours requests: the guest's result and summary, and the backend's reads and writes"
elif [ $rc -eq 0 ]; then
	echo "demo: FAILED: the guest counted ${ours:-no} requests, the backend ${theirs:-no} reads and writes" >&2
	rc=1
fi
echo "${summary:-summary: (none: the guest failed)}"
exit $rc
