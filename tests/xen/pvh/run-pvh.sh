#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/xen/pvh/run-pvh.sh - Linux's own virtio-blk, with grant DMA, served
# by grantmem over a Xen ioreq server (part of `make check-xen`).
#
#   tests/xen/pvh/run-pvh.sh BUILDDIR SRCDIR
#
# Boots Xen 4.17 under qemu TCG with nested SVM + NPT (PVH needs HAP), dom0
# from Debian's kernel, and a PVH test domain running a kernel built from
# Debian's linux-source-6.1 (tinyconfig + kernel.config: XEN_VIRTIO with
# forced grants, the stock virtio_mmio and virtio_blk drivers; cached, see
# build-kernel.sh) with gm_vmmio_evtchn.ko as its only glue.  dom0 runs
# `grantmem-blk --transport ioreq` and `grantmem-net --transport ioreq` (on a
# tap in a network namespace, with an echo server there) for the guest; the
# guest writes and reads its disk (gm-blkcheck: about 1300 requests, every
# byte verified), pings the namespace and exchanges UDP and TCP with it
# through the stock virtio_net (gm-netcheck: every byte verified) and powers
# off; dom0 checks the guest's and the backends' reports.
#
# Output: the "GMPVH PASS|FAIL|INFO ..." lines, then "N passed, M failed".
# Exit status 0 only when everything passed.
#
# Xen under qemu's emulated SVM sometimes kills the guest (a Xen "Triple
# fault", or a guest oops, before the workload finished; about 3 runs in
# 10).  Such a run is run again, at most GM_PVH_RERUNS times (default 2),
# and the output says so.  A data mismatch or a backend error is never run
# again.
#
# Environment: GM_XEN_CACHE (shared with tests/xen/run.sh: packages and the
# test domain's kernel), GM_XEN_REFRESH, GM_PVH_WORK (default
# BUILDDIR/tests/xen/pvh-work), GM_PVH_TIMEOUT (hard limit per boot in
# seconds, default 900), GM_PVH_LIMIT (the guest's time from unpause to
# shutdown, default 480 s: under TCG on a busy host a request can take
# 100 ms), GM_PVH_RERUNS, GM_XEN_QEMU, GM_PVH_CPU (default qemu64,+svm,+npt),
# GM_PVH_TCG_THREAD (single or multi, default single), GM_PVH_JOBS (kernel
# build, default 3).
set -eu

