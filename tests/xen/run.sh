#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/xen/run.sh - grantmem on real Xen (`make check-xen`).
#
#   tests/xen/run.sh BUILDDIR SRCDIR
#
# Boots Xen 4.17 with a PV dom0 (and, from dom0, a PV test domain) inside
# qemu-system-x86_64 under TCG, runs grantmem's own test programs there and
# reads their results back from the serial console.  Everything Xen needs
# comes from Debian's archive: the host tools are installed (qemu, busybox,
# cpio, libxen-dev); the hypervisor, the Xen tools and the kernel are only
# downloaded and unpacked into a cache, so the host's own boot is untouched.
#
# Result lines on the serial console (written by tests/xen/dom0-init):
#   GMXEN PASS <name>
#   GMXEN FAIL <name>: <why>
#   GMXEN END <number of result lines dom0 wrote>
#   GMXEN INFO <measurement>   (shown, counted as neither pass nor fail)
# The last line printed here is "N passed, M failed".  Exit status 0 only
# when every check passed, the end marker came and no result line was lost.
#
# Environment:
#   GM_XEN_CACHE    downloads and unpacked packages (default
#                   $XDG_CACHE_HOME/grantmem-xen, else /var/cache/grantmem-xen
#                   for root, else ~/.cache/grantmem-xen)
#   GM_XEN_REFRESH  1: fetch the packages again even if cached
#   GM_XEN_WORK     initramfs trees, serial log (default BUILDDIR/tests/xen/work)
#   GM_XEN_TIMEOUT  hard limit for the boot in seconds (default 2400; 900 with
#                   GM_XEN_DD=0)
#   GM_XEN_DD       1 (default): the first boot also runs the driver-domain
#                   scenario (tests/xen/dd; dom0 argument gmxen.dd); 0 leaves
#                   it out
#   GM_XEN_QEMU     the qemu binary (default qemu-system-x86_64)
#   GM_XEN_CPU      qemu's -cpu (default qemu64: -cpu max crashes PV dom0 under TCG)
#   GM_XEN_DOM0_ARGS extra dom0 kernel command-line words; dom0-init knows
#                   "gmxen.nodomu" (skip the test domain) and "gmxen.shell"
#                   (a shell on the console instead of powering off; only
#                   useful with an interactive serial)
set -eu

usage() {
	echo "usage: $0 BUILDDIR SRCDIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
builddir=$(cd "$1" && pwd)
srcdir=$(cd "$2" && pwd)
here=$srcdir/tests/xen

T0=$(date +%s.%N)
elapsed() { awk -v t0="$T0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }'; }
say() { echo "check-xen: $*"; }
die() {
	echo "check-xen: error: $*" >&2
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
work=${GM_XEN_WORK:-$builddir/tests/xen/work}
case ${GM_XEN_DD:-1} in
1) timeout=${GM_XEN_TIMEOUT:-2400} ;;
0) timeout=${GM_XEN_TIMEOUT:-900} ;;
*) die "GM_XEN_DD must be 0 or 1" ;;
esac
qemu=${GM_XEN_QEMU:-qemu-system-x86_64}
cpu=${GM_XEN_CPU:-qemu64}
case $timeout in '' | *[!0-9]*) die "GM_XEN_TIMEOUT must be a number of seconds" ;; esac

# ---- host packages -----------------------------------------------------------

host_pkgs="qemu-system-x86 busybox-static cpio libxen-dev"
# the packages unpacked into the cache (the kernel is added below)
xen_pkgs="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
libxenmisc4.17 libyajl2 libxenhypfs1"

apt_updated=
apt_update() {
	[ -z "$apt_updated" ] || return 0
	say "apt-get update"
	apt-get update -qq >/dev/null || die "apt-get update failed"
	apt_updated=1
}

installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=
for p in $host_pkgs; do
	installed "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	[ "$(id -u)" -eq 0 ] || die "install$missing (as root: apt-get install$missing)"
	say "installing$missing"
	# a stale package list is the usual reason for a failed install: update once
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$missing >/dev/null 2>&1 || {
		apt_update
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$missing >/dev/null || die "apt-get install$missing failed"
	}
