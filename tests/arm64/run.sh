#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# grantmem for arm64 on an amd64 Debian 12 machine: cross-build the
# libraries, the tools and the tests with aarch64-linux-gnu-gcc and run
# `make check`, every test, under qemu-user.  What CI's arm64 step runs.
#
#   tests/arm64/run.sh --packages          the Debian packages it needs
#   tests/arm64/run.sh BUILDDIR [ARGS...]  build in BUILDDIR, then
#                                          `make -j$JOBS check ARGS...`
#
# Once, as root:
#
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install --no-install-recommends --no-remove \
#           libxen-dev $(tests/arm64/run.sh --packages)
#
# libxen-dev, the amd64 one the other builds use, is named so that apt keeps
# both architectures' Xen libraries at one version; --no-remove so that it is
# never removed (libxen-dev cannot be installed for both architectures).
# The arm64 Xen *runtime* libraries come from apt; the arm64 libxen-dev
# (headers, .pc files, .so links) is unpacked into BUILDDIR/sysroot, never
# installed, and configure takes the Xen flags from there.
#
# The arm64 programs, the libtool wrapper scripts and the tools the tests
# start all run as on arm64 through binfmt_misc and qemu-aarch64: this
# script mounts binfmt_misc and registers qemu-aarch64 if that was not done
# yet (as root, or with sudo), and stops with an error when arm64 programs
# cannot be run, so that no test is ever skipped for it.
#
# Every program runs about three times slower under qemu-user than on the
# machine itself (the end-to-end fault sweep: 30 s on amd64, 60-120 s here),
# so tests with time limits get GM_TEST_TIME_SCALE=3: tests/test-fault-
# sweep-blk.sh gives a queue three times as long before it counts as
# stalled.  One test is shortened: tests/test-vdev-blk has 200 guests
# connect and leave rather than 1,000 (GM_TEST_FRONTENDS=200; every
# check but the backend's resident set, which qemu's code cache makes
# grow for reasons of its own).  None is left out.
#
# Environment: JOBS (parallel make jobs, default 2), GM_TEST_TIME_SCALE
# (default 3 here), GM_TEST_FRONTENDS (default 200 here).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HOST=aarch64-linux-gnu
MULTIARCH=/usr/lib/$HOST
JOBS=${JOBS:-2}
BINFMT=/proc/sys/fs/binfmt_misc
QEMU=/usr/bin/qemu-aarch64-static

# The cross compiler (gcc and g++, for the C++ header test), qemu-user and
# update-binfmts, and the arm64 Xen runtime libraries libxen-dev links
# against (libxenmisc4.17 holds libxenctrl; the rest come as dependencies,
# libc6:arm64 among them).
PACKAGES=(
	crossbuild-essential-arm64 qemu-user-static binfmt-support
	libxengnttab1:arm64 libxenevtchn1:arm64 libxenstore4:arm64 libxentoollog1:arm64
	libxendevicemodel1:arm64 libxenforeignmemory1:arm64 libxenmisc4.17:arm64
)

die() {
	echo "arm64: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 --packages | BUILDDIR [MAKE ARGS...]" >&2
	exit 2
}

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

check_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	die "missing packages: ${missing[*]}
  install them as root with:
    dpkg --add-architecture arm64 && apt-get update
    apt-get install --no-install-recommends --no-remove libxen-dev \$($0 --packages)"
}

