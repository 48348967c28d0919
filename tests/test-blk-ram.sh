#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# grantmem-blk --transport ram end to end (tools/blk-ram.h): a backend on a
# unix socket takes a hostile guest first (tests/blk-ram-hostile: every bad
# SETUP refused with its errno and one log line, misbehaving guests dropped,
# a buffer outside guest memory breaks its queue), then grantmem-guest
# --transport ram runs verified random I/O on two queues, then sequential
# I/O on packed rings with reconnects.  Zero errors, every byte verified,
# and the backend exits 0 on SIGTERM and removes its socket.
set -u
top_builddir=${top_builddir:-.}
blk=$top_builddir/tools/grantmem-blk
guest=$top_builddir/tools/grantmem-guest
hostile=$top_builddir/tests/blk-ram-hostile
for p in "$blk" "$guest" "$hostile"; do
	[ -x "$p" ] || { echo "missing $p"; exit 99; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gm-blk-ram-XXXXXX") || exit 99
blk_pid=
cleanup() {
	if [ -n "$blk_pid" ] && kill -0 "$blk_pid" 2>/dev/null; then
		kill -KILL "$blk_pid" 2>/dev/null
		wait "$blk_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
sock=$tmp/blk.sock
fail() { echo "FAIL: $*"; echo "--- backend log:"; cat "$tmp/blk.log"; exit 1; }

truncate -s 16M "$tmp/disk.img" || exit 99
"$blk" --transport ram --socket "$sock" --image "$tmp/disk.img" --queues 2 --packed \
	--stats >"$tmp/blk.log" 2>&1 &
blk_pid=$!
i=0
while [ ! -S "$sock" ]; do
	i=$((i + 1))
	[ $i -le 100 ] && kill -0 "$blk_pid" 2>/dev/null || fail "the backend did not start"
	sleep 0.05
done

echo "== hostile guest"
"$hostile" "$sock" >"$tmp/hostile.out" 2>&1
rc=$?
cat "$tmp/hostile.out"
[ $rc -eq 0 ] || fail "blk-ram-hostile exited $rc"
kill -0 "$blk_pid" 2>/dev/null || fail "the backend died"
want=$(sed -n 's/^refusals=//p' "$tmp/hostile.out")
got=$(grep -c 'ram: refusing the guest: ' "$tmp/blk.log")
[ -n "$want" ] && [ "$got" -eq "$want" ] || fail "$got refusal line(s) logged, want ${want:-?}"
grep -q 'RAM guest queue 0 is broken' "$tmp/blk.log" || fail "the broken queue was not logged"

# $1: name; the rest: grantmem-guest options
run_guest() {
	name=$1
	shift
	echo "== $name"
	"$guest" --transport ram --socket "$sock" --timeout 20 --quiet "$@" >"$tmp/guest.out" 2>&1
	rc=$?
	cat "$tmp/guest.out"
	[ $rc -eq 0 ] || fail "$name: grantmem-guest exited $rc"
	grep -Eq '^summary: requests=[1-9][0-9]* bytes_verified=[1-9][0-9]* errors=0 ' \
		"$tmp/guest.out" || fail "$name: no error-free summary with verified data"
}
run_guest "random 4 KiB, 2 queues" --seconds 2 --depth 8 --queues 2
run_guest "sequential 64 KiB, packed, reconnecting" --requests 600 --reconnect-every 150 \
	--depth 4 --size 65536 --seq --packed

echo "== stopping the backend"
kill -TERM "$blk_pid"
i=0
while kill -0 "$blk_pid" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "the backend did not stop"
	sleep 0.1
done
wait "$blk_pid"
rc=$?
blk_pid=
cat "$tmp/blk.log"
[ $rc -eq 0 ] || fail "the backend exited $rc"
[ ! -e "$sock" ] || fail "the socket was left behind"
exit 0
