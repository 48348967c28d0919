#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# demo-net.sh - virtio-net over grants on an emulated Xen, against the
# kernel's own network stack.
#
#   tools/demo-net.sh [BUILDDIR]          (or: make demo-net; needs root)
#
# Starts an emulated Xen hub, lets dom0 play the toolstack, runs
# grantmem-net in driver domain 1 on a tap, moves the tap into a network
# namespace of its own with address 10.77.0.1 and an echo server there
# (tests/net-echo: the kernel's TCP and UDP answer), and runs
# grantmem-netguest as test domain 5 (10.77.0.2): ARP, pings, UDP echoes
# and a TCP stream echoed back, every byte checked, a progress line a
# second.  Ends with the guest's summary line.
#
# Knobs (environment): DEMO_TCP (16m: bytes streamed), DEMO_PING (10),
# DEMO_PAIRS (1), DEMO_PERSISTENT (0; 1: persistent grants), DEMO_TSO (1:
# 64 KiB TSO frames out).  Everything it starts is stopped, the namespace
# and every temporary file removed, also on Ctrl-C.
set -u

B=${1:-.}
B=$(cd "$B" && pwd) || exit 1
emu=$B/tools/grantmem-xen-emu
net=$B/tools/grantmem-net
guest=$B/tools/grantmem-netguest
vdev=$B/tools/grantmem-vdev
echo_srv=$B/tests/net-echo
for p in "$emu" "$net" "$guest" "$vdev"; do
	[ -x "$p" ] || { echo "demo-net: missing $p (run make first)" >&2; exit 1; }
done
[ -x "$echo_srv" ] || { echo "demo-net: missing $echo_srv (run make check, or make tests/net-echo)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "demo-net: needs root (a tap and a network namespace)" >&2; exit 1; }

tcp=${DEMO_TCP:-16m}
ping=${DEMO_PING:-10}
pairs=${DEMO_PAIRS:-1}
ns=gmdemo$$
tap=gmd$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/grantmem-demo-net-XXXXXX") || exit 1
pids=()
cleanup() {
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "demo-net: interrupted" >&2; exit 130' INT TERM
say() { printf '==> %s\n' "$*"; }
wait_for() {
	for _ in $(seq 200); do
		test "$@" && return 0
		sleep 0.05
	done
	return 1
}

say "emulated Xen hub at $tmp/hub"
"$emu" "$tmp/hub" & pids+=($!)
wait_for -S "$tmp/hub" || { echo "demo-net: the hub did not start" >&2; exit 1; }
world="emu:$tmp/hub"
say "toolstack (dom0): a network device from driver domain 1 to domain 5"
"$vdev" add --xen "$world" --backend-domid 1 --frontend-domid 5 --devid 0 || exit 1
persist=
[ "${DEMO_PERSISTENT:-0}" = 1 ] && persist=--persistent
say "grantmem-net in domain 1 on tap $tap ($pairs queue pair(s)${persist:+, persistent grants offered})"
"$net" --xen "$world,domid=1" --frontend-domid 5 --tap "$tap" --queue-pairs "$pairs" --stats \
	$persist > >(tee "$tmp/net.out" | sed -u 's/^/    [net] /') 2>&1 & pids+=($!)
# the tap moves only once grantmem-net holds every queue of it (a queue
# opened after the move would make a second tap by that name)
wait_for_serving() {
	for _ in $(seq 200); do
		grep -q ' serving tap ' "$tmp/net.out" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
wait_for_serving && [ -e "/sys/class/net/$tap" ] || { echo "demo-net: no tap" >&2; exit 1; }
say "network namespace $ns: the tap with 10.77.0.1/24, an echo server on port 7777"
ip netns add "$ns" && ip -n "$ns" link set lo up && ip link set "$tap" netns "$ns" &&
	ip -n "$ns" addr add 10.77.0.1/24 dev "$tap" && ip -n "$ns" link set "$tap" up || exit 1
ip netns exec "$ns" "$echo_srv" 0.0.0.0 7777 "$tmp/ready" 600 & pids+=($!)
wait_for -f "$tmp/ready" || { echo "demo-net: the echo server did not start" >&2; exit 1; }

tso=
[ "${DEMO_TSO:-1}" = 1 ] && tso=--tso
say "grantmem-netguest as domain 5 (10.77.0.2): ARP, $ping pings, 100 UDP echoes, $tcp over TCP"
"$guest" --xen "$world,domid=5,ram=256m" --ip 10.77.0.2 --peer 10.77.0.1 --ping "$ping" \
	--udp 100 --tcp "$tcp" --tcp-port 7777 --udp-port 7777 --pairs "$pairs" $tso --timeout 30 2>&1 |
	tee "$tmp/guest.out" | sed -u 's/^/    [guest] /'
guest_rc=${PIPESTATUS[0]}
say "stopping the backend (it releases every mapping), the echo server and the hub"
cleanup_rc=0
kill -TERM "${pids[1]}" 2>/dev/null
wait "${pids[1]}" || cleanup_rc=$?
sleep 0.1
summary=$(grep '^summary:' "$tmp/guest.out")
rc=0
[ "$guest_rc" -eq 0 ] && [ "$cleanup_rc" -eq 0 ] && [ -n "$summary" ] || rc=1
[ $rc -eq 0 ] || echo "demo-net: FAILED (guest $guest_rc, backend $cleanup_rc)" >&2
echo "${summary:-summary: (none: the guest failed)}"
exit $rc
