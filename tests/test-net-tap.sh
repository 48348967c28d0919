#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# grantmem-net against the kernel's own network stack.  An emulated Xen hub;
# grantmem-net in driver domain 1 on a tap it creates; the tap moved into a
# network namespace the test creates, with an address; there, tests/net-echo
# (TCP and UDP echo servers: the kernel's TCP answers); grantmem-netguest as
# domain 5 resolves ARP, pings, exchanges UDP and TCP traffic through the
# backend and checks every byte.  Each case runs the whole chain in one
# configuration: transient and persistent grants, split and packed rings,
# offloads on (checksums and TSO both ways) and off, mergeable receive
# buffers or not, two queue pairs, hostile frames first; and the grant-copy
# data path (--data copy: no map call for data, every queue's copies
# counted; --data auto; read-only receive buffers).  Traffic stays in
# the namespace; every case is bounded in packets and seconds; the
# namespace, the processes and the files go whatever happens.
#
# Skips (77) only without root or without /dev/net/tun.
set -u
B=${top_builddir:-.}
B=$(cd "$B" && pwd) || exit 99
emu=$B/tools/grantmem-xen-emu
net=$B/tools/grantmem-net
guest=$B/tools/grantmem-netguest
vdev=$B/tools/grantmem-vdev
echo_srv=$B/tests/net-echo
for p in "$emu" "$net" "$guest" "$vdev" "$echo_srv"; do
	[ -x "$p" ] || { echo "missing $p"; exit 99; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a tap and a network namespace)"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
command -v ip >/dev/null || { echo "no ip (iproute2)"; exit 99; }

ns=gmnet$$
tap=gmt$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gm-net-XXXXXX") || exit 99
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	ip netns del "$ns" 2>/dev/null
	ip link del "$tap" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' INT TERM

wait_for() { # wait_for TEST-ARGS...: up to 10 s
	for _ in $(seq 200); do
		test "$@" && return 0
		sleep 0.05
	done
	return 1
}
wait_until_serving() { # wait_until_serving LOG: grantmem-net's banner, up to 30 s
	for _ in $(seq 600); do
		grep -q ' serving tap ' "$1" && return 0
		sleep 0.05
	done
	return 1
}

ip netns add "$ns" || exit 99
ip -n "$ns" link set lo up || exit 99
"$echo_srv" 2>/dev/null # usage: exit 99, but proves it runs
"$emu" "$tmp/hub" & pids+=($!)
wait_for -S "$tmp/hub" || { echo "the hub did not start"; exit 99; }
world="emu:$tmp/hub"
# every address of the namespace (its tap gets one per case)
ip netns exec "$ns" "$echo_srv" 0.0.0.0 7777 "$tmp/ready" 300 & pids+=($!)
wait_for -f "$tmp/ready" || { echo "the echo server did not start"; exit 99; }

status=0
n=0
during=
# case NAME BACKEND-OPTIONS -- GUEST-OPTIONS
run_case() {
	local name=$1 bopts=() gopts=() out=$tmp/case.out b
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do bopts+=("$1"); shift; done
	shift
	gopts=("$@")
	n=$((n + 1))
	"$vdev" add --xen "$world" --backend-domid 1 --frontend-domid 5 --devid 0 >/dev/null ||
		{ echo "FAIL $name: grantmem-vdev add"; status=1; return; }
	"$net" --xen "$world,domid=1" --frontend-domid 5 --tap "$tap" --stats "${bopts[@]}" \
		>"$tmp/net.out" 2>&1 &
	b=$!
	# the tap is handed on only once grantmem-net has every queue of it:
	# a queue it opened after the move would make a second tap by the name
	if ! wait_until_serving "$tmp/net.out" || ! [ -e "/sys/class/net/$tap" ]; then
		echo "FAIL $name: no tap (grantmem-net: $(ps -o stat=,wchan= -p $b 2>&1))"
		cat "$tmp/net.out"; status=1; kill $b; wait $b; return
	fi
	# the driver domain's tap, handed to the namespace, with an address
	ip link set "$tap" netns "$ns" &&
		ip -n "$ns" addr add 10.77.0.1/24 dev "$tap" &&
		ip -n "$ns" link set "$tap" up ||
		{ echo "FAIL $name: cannot move the tap"; status=1; kill $b; wait $b; return; }
	timeout 120 "$guest" --xen "$world,domid=5,ram=256m" --ip 10.77.0.2 --peer 10.77.0.1 \
		--tcp-port 7777 --udp-port 7777 --timeout 20 "${gopts[@]}" >"$out" 2>&1 &
	local g=$!
	# what the case does to the tap meanwhile (it reads the guest's output)
	[ -z "$during" ] || "$during" "$out"
	wait $g
	local grc=$?
	kill -TERM $b
	wait $b
	local brc=$?
	sed "s/^/    [$name guest] /" "$out"
	sed "s/^/    [$name net] /" "$tmp/net.out"
	local sum
	sum=$(grep '^summary:' "$out")
	if [ $grc -ne 0 ] || [ $brc -ne 0 ] || [ -z "$sum" ]; then
		echo "FAIL $name: guest $grc, backend $brc"
		status=1
	elif ! grep -q 'mapped_pages_at_exit=0' "$tmp/net.out"; then
		echo "FAIL $name: the backend kept pages mapped"
		status=1
	else
		echo "ok $n - $name: $sum"
	fi
	ip -n "$ns" link del "$tap" 2>/dev/null
}

