#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# examples/blk/blk-backend, the backend loop's example, end to end on the
# emulated Xen: it serves grantmem-guest (two queues, verified random I/O
# through fresh grants per request, a reconnect half way), stops on
# SIGTERM with exit 0, and leaves nothing of the guest mapped in the hub.
# GM_TOOLS_DIR (the tools' directory, default the build's tools/),
# GM_EXAMPLE and GM_EXAMPLE_FRONT (the programs, default the build's) let CI
# run the examples built from the installed packages with the installed
# tools.  Then examples/front/blk-front, the guest's side written from the
# headers, gets a device of its own from the same backend.
set -u
top_builddir=${top_builddir:-.}
B=$(cd "$top_builddir" && pwd) || exit 99
tools=${GM_TOOLS_DIR:-$B/tools}
emu=$tools/grantmem-xen-emu
vdev=$tools/grantmem-vdev
guest=$tools/grantmem-guest
ex=${GM_EXAMPLE:-$B/examples/blk/blk-backend}
front=${GM_EXAMPLE_FRONT:-$B/examples/front/blk-front}
for p in "$emu" "$vdev" "$guest" "$ex" "$front"; do
	[ -x "$p" ] || { echo "missing $p"; exit 99; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gm-example-XXXXXX") || exit 99
hub_pid= ex_pid=
cleanup() {
	[ -n "$ex_pid" ] && kill -KILL "$ex_pid" 2>/dev/null
	[ -n "$hub_pid" ] && kill -TERM "$hub_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in ex guest front; do echo "--- $f"; cat "$tmp/$f.log" 2>/dev/null; done
	exit 1
}

"$emu" "$tmp/hub" >"$tmp/hub.log" 2>&1 &
hub_pid=$!
for _ in $(seq 200); do
	[ -S "$tmp/hub" ] && break
	sleep 0.02
done
[ -S "$tmp/hub" ] || { echo "the hub did not start"; exit 99; }
truncate -s 16M "$tmp/disk.img" || exit 99
"$vdev" add --xen "emu:$tmp/hub" --backend-domid 1 --frontend-domid 5 >/dev/null || exit 99

"$ex" "emu:$tmp/hub,domid=1" "$tmp/disk.img" 2 >"$tmp/ex.log" 2>&1 &
ex_pid=$!
"$guest" --xen "emu:$tmp/hub,domid=5,ram=64m" --queues 2 --depth 8 --requests 600 \
	--reconnect-every 300 --timeout 20 --quiet >"$tmp/guest.log" 2>&1 ||
	fail "grantmem-guest exited $?"
grep -Eq '^summary: requests=[1-9][0-9]* bytes_verified=[1-9][0-9]* errors=0 ' \
	"$tmp/guest.log" || fail "no error-free summary with verified data"
grep '^summary:' "$tmp/guest.log"
"$vdev" add --xen "emu:$tmp/hub" --backend-domid 1 --frontend-domid 6 >/dev/null || exit 99
"$front" "emu:$tmp/hub,domid=6" >"$tmp/front.log" 2>&1 || fail "blk-front exited $?"
grep -q '^blk-front: OK$' "$tmp/front.log" || fail "blk-front did not say OK"

kill -TERM "$ex_pid"
for _ in $(seq 100); do
	kill -0 "$ex_pid" 2>/dev/null || break
	sleep 0.1
done
wait "$ex_pid"
rc=$?
ex_pid=
[ $rc -eq 0 ] || fail "blk-backend exited $rc after SIGTERM"
grep -q '^blk-backend: stopped (signal)$' "$tmp/ex.log" || fail "blk-backend did not stop cleanly"
for d in 5 6; do
	info=$("$emu" --domain-info $d "$tmp/hub" 2>&1)
	case $info in
	*" mapped=0 "*) ;;
	*) fail "the hub still has busy grant entries of guest $d: $info" ;;
	esac
done
echo "example blk-backend: served, stopped, nothing left mapped"
