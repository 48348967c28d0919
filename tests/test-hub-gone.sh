#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The emulated Xen's hub goes away (SIGKILL) under running tools:
#   - grantmem-blk serving a guest doing I/O: gm_vdev_backend_process says
#     -ENOTCONN, the backend stops with exit status 1, one line that says
#     xenstore went away, and a bounded log (before, it logged
#     "xs_read_watch : Connection reset by peer" four times a second for ever);
#   - grantmem-domain: exit status 1 with a line that says the hub went away.
# A tool still running 20 s after the hub died counts as hanging.
set -u

top_builddir=${top_builddir:-.}
B=$(cd "$top_builddir" && pwd) || exit 99
emu=$B/tools/grantmem-xen-emu
blk=$B/tools/grantmem-blk
guest=$B/tools/grantmem-guest
vdev=$B/tools/grantmem-vdev
domain=$B/tools/grantmem-domain
for p in "$emu" "$blk" "$guest" "$vdev" "$domain"; do
	[ -x "$p" ] || { echo "missing $p"; exit 99; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gm-hubgone-XXXXXX") || exit 99
pids=
cleanup() {
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
failed=0
fail() {
	echo "FAIL: $*"
	failed=1
}

start_hub() {
	rm -f "$tmp/hub"
	"$emu" "$tmp/hub" >"$tmp/hub.log" 2>&1 &
	hub=$!
	pids="$pids $hub"
	for _ in $(seq 200); do
		[ -S "$tmp/hub" ] && return 0
		sleep 0.02
	done
	echo "the hub did not start"
	exit 99
}

# wait_exit PID: its exit status, or 255 after killing it when it is still
# running 20 s on
wait_exit() {
	for _ in $(seq 400); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		return 255
	fi
	wait "$1"
}

# ---- grantmem-blk with a guest doing I/O ----
start_hub
truncate -s 16M "$tmp/disk.img" || exit 99
"$vdev" add --xen "emu:$tmp/hub" --backend-domid 1 --frontend-domid 5 || exit 99
"$blk" --xen "emu:$tmp/hub,domid=1" --image "$tmp/disk.img" --queues 2 \
	--frontend-domid 5 >"$tmp/blk.log" 2>&1 &
blk_pid=$!
pids="$pids $blk_pid"
"$guest" --xen "emu:$tmp/hub,domid=5,ram=64m" --seconds 60 --queues 2 --depth 4 \
	--timeout 20 --quiet >"$tmp/guest.log" 2>&1 &
guest_pid=$!
pids="$pids $guest_pid"
# the guest is connected: the backend maps its rings
v=
for _ in $(seq 400); do
	v=$("$emu" --domain-info 5 "$tmp/hub" 2>/dev/null)
	case $v in *" mapped=0 "* | "") ;; *) break ;; esac
	sleep 0.05
done
case $v in
*" mapped=0 "* | "")
	echo "the guest never connected: $v"
	cat "$tmp/blk.log" "$tmp/guest.log"
	exit 99
	;;
esac
kill -KILL "$hub"
wait "$hub" 2>/dev/null
wait_exit "$blk_pid"
rc=$?
cat "$tmp/blk.log"
case $rc in
1) ;;
255) fail "grantmem-blk still runs 20 s after the hub went away" ;;
*) fail "grantmem-blk exited $rc after the hub went away, not 1" ;;
esac
grep -q '^grantmem-blk: xenstore went away; stopping$' "$tmp/blk.log" ||
	fail "grantmem-blk did not say that xenstore went away"
n=$(grep -c 'xs_read_watch' "$tmp/blk.log")
[ "$n" -le 1 ] || fail "xs_read_watch failed $n times in the log (at most once)"
n=$(wc -l <"$tmp/blk.log")
[ "$n" -le 40 ] || fail "grantmem-blk logged $n lines after the hub went away"
if grep -Eq 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$tmp/blk.log"; then
	fail "sanitizer report from grantmem-blk"
fi
wait_exit "$guest_pid" >/dev/null
rc=$?
[ $rc -ne 255 ] || fail "grantmem-guest still runs 20 s after the hub went away"

# ---- grantmem-domain ----
start_hub
"$domain" --socket "$tmp/hub" --domid 3 --pages 2 >"$tmp/domain.log" 2>&1 &
dom_pid=$!
pids="$pids $dom_pid"
for _ in $(seq 200); do
	grep -q "^domain 3: 2 page" "$tmp/domain.log" 2>/dev/null && break
	sleep 0.02
done
grep -q '^domain 3: 2 page' "$tmp/domain.log" || { cat "$tmp/domain.log"; exit 99; }
kill -KILL "$hub"
wait "$hub" 2>/dev/null
wait_exit "$dom_pid"
rc=$?
cat "$tmp/domain.log"
case $rc in
1) ;;
255) fail "grantmem-domain still runs 20 s after the hub went away" ;;
*) fail "grantmem-domain exited $rc after the hub went away, not 1" ;;
esac
grep -q '^grantmem-domain: the hub at .* went away' "$tmp/domain.log" ||
	fail "grantmem-domain did not say that the hub went away"
n=$(wc -l <"$tmp/domain.log")
[ "$n" -le 10 ] || fail "grantmem-domain logged $n lines"

[ $failed -eq 0 ] && echo "PASS"
exit $failed