[ $# -eq 2 ] || { echo "usage: $0 BUILDDIR SRCDIR" >&2; exit 2; }
builddir=$(cd "$1" && pwd)
srcdir=$(cd "$2" && pwd)
here=$srcdir/tests/xen/pvh

T0=$(date +%s.%N)
elapsed() { awk -v t0="$T0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }'; }
say() { echo "check-xen-pvh: $*"; }
die() {
	echo "check-xen-pvh: error: $*" >&2
	echo "GMPVH FAIL harness: $*"
	echo "0 passed, 1 failed"
	exit 1
}

if [ -n "${GM_XEN_CACHE:-}" ]; then
	cache=$GM_XEN_CACHE
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
	cache=$XDG_CACHE_HOME/grantmem-xen
elif [ "$(id -u)" -eq 0 ]; then
	cache=/var/cache/grantmem-xen
else
	cache=${HOME:?}/.cache/grantmem-xen
fi
work=${GM_PVH_WORK:-$builddir/tests/xen/pvh-work}
timeout=${GM_PVH_TIMEOUT:-900}
limit=${GM_PVH_LIMIT:-480}
reruns=${GM_PVH_RERUNS:-2}
qemu=${GM_XEN_QEMU:-qemu-system-x86_64}
cpu=${GM_PVH_CPU:-qemu64,+svm,+npt}
# One TCG thread for all CPUs: every ioreq hands the CPU from the guest to
# dom0 and back; with a host thread per CPU each hand-off waits for the host
# to schedule another thread, which on a busy host costs ~100 ms.
tcg_thread=${GM_PVH_TCG_THREAD:-single}
case $timeout$reruns$limit in '' | *[!0-9]*) die "GM_PVH_TIMEOUT, GM_PVH_LIMIT and GM_PVH_RERUNS must be numbers" ;; esac
[ "$timeout" -gt $((limit + 120)) ] || die "GM_PVH_TIMEOUT must leave 2 minutes beyond GM_PVH_LIMIT"

# ---- Xen, its tools, dom0's kernel: the cache tests/xen/run.sh keeps -----------
# (same layout: debs/, root/ unpacked, xen.elf, kernel-package)
host_pkgs="qemu-system-x86 busybox-static cpio libxen-dev"
xen_pkgs="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
libxenmisc4.17 libyajl2 libxenhypfs1"
missing=
for p in $host_pkgs; do
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	[ "$(id -u)" -eq 0 ] || die "install$missing (as root: apt-get install$missing)"
	say "installing$missing"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
		>/dev/null 2>&1 || {
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$missing >/dev/null
	} || die "apt-get install$missing failed"
fi
mkdir -p "$cache/debs"
kernel_pkg=
[ -z "${GM_XEN_REFRESH:-}" ] && [ -s "$cache/kernel-package" ] && kernel_pkg=$(cat "$cache/kernel-package")
if [ -z "$kernel_pkg" ]; then
	kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
	[ -n "$kernel_pkg" ] || die "cannot tell which kernel linux-image-amd64 depends on"
fi
kver=${kernel_pkg#linux-image-}
for p in $xen_pkgs $kernel_pkg; do
	if [ -z "${GM_XEN_REFRESH:-}" ] && ls "$cache/debs/${p}_"*.deb >/dev/null 2>&1; then
		continue
	fi
	rm -f "$cache/debs/${p}_"*.deb
	say "downloading $p"
	(cd "$cache/debs" && apt-get download -qq "$p" >/dev/null 2>&1) || {
		apt-get update -qq >/dev/null
		(cd "$cache/debs" && apt-get download -qq "$p" >/dev/null 2>&1)
	} || die "apt-get download $p failed"
done
echo "$kernel_pkg" >"$cache/kernel-package"
debs=$(cd "$cache/debs" && for p in $xen_pkgs $kernel_pkg; do ls "${p}_"*.deb; done)
root=$cache/root
if [ ! -f "$cache/root.stamp" ] || [ "$(cat "$cache/root.stamp")" != "$debs" ]; then
	say "unpacking $(echo "$debs" | wc -l) packages"
	rm -rf "$root" "$cache/root.stamp"
	mkdir -p "$root"
	for d in $debs; do dpkg-deb -x "$cache/debs/$d" "$root"; done
	zcat "$root/boot/xen-4.17-amd64.gz" >"$cache/xen.elf"
	echo "$debs" >"$cache/root.stamp"
fi
[ -f "$cache/xen.elf" ] && [ -f "$root/boot/vmlinuz-$kver" ] ||
	die "incomplete cache $cache; rerun with GM_XEN_REFRESH=1"

# ---- the test domain's kernel and glue module (cached) ----------------------------
mkdir -p "$work"
bash "$here/build-kernel.sh" "$cache" "$srcdir" >"$work/kernel.out" ||
	die "building the test domain's kernel failed"
kout=$(tail -n 1 "$work/kernel.out")
[ -f "$kout/bzImage" ] && [ -f "$kout/gm_vmmio_evtchn.ko" ] || die "no kernel in $kout"
say "test domain kernel: $kout ($(elapsed) s)"

# ---- programs ------------------------------------------------------------------------
blk=$builddir/tools/grantmem-blk
[ -x "$builddir/tools/.libs/grantmem-blk" ] && blk=$builddir/tools/.libs/grantmem-blk
[ -x "$blk" ] || die "$builddir/tools/grantmem-blk is not built"
grep -aq 'ioreq server ready' "$blk" || die "grantmem-blk has no --transport ioreq"
net=$builddir/tools/grantmem-net
[ -x "$builddir/tools/.libs/grantmem-net" ] && net=$builddir/tools/.libs/grantmem-net
[ -x "$net" ] || die "$builddir/tools/grantmem-net is not built"
ls "$builddir"/.libs/libgrantmem.so.* >/dev/null 2>&1 || die "libgrantmem.so not built"
${CC:-cc} -O2 -Wall -static -o "$work/gm-blkcheck" "$here/gm-blkcheck.c" ||
	die "cannot build gm-blkcheck (static; libc6-dev)"
${CC:-cc} -O2 -Wall -static -o "$work/gm-netcheck" "$here/gm-netcheck.c" ||
	die "cannot build gm-netcheck (static; libc6-dev)"
${CC:-cc} -O2 -Wall -static -I"$builddir" -o "$work/net-echo" "$srcdir/tests/net-echo.c" ||
	die "cannot build net-echo (static; libc6-dev)"

# ---- initramfs images ----------------------------------------------------------------
libdir=lib/x86_64-linux-gnu
moddir=$root/lib/modules/$kver/kernel/drivers/xen
busybox_tree() {
	local r=$1 a
	mkdir -p "$r"/bin "$r"/sbin "$r"/usr/bin "$r"/usr/sbin "$r"/proc "$r"/sys "$r"/dev \
		"$r"/tmp "$r"/run "$r"/root "$r"/etc "$r"/var "$r"/mod
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		[ -e "$r/$a" ] || ln -s /bin/busybox "$r/$a"
	done
}
copy_libs() { # ROOT ELF...
	local r=$1 lib
	shift
	mkdir -p "$r/$libdir" "$r/lib64"
	LD_LIBRARY_PATH=$builddir/.libs:$root/usr/$libdir ldd "$@" |
		awk '/=> \// { print $3 } /^[ \t]*\/[^ ]*ld-linux/ { print $1 }' | sort -u |
		while read -r lib; do
			case $lib in
			*/libgrantmem*.so*) ;;
			/lib64/*) cp -L "$lib" "$r/lib64/" ;;
			*) cp -L "$lib" "$r/$libdir/" ;;
			esac
		done
	LD_LIBRARY_PATH=$builddir/.libs:$root/usr/$libdir ldd "$@" | grep -q 'not found' &&
		die "unresolved shared libraries in: $*"
	cp -a "$builddir"/.libs/libgrantmem*.so* "$r/$libdir/"
}
cpio_gz() { (cd "$1" && find . | LC_ALL=C sort | cpio -H newc -o --quiet | gzip -1) >"$2"; }

rm -rf "$work/domu" "$work/dom0"
d=$work/domu
busybox_tree "$d"
cp "$kout/gm_vmmio_evtchn.ko" "$d/"
cp "$work/gm-blkcheck" "$work/gm-netcheck" "$d/bin/"
install -m 755 "$here/domu-init" "$d/init"
cpio_gz "$d" "$work/domu-pvh.cpio.gz"

d=$work/dom0
xbin=usr/lib/xen-4.17/bin
busybox_tree "$d"
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs tun; do
	f=$(find "$moddir" "$moddir/../net" -name "$m.ko*" | head -n 1)
	[ -n "$f" ] || die "module $m not in $kernel_pkg"
	case $f in
	*.ko) cp "$f" "$d/mod/$m.ko" ;;
	*.ko.xz) xz -dc "$f" >"$d/mod/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$d/mod/$m.ko" ;;
	*.ko.gz) zcat "$f" >"$d/mod/$m.ko" ;;
	esac
done
mkdir -p "$d/$xbin" "$d/etc/xen"
for b in xl xenstored xenconsoled xen-init-dom0; do cp "$root/$xbin/$b" "$d/$xbin/"; done
cp "$root/usr/bin/xenstore" "$d/usr/bin/xenstore"
for c in read write ls list rm exists; do ln -s xenstore "$d/usr/bin/xenstore-$c"; done
cp "$blk" "$d/bin/grantmem-blk"
cp "$net" "$d/bin/grantmem-net"
cp "$work/net-echo" "$d/bin/net-echo"
copy_libs "$d" "$d/$xbin"/* "$d/usr/bin/xenstore" "$d/bin/grantmem-blk" "$d/bin/grantmem-net"
cp -L "/$libdir/libgcc_s.so.1" "$d/$libdir/"
cp "$kout/bzImage" "$d/root/vmlinuz-pvh"
cp "$work/domu-pvh.cpio.gz" "$d/root/"
cp "$here/domu.cfg" "$d/etc/xen/gmpvh.cfg"
echo 'autoballoon="off"' >"$d/etc/xen/xl.conf"
install -m 755 "$here/dom0-init" "$d/init"
cpio_gz "$d" "$work/dom0.cpio.gz"
say "initramfs built ($(elapsed) s)"

# ---- boot (and, for a testbed crash, boot again) --------------------------------------
qpid=
stop_qemu() {
	[ -n "$qpid" ] || return 0
	if kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$qpid" 2>/dev/null || break
			sleep 0.5
		done
		kill -9 "$qpid" 2>/dev/null || true
	fi
	wait "$qpid" 2>/dev/null || true
	qpid=
}
trap stop_qemu EXIT
trap 'exit 130' INT TERM HUP

# boot N: one qemu run; leaves $work/serial-N.log and sets $status
boot() {
	local log=$work/serial-$1.log tboot
	rm -f "$log"
	tboot=$(date +%s.%N)
	"$qemu" -accel tcg,thread="$tcg_thread" -cpu "$cpu" -m 3072 -smp 2 \
		-display none -monitor none -no-reboot -serial "file:$log" \
		-kernel "$cache/xen.elf" \
		-append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2" \
		-initrd "$root/boot/vmlinuz-$kver console=hvc0 earlyprintk=xen rdinit=/init loglevel=4 gmpvh.limit=$limit,$work/dom0.cpio.gz" \
		</dev/null >"$work/qemu-$1.out" 2>&1 &
	qpid=$!
	say "boot $1: qemu pid $qpid, -cpu $cpu, tcg thread=$tcg_thread, serial log $log, timeout ${timeout}s"
	status=timeout
	while awk -v t0="$tboot" -v t1="$(date +%s.%N)" -v t="$timeout" 'BEGIN { exit !(t1 - t0 <= t) }'; do
		if grep -a -q 'GMPVH END' "$log" 2>/dev/null; then
			status=ended
			break
		fi
		if ! kill -0 "$qpid" 2>/dev/null; then
			status=exited
			break
		fi
		sleep 1
	done
	[ "$status" = ended ] && for _ in $(seq 20); do
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.5
	done
	stop_qemu
	say "boot $1: $status after $(awk -v a="$tboot" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
}
lines() { tr -d '\r' <"$1" | grep -a -o 'GMPVH \(PASS\|FAIL\|INFO\|END\).*' || true; }

# A run the testbed spoiled: the guest died (Xen killed it, or it oopsed)
# before its workload ended, and neither side reported wrong data or a
# backend error.
testbed_crash() {
	local log=$1 l
	l=$(lines "$log")
	echo "$l" | grep -q 'GMPVH INFO net guest: net-workload' && return 1
	# wrong data (not the "mismatches=0" of a workload that went well)
	echo "$l" | grep -qE 'data mismatch|mismatches=[1-9]|net-workload FAIL' && return 1
	echo "$l" | grep -qE 'FAIL (backend|net)/(start|errors)' && return 1
	tr -d '\r' <"$log" | grep -a -qE 'Triple fault|domain_crash|BUG:|Oops|Kernel panic|general protection'
}

run=1
while :; do
	boot $run
	log=$work/serial-$run.log
	failed=$(lines "$log" | grep -c '^GMPVH FAIL' || true)
	if { [ "$status" != ended ] || [ "$failed" -gt 0 ]; } && [ "$run" -le "$reruns" ] &&
		testbed_crash "$log"; then
		reason=$(tr -d '\r' <"$log" | grep -a -m1 -oE '\(XEN\) [^ ]+ Triple fault|domain_crash[^ ]*|BUG: .*|Oops.*|Kernel panic.*|general protection.*' || echo "guest died")
		echo "GMPVH INFO rerun: boot $run lost the guest to the emulated SVM before its workload ended ($reason); running again"
		run=$((run + 1))
		continue
	fi
	break
done

lines "$log" | grep -v '^GMPVH END'
passed=$(lines "$log" | grep -c '^GMPVH PASS' || true)
failed=$(lines "$log" | grep -c '^GMPVH FAIL' || true)
end=$(lines "$log" | sed -n 's/^GMPVH END \([0-9]*\).*/\1/p' | head -n 1)
problem=
case $status in
ended) [ "$end" = "$((passed + failed))" ] || problem="dom0 wrote ${end:-?} result lines, $((passed + failed)) arrived" ;;
exited) problem="qemu exited before the end marker (see $log)" ;;
timeout) problem="timeout after ${timeout}s without the end marker (see $log)" ;;
esac
if [ -n "$problem" ]; then
	echo "GMPVH FAIL harness: $problem"
	failed=$((failed + 1))
	echo "--- last lines of $log"
	tr -d '\r' <"$log" | tail -n 40
	echo "---"
fi
[ "$passed" -gt 0 ] || [ -n "$problem" ] || { echo "GMPVH FAIL harness: no checks ran"; failed=$((failed + 1)); }
[ "$run" -gt 1 ] && say "$((run - 1)) rerun(s) after testbed crashes"
say "total run time $(elapsed) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
