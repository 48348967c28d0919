# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- debian: the Debian packages (README.md, "Debian packages") ----------
# Shipped in the tarball, so that `dpkg-buildpackage -us -uc -b` works from an
# unpacked release as from a clone.  tests/test-debian.sh checks that the
# symbols file lists every exported function and that debian/changelog has
# configure.ac's version.
EXTRA_DIST += \
	debian/changelog \
	debian/control \
	debian/copyright \
	debian/rules \
	debian/source/format \
	debian/libgrantmem0.install \
	debian/libgrantmem0.symbols \
	debian/libgrantmem-dev.install \
	debian/grantmem-tools.install \
	debian/grantmem-doc.docs \
	debian/not-installed
TESTS += tests/test-debian.sh
EXTRA_DIST += tests/test-debian.sh