common=(--ping 5 --udp 20 --tcp 2m)
run_case "transient, split, offloads" -- "${common[@]}"
run_case "persistent, packed, TSO out" --persistent --packed -- "${common[@]}" --packed --tso
run_case "no offloads" --no-offloads -- "${common[@]}"
run_case "no mrg-rxbuf, big buffers" -- "${common[@]}" --no-mrg-rxbuf --tso
run_case "no offloads, no mrg-rxbuf" --no-offloads --no-mrg-rxbuf -- "${common[@]}"
run_case "two queue pairs" --queue-pairs 2 -- "${common[@]}" --pairs 2
run_case "hostile frames first" -- --hostile "${common[@]}"
# the hostile case's frames: each dropped, counted, and the device went on
for f in tx_short=1 tx_bad_header=2 tx_refused=1; do
	grep -q " $f " "$tmp/net.out" || { echo "FAIL hostile: the backend did not count $f"; status=1; }
done

# the sum over the queues of what the backend counted: queue_sum map|copy
queue_sum() {
	awk -v k="$1_calls=" '/^grantmem-net: queue /{
		for (i = 1; i <= NF; i++) if (index($i, k) == 1) s += substr($i, length(k) + 1)
	} END { print s + 0 }' "$tmp/net.out"
}
# expect_data NAME MAPS COPIES: "0" or "+" (more than none) each
expect_data() {
	local m c
	m=$(queue_sum map) c=$(queue_sum copy)
	if { [ "$2" = 0 ] && [ "$m" != 0 ]; } || { [ "$2" = + ] && [ "$m" = 0 ]; } ||
		{ [ "$3" = 0 ] && [ "$c" != 0 ]; } || { [ "$3" = + ] && [ "$c" = 0 ]; }; then
		echo "FAIL $1: the queues made $m map calls and $c copy calls for data"
		status=1
	fi
	grep -q 'tcp_verified=2097152 ' "$tmp/case.out" ||
		{ echo "FAIL $1: not every TCP byte verified"; status=1; }
}
expect_data "transient (map)" + 0 # the last mapping case above: queue_sum can tell
run_case "copy, transient, split" --data copy -- "${common[@]}"
expect_data "copy, transient" 0 +
run_case "copy, persistent, packed, TSO out" --data copy --persistent --packed -- \
	"${common[@]}" --packed --tso
expect_data "copy, persistent" 0 +
run_case "copy, no mrg-rxbuf, big buffers" --data copy -- "${common[@]}" --no-mrg-rxbuf --tso
expect_data "copy, big buffers" 0 +
# 64 KiB TSO frames and 19-page receive chains mapped, the rest copied
run_case "auto, no mrg-rxbuf, TSO out" --data auto -- "${common[@]}" --no-mrg-rxbuf --tso
expect_data "auto" + +
# read-only receive buffers: each copy into one fails; its packet is
# dropped, the buffer handed back unused, the queue serves on
run_case "copy, read-only receive buffers" --data copy -- "${common[@]}" --readonly-rx 4
expect_data "copy, read-only" 0 +
grep -Eq ' rx_copy=4( |$)' "$tmp/net.out" ||
	{ echo "FAIL read-only: the backend did not count 4 rx_copy faults"; status=1; }
grep -q 'rx_unused=4 ' "$tmp/case.out" ||
	{ echo "FAIL read-only: the guest did not get 4 buffers back unused"; status=1; }
grep -q 'a receive buffer that cannot be written' "$tmp/net.out" ||
	{ echo "FAIL read-only: the backend did not say why it dropped a packet"; status=1; }

# The link status: the tap set down, then up, in its namespace reaches the
# guest as config changes (VIRTIO_NET_F_STATUS), each within the guest's
# --timeout; then a TCP stream flows again, every byte checked.
wait_line() { # wait_line FILE PATTERN: up to 30 s
	for _ in $(seq 600); do
		grep -q "$2" "$1" && return 0
		sleep 0.05
	done
	return 1
}
link_cycle() { # the guest's output file
	wait_line "$1" '^link-cycle: up, ' || { echo "link-cycle: the guest never saw the link up"; return; }
	ip -n "$ns" link set "$tap" down || return
	wait_line "$1" '^link-cycle: down, ' || { echo "link-cycle: the guest never saw it down"; return; }
	ip -n "$ns" link set "$tap" up
}
during=link_cycle run_case "link down and up" -- --ping 2 --tcp 256k --link-cycle
sum=$(grep '^summary:' "$tmp/case.out")
case "$sum" in
*" tcp_verified=262144 "*" link=up "*) ;;
*) echo "FAIL link: the guest's summary: $sum"; status=1 ;;
esac
changes=$(sed -n 's/.* link_changes=\([0-9]*\).*/\1/p' <<<"$sum")
[ "${changes:-0}" -ge 2 ] || { echo "FAIL link: $changes link changes seen, not 2 or more"; status=1; }
for l in 'link down' 'link up'; do
	grep -q "tap $tap: $l" "$tmp/net.out" || { echo "FAIL link: the backend never said \"$l\""; status=1; }
done
exit $status
