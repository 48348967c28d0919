# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- tests/xen: `make check-xen`, grantmem on real Xen ----
# Xen 4.17, a PV dom0 and a PV test domain under qemu (tests/xen/README.md),
# then a PVH guest with Linux's own virtio drivers (tests/xen/pvh/).  Not
# part of `make check`: it needs root (apt-get) and Debian's archive, and
# takes a few minutes.  xen-selfgrant uses only the public API; it also
# runs on the emulated Xen, where `make check` runs it
# (test-selfgrant-emu.sh).
EXTRA_DIST += \
	tests/xen/README.md \
	tests/xen/check-xen.sh \
	tests/xen/run.sh \
	tests/xen/dom0-init \
	tests/xen/domu-init \
	tests/xen/domu.cfg \
	tests/xen/test-selfgrant-emu.sh \
	tests/xen/pvh/README.md \
	tests/xen/pvh/run-pvh.sh \
	tests/xen/pvh/build-kernel.sh \
	tests/xen/pvh/kernel.config \
	tests/xen/pvh/gm_vmmio_evtchn.c \
	tests/xen/pvh/gm-blkcheck.c \
	tests/xen/pvh/gm-netcheck.c \
	tests/xen/pvh/dom0-init \
	tests/xen/pvh/domu-init \
	tests/xen/pvh/domu.cfg \
	tests/xen/dd/agent.sh \
	tests/xen/dd/dd-init \
	tests/xen/dd/guest-init \
	tests/xen/dd/dd.cfg \
	tests/xen/dd/guest.cfg \
	tests/xen/dd/dom0-dd.sh \
	tests/xen/dd/xen-ddprobe.c
if GM_HAVE_XEN
# built by `make check` (and by check-xen), not by `make all`
CHECK_XEN_DEPS = tests/xen/xen-selfgrant
check_PROGRAMS += tests/xen/xen-selfgrant
tests_xen_xen_selfgrant_LDADD = $(GM_TEST_LIBS)
TESTS += tests/xen/test-selfgrant-emu.sh
if GM_HAVE_IOREQ
# the driver domain's privilege probe: raw libxenforeignmemory, libxenctrl
# and libxengnttab calls (the same libraries the ioreq server needs)
CHECK_XEN_DEPS += tests/xen/dd/xen-ddprobe
check_PROGRAMS += tests/xen/dd/xen-ddprobe
tests_xen_dd_xen_ddprobe_CPPFLAGS = $(AM_CPPFLAGS) $(IOREQ_CFLAGS) $(XEN_CFLAGS)
tests_xen_dd_xen_ddprobe_LDADD = $(IOREQ_LIBS) $(XEN_LIBS)
endif
check-xen:
	$(MAKE) $(AM_MAKEFLAGS) all $(CHECK_XEN_DEPS)
	bash $(srcdir)/tests/xen/check-xen.sh '$(abs_top_builddir)' '$(abs_top_srcdir)'
else
check-xen:
	@echo "check-xen: configure found no Xen libraries (install libxen-dev)" >&2; exit 1
endif
.PHONY: check-xen
