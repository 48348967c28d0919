#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/xen/pvh/build-kernel.sh - the PVH test domain's kernel and glue module.
#
#   build-kernel.sh CACHE SRCDIR
#
# Debian's stock kernel has no CONFIG_XEN_VIRTIO, so the test domain runs a
# kernel built from Debian's linux-source-6.1: tinyconfig plus
# tests/xen/pvh/kernel.config.  That takes minutes, so the build tree is kept
# in CACHE/pvh-kernel/<key>, where <key> hashes the fragment and the source
# package's version: a rerun with the same inputs builds nothing.  The glue
# module (gm_vmmio_evtchn.c) is rebuilt when its source changes (seconds).
#
# Prints the directory holding bzImage and gm_vmmio_evtchn.ko on its last
# line.  Needs linux-source-6.1 flex bison libelf-dev bc (installed here when
# missing and running as root).  Environment: GM_PVH_JOBS (make -j, default 3).
set -eu

[ $# -eq 2 ] || { echo "usage: $0 CACHE SRCDIR" >&2; exit 2; }
cache=$1
here=$2/tests/xen/pvh
jobs=${GM_PVH_JOBS:-3}
say() { echo "check-xen-pvh: $*" >&2; }
die() { echo "check-xen-pvh: error: $*" >&2; exit 1; }

pkgs="linux-source-6.1 flex bison libelf-dev bc"
missing=
for p in $pkgs; do
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	[ "$(id -u)" -eq 0 ] || die "install$missing (as root: apt-get install$missing)"
	say "installing$missing"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$missing >/dev/null 2>&1 || {
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$missing >/dev/null
	} || die "apt-get install$missing failed"
fi

srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1)
[ -n "$tarball" ] || die "linux-source-6.1 installed but no /usr/src/linux-source-6.1.tar.*"
key=$( (echo "linux-source-6.1 $srcver"; cat "$here/kernel.config") | sha256sum | cut -c1-16)
top=$cache/pvh-kernel
src=$top/linux-source-$srcver
kb=$top/$key
mkdir -p "$top"

# One build at a time per cache (two harness runs may share it).
exec 9>"$top/lock"
flock 9

if [ ! -f "$src/.unpacked" ]; then
	say "unpacking linux-source-6.1 $srcver"
	rm -rf "$src" "$top/unpack.tmp"
	mkdir -p "$top/unpack.tmp"
	tar -xaf "$tarball" -C "$top/unpack.tmp"
	mv "$top/unpack.tmp/linux-source-6.1" "$src"
	rmdir "$top/unpack.tmp"
	touch "$src/.unpacked"
fi

if [ ! -f "$kb/.built" ]; then
	say "building the test domain's kernel (key $key; a few minutes, cached afterwards)"
	t0=$(date +%s)
	rm -rf "$kb"
	mkdir -p "$kb"
	{
		make -C "$src" O="$kb" tinyconfig
		"$src/scripts/kconfig/merge_config.sh" -m -O "$kb" "$kb/.config" "$here/kernel.config"
		make -C "$src" O="$kb" olddefconfig
		nice make -C "$src" O="$kb" -j"$jobs" bzImage
		# out-of-tree modules need scripts/module.lds and Module.symvers
		nice make -C "$src" O="$kb" -j"$jobs" modules_prepare
		cp "$kb/vmlinux.symvers" "$kb/Module.symvers"
	} >"$kb/build.log" 2>&1 || { tail -n 30 "$kb/build.log" >&2; die "kernel build failed (see $kb/build.log)"; }
	# every option the fragment sets must have survived olddefconfig
	bad=$(grep -E '^CONFIG_[A-Z0-9_]+=y' "$here/kernel.config" | while read -r l; do
		grep -qx "$l" "$kb/.config" || echo "${l%=y}"; done)
	[ -z "$bad" ] || die "kernel config lost:" $bad
	touch "$kb/.built"
	say "kernel built in $(($(date +%s) - t0)) s"
fi

# The glue module, rebuilt when its source changes.
msum=$(sha256sum "$here/gm_vmmio_evtchn.c" | cut -c1-16)
if [ ! -f "$kb/gm-mod/gm_vmmio_evtchn.ko" ] || [ "$(cat "$kb/gm-mod/.sum" 2>/dev/null)" != "$msum" ]; then
	rm -rf "$kb/gm-mod"
	mkdir -p "$kb/gm-mod"
	cp "$here/gm_vmmio_evtchn.c" "$kb/gm-mod/"
	echo 'obj-m := gm_vmmio_evtchn.o' >"$kb/gm-mod/Kbuild"
	make -C "$kb" M="$kb/gm-mod" modules >"$kb/gm-mod/build.log" 2>&1 ||
		{ cat "$kb/gm-mod/build.log" >&2; die "gm_vmmio_evtchn.ko did not build"; }
	echo "$msum" >"$kb/gm-mod/.sum"
fi
mkdir -p "$kb/out"
cp "$kb/arch/x86/boot/bzImage" "$kb/gm-mod/gm_vmmio_evtchn.ko" "$kb/out/"
echo "$kb/out"
