#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install what building and testing grantmem needs on Debian 12, if missing.
# Usage: ./setup.sh [--xen] [--fuzz] [--deb] [--all]   (as root, or with sudo)
#   default  the build, `make check` and `make demo`
#   --xen    also what `make check-xen` installs (qemu, busybox, cpio)
#   --fuzz   also clang and its fuzzing runtime (`make fuzz`)
#   --deb    also what building the Debian packages needs (debhelper) and
#            checking them (lintian), and man-db, with which the manual-page
#            tests also format every page
#   --all    all of the above, valgrind and gnuplot: everything CI uses
set -eu

pkgs="build-essential autoconf automake libtool pkg-config libxen-dev"
deb="debhelper dpkg-dev lintian man-db"
for arg in "$@"; do
	case "$arg" in
	--xen) pkgs="$pkgs qemu-system-x86 busybox-static cpio" ;;
	--fuzz) pkgs="$pkgs clang libclang-rt-14-dev" ;;
	--deb) pkgs="$pkgs $deb" ;;
	--all) pkgs="$pkgs qemu-system-x86 busybox-static cpio clang libclang-rt-14-dev valgrind gnuplot-nox $deb" ;;
	*) echo "usage: $0 [--xen] [--fuzz] [--deb] [--all]" >&2; exit 2 ;;
	esac
done

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing$missing"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
