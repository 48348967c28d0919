#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The guest/backend scenario (tools/grantmem-scenario) on the emulated Xen:
# a hub from tools/grantmem-xen-emu, the backend started first (it finds the
# guest through a xenstore watch), then the guest as domain 7.  Before that,
# the hub refuses to start on a path that holds a regular file.
set -u
top_builddir=${top_builddir:-.}
emu=$top_builddir/tools/grantmem-xen-emu
scenario=$top_builddir/tools/grantmem-scenario
for p in "$emu" "$scenario"; do
	[ -x "$p" ] || { echo "missing $p"; exit 99; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gm-scenario-XXXXXX") || exit 99
hub=
cleanup() {
	[ -n "$hub" ] && kill "$hub" 2>/dev/null && wait "$hub" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# grantmem-xen-emu replaces a stale socket, never anything else: a file
# given by mistake as SOCKET stays as it is and the hub does not start
echo "the user's file" >"$tmp/file"
timeout 10 "$emu" "$tmp/file" 2>"$tmp/refused.err"
rc=$?
if [ $rc -ne 1 ]; then
	echo "grantmem-xen-emu on a regular file: exit $rc, want 1"
	exit 1
fi
grep -q 'is not a socket' "$tmp/refused.err" || { cat "$tmp/refused.err"; exit 1; }
[ "$(cat "$tmp/file")" = "the user's file" ] || { echo "the file changed"; exit 1; }

"$emu" "$tmp/hub" &
hub=$!
i=0
while [ ! -S "$tmp/hub" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "the hub did not start"; exit 99; }
	sleep 0.1
done

"$scenario" backend --xen "emu:$tmp/hub" --timeout 20 >"$tmp/backend.out" 2>&1 &
backend=$!
"$scenario" guest --xen "emu:$tmp/hub,domid=7" --timeout 20 >"$tmp/guest.out" 2>&1
guest_rc=$?
wait "$backend"
backend_rc=$?

echo "--- backend (exit $backend_rc)"
cat "$tmp/backend.out"
echo "--- guest (exit $guest_rc)"
cat "$tmp/guest.out"

# the hub exits cleanly on SIGTERM
kill "$hub"
wait "$hub"
hub_rc=$?
hub=
echo "--- hub (exit $hub_rc)"

[ "$guest_rc" -eq 0 ] && [ "$backend_rc" -eq 0 ] && [ "$hub_rc" -eq 0 ] || exit 1
grep -q '^PASS guest-reply$' "$tmp/guest.out" || exit 1
grep -q '^PASS backend-pattern$' "$tmp/backend.out" || exit 1
! grep -q '^FAIL' "$tmp/guest.out" "$tmp/backend.out"