fi
command -v "$qemu" >/dev/null || die "$qemu not found"
[ -x /bin/busybox ] || die "/bin/busybox (busybox-static) not found"

# ---- Xen, its tools and the kernel: downloaded, cached, unpacked ------------

mkdir -p "$cache/debs"
# The kernel ABI that linux-image-amd64 points to; remembered in the cache so
# that a cached run needs no package list.
kernel_pkg=
if [ -z "${GM_XEN_REFRESH:-}" ] && [ -s "$cache/kernel-package" ]; then
	kernel_pkg=$(cat "$cache/kernel-package")
fi
if [ -z "$kernel_pkg" ]; then
	kdep() { apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1; }
	kernel_pkg=$(kdep)
	[ -n "$kernel_pkg" ] || { apt_update && kernel_pkg=$(kdep); }
	[ -n "$kernel_pkg" ] || die "cannot tell which kernel linux-image-amd64 depends on"
fi
kver=${kernel_pkg#linux-image-}

fetched=0
for p in $xen_pkgs $kernel_pkg; do
	if [ -z "${GM_XEN_REFRESH:-}" ] && ls "$cache/debs/${p}_"*.deb >/dev/null 2>&1; then
		continue
	fi
	rm -f "$cache/debs/${p}_"*.deb
	say "downloading $p"
	# apt-get download runs as _apt when it can; the cache may not be its
	(cd "$cache/debs" && apt-get download -qq "$p" >/dev/null 2>&1) || {
		apt_update
		(cd "$cache/debs" && apt-get download -qq "$p" >/dev/null 2>&1)
	} || die "apt-get download $p failed"
	fetched=$((fetched + 1))
done
echo "$kernel_pkg" >"$cache/kernel-package"

# Unpack again only when the set of .deb files changed.
debs=$(cd "$cache/debs" && for p in $xen_pkgs $kernel_pkg; do ls "${p}_"*.deb; done)
root=$cache/root
if [ ! -f "$cache/root.stamp" ] || [ "$(cat "$cache/root.stamp")" != "$debs" ]; then
	say "unpacking $(echo "$debs" | wc -l) packages"
	rm -rf "$root" "$cache/root.stamp"
	mkdir -p "$root"
	for d in $debs; do
		dpkg-deb -x "$cache/debs/$d" "$root"
	done
	# qemu's multiboot loader takes the ELF image, not the gzip Debian ships
	zcat "$root/boot/xen-4.17-amd64.gz" >"$cache/xen.elf"
	echo "$debs" >"$cache/root.stamp"
fi
if [ "$fetched" -gt 0 ]; then
	say "fetched $fetched package(s) into $cache ($(elapsed) s)"
else
	say "packages cached in $cache"
fi
if [ ! -f "$cache/xen.elf" ] || [ ! -f "$root/boot/vmlinuz-$kver" ]; then
	die "incomplete cache; rerun with GM_XEN_REFRESH=1"
fi

# ---- grantmem's test programs -------------------------------------------------

# libtool leaves a wrapper script in place of an uninstalled program; the
# real binary is in .libs/.
real_binary() {
	local dir=${1%/*} base=${1##*/}
	if [ -x "$dir/.libs/$base" ]; then
		echo "$dir/.libs/$base"
	elif [ -x "$1" ]; then
		echo "$1"
	else
		die "$1 is not built (run make check-xen; or make all tests/xen/xen-selfgrant)"
	fi
}
scenario=$(real_binary "$builddir/tools/grantmem-scenario")
selfgrant=$(real_binary "$builddir/tests/xen/xen-selfgrant")
vguest=$(real_binary "$builddir/tools/grantmem-guest")
vblk=$(real_binary "$builddir/tools/grantmem-blk")
vdev=$(real_binary "$builddir/tools/grantmem-vdev")
bench=$(real_binary "$builddir/tools/grantmem-bench")
ddprobe=$(real_binary "$builddir/tests/xen/dd/xen-ddprobe")
ls "$builddir"/.libs/libgrantmem.so.* >/dev/null 2>&1 ||
	die "$builddir/.libs/libgrantmem.so.* not built"

# ---- initramfs trees -------------------------------------------------------------

libdir=lib/x86_64-linux-gnu
moddir=$root/lib/modules/$kver/kernel/drivers/xen

# copy_libs ROOT ELF...: the shared libraries the programs need, as ldd names
# them, resolved against the fresh libgrantmem, then the unpacked Xen
# libraries, then the host's (libxen-dev brought the rest).
copy_libs() {
	local r=$1 lib
	shift
	mkdir -p "$r/$libdir" "$r/lib64"
	LD_LIBRARY_PATH=$builddir/.libs:$root/usr/$libdir ldd "$@" |
		awk '/=> \// { print $3 } /^[ \t]*\/[^ ]*ld-linux/ { print $1 }' | sort -u |
		while read -r lib; do
			case $lib in
			*/libgrantmem*.so*) ;; # copied from the build tree below
			/lib64/*) cp -L "$lib" "$r/lib64/" ;;
			*) cp -L "$lib" "$r/$libdir/" ;;
			esac
		done
	if LD_LIBRARY_PATH=$builddir/.libs:$root/usr/$libdir ldd "$@" | grep -q 'not found'; then
		die "unresolved shared libraries in: $*"
	fi
	# the freshly built library, with its soname links
	cp -a "$builddir"/.libs/libgrantmem*.so* "$r/$libdir/"
}

# busybox_tree ROOT: a static busybox with every applet linked.
busybox_tree() {
	local r=$1 a
	mkdir -p "$r"/bin "$r"/sbin "$r"/usr/bin "$r"/usr/sbin "$r"/proc "$r"/sys "$r"/dev \
		"$r"/tmp "$r"/run "$r"/root "$r"/etc "$r"/var "$r"/mod
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		[ -e "$r/$a" ] || ln -s /bin/busybox "$r/$a"
	done
}

# copy_mods ROOT MODULE...: kernel modules from drivers/xen, uncompressed
# (busybox insmod does not read compressed modules).
copy_mods() {
	local r=$1 m f
	shift
	for m in "$@"; do
		f=$(find "$moddir" -name "$m.ko*" | head -n 1)
		[ -n "$f" ] || die "module $m not in $kernel_pkg"
		case $f in
		*.ko) cp "$f" "$r/mod/$m.ko" ;;
		*.ko.xz) xz -dc "$f" >"$r/mod/$m.ko" ;;
		*.ko.zst) zstd -qdc "$f" >"$r/mod/$m.ko" ;;
		*.ko.gz) zcat "$f" >"$r/mod/$m.ko" ;;
		*) die "cannot read $f" ;;
		esac
	done
}

cpio_gz() { # DIR OUT
	(cd "$1" && find . | LC_ALL=C sort | cpio -H newc -o --quiet | gzip -1) >"$2"
}

rm -rf "$work/domu" "$work/dom0" "$work/dd" "$work/ddguest"
mkdir -p "$work"

# The test domain: busybox, the guest half of the scenario.
d=$work/domu
busybox_tree "$d"
copy_mods "$d" xen-evtchn xen-gntdev xen-gntalloc
cp "$scenario" "$d/bin/grantmem-scenario"
cp "$vguest" "$d/bin/grantmem-guest"
copy_libs "$d" "$d/bin/grantmem-scenario" "$d/bin/grantmem-guest"
# grantmem-guest calls pthread_cancel, which dlopen()s libgcc_s: ldd cannot see that
cp -L "/$libdir/libgcc_s.so.1" "$d/$libdir/"
install -m 755 "$here/domu-init" "$d/init"
cpio_gz "$d" "$work/domu.cpio.gz"

# xenstore_cli ROOT: Debian's xenstore client, with the names the scripts use.
xenstore_cli() {
	local c
	cp "$root/usr/bin/xenstore" "$1/usr/bin/xenstore"
	for c in read write ls list rm exists chmod watch; do
		ln -s xenstore "$1/usr/bin/xenstore-$c"
	done
}

# The driver-domain scenario (tests/xen/dd/): the driver domain runs
# grantmem-blk and the probe, with only the drivers a backend needs (and
# privcmd, for the probe to be refused by Xen itself); the guests run
# grantmem-guest.  Both are driven by dom0 through their agent.
dd_src=$here/dd
d=$work/dd
busybox_tree "$d"
copy_mods "$d" xen-evtchn xen-gntdev xen-privcmd xenfs
xenstore_cli "$d"
cp "$vblk" "$d/bin/grantmem-blk"
cp "$ddprobe" "$d/bin/xen-ddprobe"
copy_libs "$d" "$d/bin/grantmem-blk" "$d/bin/xen-ddprobe" "$d/usr/bin/xenstore"
cp -L "/$libdir/libgcc_s.so.1" "$d/$libdir/"
mkdir -p "$d/lib"
cp "$dd_src/agent.sh" "$d/lib/gm-agent.sh"
install -m 755 "$dd_src/dd-init" "$d/init"
cpio_gz "$d" "$work/dd.cpio.gz"

d=$work/ddguest
busybox_tree "$d"
copy_mods "$d" xen-evtchn xen-gntdev xen-gntalloc
xenstore_cli "$d"
cp "$vguest" "$d/bin/grantmem-guest"
copy_libs "$d" "$d/bin/grantmem-guest" "$d/usr/bin/xenstore"
cp -L "/$libdir/libgcc_s.so.1" "$d/$libdir/"
mkdir -p "$d/lib"
cp "$dd_src/agent.sh" "$d/lib/gm-agent.sh"
install -m 755 "$dd_src/guest-init" "$d/init"
cpio_gz "$d" "$work/ddguest.cpio.gz"

# dom0: busybox, the Xen tools, grantmem's tests, the test domains' kernel,
# initramfs images and configurations.
d=$work/dom0
xbin=usr/lib/xen-4.17/bin
busybox_tree "$d"
copy_mods "$d" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs
mkdir -p "$d/$xbin" "$d/etc/xen"
for b in xl xenstored xenconsoled xen-init-dom0; do
	cp "$root/$xbin/$b" "$d/$xbin/"
done
xenstore_cli "$d"
cp "$scenario" "$d/bin/grantmem-scenario"
cp "$selfgrant" "$d/bin/xen-selfgrant"
cp "$vblk" "$d/bin/grantmem-blk"
cp "$vdev" "$d/bin/grantmem-vdev"
cp "$bench" "$d/bin/grantmem-bench"
cp "$ddprobe" "$d/bin/xen-ddprobe"
copy_libs "$d" "$d/$xbin"/* "$d/usr/bin/xenstore" "$d/bin/grantmem-scenario" "$d/bin/xen-selfgrant" \
	"$d/bin/grantmem-blk" "$d/bin/grantmem-vdev" "$d/bin/grantmem-bench" "$d/bin/xen-ddprobe"
# xl calls pthread_cancel, which dlopen()s libgcc_s: ldd cannot see that
cp -L "/$libdir/libgcc_s.so.1" "$d/$libdir/"
cp "$root/boot/vmlinuz-$kver" "$d/root/vmlinuz"
cp "$work/domu.cpio.gz" "$d/root/domu.cpio.gz"
cp "$here/domu.cfg" "$d/etc/xen/gmguest.cfg"
cp "$work/dd.cpio.gz" "$work/ddguest.cpio.gz" "$d/root/"
mkdir -p "$d/etc/gmdd"
cp "$dd_src/dd.cfg" "$dd_src/guest.cfg" "$dd_src/dom0-dd.sh" "$d/etc/gmdd/"
# xl must not balloon dom0 down: dom0_mem already fixed its size
echo 'autoballoon="off"' >"$d/etc/xen/xl.conf"
install -m 755 "$here/dom0-init" "$d/init"
cpio_gz "$d" "$work/dom0.cpio.gz"
say "initramfs built: dom0 $(du -k "$work/dom0.cpio.gz" | cut -f1) KiB," \
	"test domain $(du -k "$work/domu.cpio.gz" | cut -f1) KiB," \
	"driver domain $(du -k "$work/dd.cpio.gz" | cut -f1) KiB," \
	"its guests $(du -k "$work/ddguest.cpio.gz" | cut -f1) KiB ($(elapsed) s)"

# ---- boot -------------------------------------------------------------------------

log=$work/serial.log
qout=$work/qemu.out
rm -f "$log" "$qout"
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
# never leave our qemu behind, whatever ends this script
trap stop_qemu EXIT
trap 'exit 130' INT TERM HUP

xen_cmdline="console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2"
# loglevel=4 keeps dom0's kernel chatter from cutting result lines
dom0_cmdline="console=hvc0 earlyprintk=xen rdinit=/init loglevel=4 ${GM_XEN_DOM0_ARGS:-}"
[ "${GM_XEN_DD:-1}" = 1 ] && dom0_cmdline="$dom0_cmdline gmxen.dd"
tboot=$(date +%s.%N)
"$qemu" -accel tcg,thread=multi -cpu "$cpu" -m 3072 -smp 2 \
	-display none -monitor none -no-reboot -serial "file:$log" \
	-kernel "$cache/xen.elf" -append "$xen_cmdline" \
	-initrd "$root/boot/vmlinuz-$kver $dom0_cmdline,$work/dom0.cpio.gz" \
	</dev/null >"$qout" 2>&1 &
qpid=$!
say "qemu started (pid $qpid), serial log $log, timeout ${timeout}s"

# results: the GMXEN lines of the serial log; a line may carry console noise
# before the marker, and \r from the serial console
# (while qemu runs, a last line without its newline is left for the next look)
results() {
	[ -f "$log" ] || return 0
	if [ "${1:-}" = complete ] && [ -n "$(tail -c 1 "$log")" ]; then
		sed '$d' "$log"
	else
		cat "$log"
	fi | tr -d '\r' | grep -a -o 'GMXEN \(PASS\|FAIL\|END\|INFO\).*' || true
}
shown=0
show_new() {
	local all n
	all=$(results "${1:-complete}" | grep -v '^GMXEN END' || true)
	n=$(printf '%s' "$all" | grep -c '^GMXEN' || true)
	if [ "$n" -gt "$shown" ]; then
		printf '%s\n' "$all" | sed -n "$((shown + 1)),${n}p"
		shown=$n
	fi
}

status=running
while :; do
	show_new
	if grep -a -q 'GMXEN END' "$log" 2>/dev/null; then
		status=ended
		break
	fi
	if ! kill -0 "$qpid" 2>/dev/null; then
		status=exited
		break
	fi
	if awk -v t0="$tboot" -v t1="$(date +%s.%N)" -v t="$timeout" 'BEGIN { exit !(t1 - t0 > t) }'; then
		status=timeout
		break
	fi
	sleep 0.5
done
tend=$(date +%s.%N)
# dom0 powers off right after the end marker: give qemu a moment to exit
if [ "$status" = ended ]; then
	for _ in $(seq 20); do
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.5
	done
	kill -0 "$qpid" 2>/dev/null && say "qemu still running after the end marker; stopping it"
fi
stop_qemu
show_new all

# ---- verdict --------------------------------------------------------------------

passed=$(results | grep -c '^GMXEN PASS' || true)
failed=$(results | grep -c '^GMXEN FAIL' || true)
end=$(results | sed -n 's/^GMXEN END \([0-9]*\).*/\1/p' | head -n 1)
problems=
case $status in
ended)
	if [ "$end" != "$((passed + failed))" ]; then
		problems="dom0 wrote ${end:-?} result lines, $((passed + failed)) arrived (garbled console?)"
	fi
	;;
exited) problems="qemu exited before the end marker (see $log, $qout)" ;;
timeout) problems="timeout after ${timeout}s without the end marker (see $log)" ;;
esac
if [ -n "$problems" ]; then
	echo "GMXEN FAIL harness: $problems"
	failed=$((failed + 1))
	if [ -s "$qout" ]; then
		sed 's/^/qemu: /' "$qout"
	fi
	echo "--- last lines of $log"
	tr -d '\r' <"$log" | tail -n 30
	echo "---"
fi
if [ "$passed" -eq 0 ] && [ -z "$problems" ]; then
	echo "GMXEN FAIL harness: no checks ran"
	failed=$((failed + 1))
fi
say "boot and tests $(awk -v a="$tboot" -v b="$tend" 'BEGIN { printf "%.1f", b - a }') s," \
	"total run time $(elapsed) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