# make_sysroot DIR: the arm64 libxen-dev, the same version as the arm64
# runtime libraries, unpacked into DIR.  Its .so links are relative
# (libxengnttab.so -> libxengnttab.so.1) and the libraries they name live
# in the real /usr/lib/aarch64-linux-gnu: point them there.
make_sysroot() {
	local dir=$1 version deb link target
	version=$(dpkg-query -W -f='${Version}' libxengnttab1:arm64)
	if [ "$(cat "$dir/.version" 2>/dev/null)" = "$version" ]; then
		echo "arm64: sysroot $dir has libxen-dev:arm64 $version"
		return 0
	fi
	rm -rf "$dir"
	mkdir -p "$dir/debs"
	# apt's download sandbox user cannot write to a root-owned directory
	(cd "$dir/debs" && apt-get download -q -o APT::Sandbox::User=root \
		"libxen-dev:arm64=$version") ||
		die "cannot download libxen-dev:arm64=$version"
	deb=$(ls "$dir"/debs/libxen-dev_*_arm64.deb)
	dpkg-deb -x "$deb" "$dir"
	for link in "$dir$MULTIARCH"/*.so; do
		[ -L "$link" ] || continue
		target=$(readlink "$link")
		case $target in /*) continue ;; esac
		[ -e "$MULTIARCH/$target" ] || continue # a library nothing here links
		ln -sfn "$MULTIARCH/$target" "$link"
	done
	for link in libxengnttab libxenevtchn libxenstore libxendevicemodel \
		libxenforeignmemory libxenctrl; do
		[ -e "$dir$MULTIARCH/$link.so" ] ||
			die "$dir$MULTIARCH/$link.so leads nowhere: is its arm64 runtime library installed?"
	done
	echo "$version" >"$dir/.version"
	echo "arm64: sysroot $dir has libxen-dev:arm64 $version"
}

# Make arm64 programs run: binfmt_misc mounted, qemu-aarch64 registered and
# enabled.  Registered with the F flag (the kernel opens qemu at once), so it
# works in any mount namespace and chroot.
setup_binfmt() {
	if [ ! -e "$BINFMT/register" ]; then
		as_root mount -t binfmt_misc binfmt_misc "$BINFMT" ||
			die "cannot mount binfmt_misc on $BINFMT (needs root and a kernel or container that allows it)"
	fi
	if [ ! -e "$BINFMT/qemu-aarch64" ] && command -v update-binfmts >/dev/null; then
		as_root update-binfmts --enable qemu-aarch64 || true
	fi
	if [ ! -e "$BINFMT/qemu-aarch64" ]; then
		# the ELF header of an aarch64 executable or shared object
		# (the kernel reads the \x escapes of the magic and the mask itself)
		printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$QEMU"':F' |
			as_root tee "$BINFMT/register" >/dev/null ||
			die "cannot register qemu-aarch64 with binfmt_misc (needs root)"
	fi
	if ! grep -qx enabled "$BINFMT/qemu-aarch64" || ! grep -qx enabled "$BINFMT/status"; then
		{ echo 1 | as_root tee "$BINFMT/qemu-aarch64" "$BINFMT/status" >/dev/null; } ||
			die "cannot enable qemu-aarch64 in binfmt_misc"
	fi
	sed 's/^/arm64: binfmt qemu-aarch64: /' "$BINFMT/qemu-aarch64"
}

# An arm64 program must run, as a test would run it: by exec, through
# binfmt_misc.  Otherwise every test would fail, one by one, or worse.
probe() {
	local dir=$1 out
	printf '#include <stdio.h>\nint main(void) { puts("aarch64"); return 0; }\n' \
		>"$dir/arm64-probe.c"
	"$HOST-gcc" -o "$dir/arm64-probe" "$dir/arm64-probe.c" || die "$HOST-gcc cannot build"
	out=$("$dir/arm64-probe" 2>&1) || true
	rm -f "$dir/arm64-probe" "$dir/arm64-probe.c"
	[ "$out" = aarch64 ] ||
		die "arm64 programs do not run here (binfmt_misc with qemu-aarch64 is needed): $out"
}

main() {
	[ $# -ge 1 ] || usage
	if [ "$1" = --packages ]; then
		printf '%s\n' "${PACKAGES[@]}"
		return 0
	fi
	case $1 in -*) usage ;; esac
	local build=$1
	shift
	[ -x "$SRC/configure" ] || die "$SRC/configure is missing: run ./autogen.sh first"
	check_packages
	mkdir -p "$build"
	build=$(cd "$build" && pwd)
	local sysroot=$build/sysroot

	make_sysroot "$sysroot"
	setup_binfmt
	probe "$build"

	cd "$build"
	# PKG_CONFIG: the build machine's pkg-config, told to read only the
	# sysroot's .pc files and to prefix their paths with it.
	"$SRC/configure" --host="$HOST" --enable-werror \
		PKG_CONFIG=pkg-config \
		PKG_CONFIG_LIBDIR="$sysroot$MULTIARCH/pkgconfig" \
		PKG_CONFIG_SYSROOT_DIR="$sysroot"
	# configure must have found the arm64 Xen libraries (real Xen ops and
	# the ioreq server are built on arm64 too)
	grep -q '^#define GM_HAVE_XEN 1' config.h || die "configure did not find the arm64 Xen libraries"
	grep -q '^#define GM_HAVE_IOREQ 1' config.h || die "configure did not enable the ioreq server"
	make -j"$JOBS"
	readelf -h .libs/libgrantmem.so | grep -q 'Machine: *AArch64' ||
		die "libgrantmem.so is not an arm64 library"
	GM_TEST_TIME_SCALE=${GM_TEST_TIME_SCALE:-3} GM_TEST_FRONTENDS=${GM_TEST_FRONTENDS:-200} \
		make -j"$JOBS" check "$@"
}

main "$@"
