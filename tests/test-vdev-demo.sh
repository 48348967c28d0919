#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# `make demo` in short: tools/demo.sh must end with an error-free summary
# line, report one request count (the guest's result line, its summary and
# the backend's reads and writes agree), leave no process behind and
# remove its temporary files.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
command -v bash >/dev/null 2>&1 || { echo "bash is needed"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gm-demo-test-XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
mkdir "$tmp/t"
TMPDIR=$tmp/t DEMO_SECONDS=2 DEMO_DEPTH=8 DEMO_IMAGE_MB=16 \
	bash "$top_srcdir/tools/demo.sh" "$top_builddir" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc -eq 0 ] || { echo "FAIL: demo.sh exited $rc"; exit 1; }
last=$(tail -n 1 "$out")
echo "$last" | grep -Eq '^summary: requests=[1-9][0-9]* bytes_verified=[1-9][0-9]* errors=0 map_calls_per_request=[0-9.]+ iops=[0-9]+$' ||
	{ echo "FAIL: the last line is not an error-free summary: $last"; exit 1; }
# one request count: the guest's result line, its summary, the backend's
n=$(echo "$last" | sed -n 's/^summary: requests=\([0-9]*\) .*/\1/p')
grep -q "\[guest\] result: $n requests in " "$out" ||
	{ echo "FAIL: the guest's result line does not count $n requests"; exit 1; }
grep -q "^==> $n requests: the guest's result and summary, and the backend's reads and writes\$" "$out" ||
	{ echo "FAIL: the demo does not report one count of $n requests"; exit 1; }
[ -z "$(ls -A "$tmp/t")" ] || { echo "FAIL: leftover files:"; ls -la "$tmp/t"; exit 1; }
# no process of the demo is left (they all had the temp dir on their command line)
if command -v pgrep >/dev/null 2>&1 && pgrep -f "$tmp/t/" >/dev/null; then
	echo "FAIL: leftover processes:"; pgrep -af "$tmp/t/"; exit 1
fi
exit 0
