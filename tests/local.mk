# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- tests: the automake parallel harness (exit 0 pass, 77 skip, 99 error) --------
# One section per layer, in the order of the layers.  GM_TEST_LIBS gives the
# installed libraries (and the emulated Xen); tests of internals link
# libgrantmem-core.la.
GM_TEST_LIBS = $(GM_EMU_LIBS) libgrantmem.la $(PTHREAD_LIBS)
GM_TEST_CORE_LIBS = libgrantmem-core.la $(PTHREAD_LIBS)
# The driver's side of virtqueues (tools/common/virtq-driver.h).
GM_TEST_DRIVER_LIBS = tools/common/libgm-tools.la $(GM_TEST_LIBS)
# The fake Xen world for unit tests of later layers: add $(FAKE_XEN_SOURCES)
# to a test's SOURCES (it needs only the public API).
FAKE_XEN_SOURCES = tests/fake-xen.c tests/fake-xen.h
EXTRA_DIST += tests/helpers.h tests/test-regions.h tests/test-emu-common.h tests/test-grant-common.h \
	tests/test-virtq-common.h tests/test-virtq-body.h tests/hostile.h \
	tests/no-membarrier.h

# ---- the whole library: headers and exported symbols ----
TESTS += tests/test-headers.sh tests/test-symbols.sh tests/test-layers.sh tests/test-layout.sh
EXTRA_DIST += tests/test-headers.sh tests/test-symbols.sh tests/test-layers.sh tests/test-layout.sh \
	docs/architecture.md
# ---- every file: its SPDX licence line (COPYING, COPYING.GPL-2) ----
TESTS += tests/test-spdx.sh
EXTRA_DIST += tests/test-spdx.sh
# ---- the manual pages (docs/man) ----
TESTS += tests/test-man3.sh tests/test-man1.sh
EXTRA_DIST += tests/test-man3.sh tests/test-man1.sh

# ---- lib/base and lib/mem: the memory core ----
core_tests = \
	tests/test-space \
	tests/test-bytes \
	tests/test-map \
	tests/test-host \
	tests/test-view \
	tests/test-fdio \
	tests/test-log \
	tests/test-dref
thread_tests += tests/test-threads tests/test-log tests/test-dref
check_PROGRAMS += $(core_tests) tests/test-threads
TESTS += $(core_tests) tests/test-threads
tests_test_space_LDADD = $(GM_TEST_LIBS)
tests_test_bytes_LDADD = $(GM_TEST_LIBS)
tests_test_map_LDADD = $(GM_TEST_LIBS)
tests_test_host_LDADD = $(GM_TEST_LIBS)
tests_test_view_LDADD = $(GM_TEST_LIBS)
tests_test_fdio_LDADD = $(GM_TEST_LIBS)
# test-log sets the rate limit's clock, an internal.
tests_test_log_LDADD = $(GM_TEST_CORE_LIBS)
# test-dref: distributed references, an internal.
tests_test_dref_LDADD = $(GM_TEST_CORE_LIBS)
tests_test_threads_LDADD = $(GM_TEST_LIBS)

# ---- lib/xen and backends/world: the Xen ops ----
check_PROGRAMS += tests/test-xen-ops tests/test-fake-xen
TESTS += tests/test-xen-ops tests/test-fake-xen
thread_tests += tests/test-xen-ops
tests_test_xen_ops_LDADD = $(GM_TEST_LIBS)
tests_test_fake_xen_SOURCES = tests/test-fake-xen.c $(FAKE_XEN_SOURCES)
tests_test_fake_xen_LDADD = $(GM_TEST_LIBS)
if GM_HAVE_XEN
check_PROGRAMS += tests/test-xen-real-conv
TESTS += tests/test-xen-real-conv
tests_test_xen_real_conv_CPPFLAGS = $(AM_CPPFLAGS) $(XEN_CFLAGS)
tests_test_xen_real_conv_LDADD = $(GM_TEST_CORE_LIBS)
endif

# ---- backends/emu: the emulated Xen ----
emu_tests = \
	tests/test-emu-gnttab \
	tests/test-emu-dead \
	tests/test-emu-evtchn \
	tests/test-emu-xs \
	tests/test-emu-hostile \
	tests/test-emu-hubpath
check_PROGRAMS += $(emu_tests)
TESTS += $(emu_tests)
tests_test_emu_gnttab_LDADD = $(GM_TEST_LIBS)
tests_test_emu_dead_LDADD = $(GM_TEST_LIBS)
# a mapper killed mid-operation beside a live one: the hub's handshake
thread_tests += tests/test-emu-dead
tests_test_emu_evtchn_LDADD = $(GM_TEST_LIBS)
tests_test_emu_xs_LDADD = $(GM_TEST_LIBS)
tests_test_emu_hostile_LDADD = $(GM_TEST_LIBS)
tests_test_emu_hubpath_LDADD = $(GM_TEST_LIBS)
# The scenario pair on a hub run by tools/grantmem-xen-emu.
TESTS += tests/test-emu-scenario.sh
EXTRA_DIST += tests/test-emu-scenario.sh

# ---- backends/grant: grant regions and the mapping cache ----
check_PROGRAMS += tests/test-grant tests/test-grant-host tests/test-grant-threads
TESTS += tests/test-grant tests/test-grant-host tests/test-grant-threads
thread_tests += tests/test-grant-threads tests/test-grant-host
tests_test_grant_LDADD = $(GM_TEST_LIBS)
tests_test_grant_host_LDADD = $(GM_TEST_LIBS)
tests_test_grant_threads_LDADD = $(GM_TEST_LIBS)

# ---- lib/virtio: rings and virtqueues ----
virtq_tests = \
	tests/test-virtq-ring \
	tests/test-virtq-split \
	tests/test-virtq-packed \
	tests/test-virtq-hostile \
	tests/test-virtq-grant
check_PROGRAMS += $(virtq_tests) tests/test-virtq-threads
TESTS += $(virtq_tests) tests/test-virtq-threads
thread_tests += tests/test-virtq-threads
GM_TEST_DRIVER_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools/common
tests_test_virtq_ring_LDADD = $(GM_TEST_LIBS)
tests_test_virtq_split_CPPFLAGS = $(GM_TEST_DRIVER_CPPFLAGS)
tests_test_virtq_split_LDADD = $(GM_TEST_DRIVER_LIBS)
tests_test_virtq_packed_CPPFLAGS = $(GM_TEST_DRIVER_CPPFLAGS)
tests_test_virtq_packed_LDADD = $(GM_TEST_DRIVER_LIBS)
tests_test_virtq_hostile_CPPFLAGS = $(GM_TEST_DRIVER_CPPFLAGS)
tests_test_virtq_hostile_LDADD = $(GM_TEST_DRIVER_LIBS)
tests_test_virtq_grant_CPPFLAGS = $(GM_TEST_DRIVER_CPPFLAGS)
tests_test_virtq_grant_LDADD = $(GM_TEST_DRIVER_LIBS)
tests_test_virtq_threads_CPPFLAGS = $(GM_TEST_DRIVER_CPPFLAGS)
tests_test_virtq_threads_LDADD = $(GM_TEST_DRIVER_LIBS)

# ---- lib/vdev: the vdev transport ----
check_PROGRAMS += tests/test-vdev tests/test-vdev-blk
TESTS += tests/test-vdev tests/test-vdev-blk
thread_tests += tests/test-vdev tests/test-vdev-blk
tests_test_vdev_LDADD = $(GM_TEST_LIBS)
tests_test_vdev_blk_LDADD = $(GM_TEST_LIBS)
# End to end: grantmem-blk and grantmem-guest on a hub (tools/demo.sh's pieces).
TESTS += tests/test-vdev-demo.sh
EXTRA_DIST += tests/test-vdev-demo.sh
# The hub goes away under grantmem-blk (gm_vdev_backend_process: -ENOTCONN)
# and under grantmem-domain: both stop, saying so.
TESTS += tests/test-hub-gone.sh
EXTRA_DIST += tests/test-hub-gone.sh

# ---- lib/dev: the backend loop ----
# Over a transport of the test's own, on RAM (threads: run under TSan too).
check_PROGRAMS += tests/test-dev
TESTS += tests/test-dev
thread_tests += tests/test-dev
tests_test_dev_CPPFLAGS = $(GM_TEST_DRIVER_CPPFLAGS)
tests_test_dev_LDADD = $(GM_TEST_DRIVER_LIBS)

# ---- lib/ioreq: the ioreq transport ----
# The register file driven directly, over a RAM + grant space on the fake
# Xen, and with real virtqueues: a driver's rings in granted pages, served.
# The PVH scenario (tests/xen/pvh/run-pvh.sh) runs from `make check-xen`.
check_PROGRAMS += tests/test-ioreq-mmio tests/test-ioreq-vq
TESTS += tests/test-ioreq-mmio tests/test-ioreq-vq
tests_test_ioreq_mmio_SOURCES = tests/test-ioreq-mmio.c $(FAKE_XEN_SOURCES)
tests_test_ioreq_mmio_LDADD = libgrantmem-ioreq.la $(GM_TEST_LIBS)
tests_test_ioreq_vq_SOURCES = tests/test-ioreq-vq.c $(FAKE_XEN_SOURCES)
tests_test_ioreq_vq_CPPFLAGS = $(GM_TEST_DRIVER_CPPFLAGS)
tests_test_ioreq_vq_LDADD = libgrantmem-ioreq.la $(GM_TEST_DRIVER_LIBS)
# A config space that changes under its driver (gm_dev_set_config).
check_PROGRAMS += tests/test-ioreq-config
TESTS += tests/test-ioreq-config
thread_tests += tests/test-ioreq-config
tests_test_ioreq_config_SOURCES = tests/test-ioreq-config.c $(FAKE_XEN_SOURCES)
tests_test_ioreq_config_LDADD = libgrantmem-ioreq.la $(GM_TEST_LIBS)
# Versioned structs of every library, as callers of other versions hand them.
check_PROGRAMS += tests/test-abi
TESTS += tests/test-abi
tests_test_abi_LDADD = libgrantmem-ioreq.la $(GM_TEST_LIBS)

# ---- tools: every tool's command line (tools/common/args.h) ----
TESTS += tests/test-tools.sh
EXTRA_DIST += tests/test-tools.sh

# ---- tools: grantmem-blk's RAM transport ----
# End to end, with a hostile peer first (tests/blk-ram-hostile).
check_PROGRAMS += tests/blk-ram-hostile
tests_blk_ram_hostile_CPPFLAGS = $(GM_TEST_DRIVER_CPPFLAGS)
tests_blk_ram_hostile_LDADD = $(GM_TEST_DRIVER_LIBS)
TESTS += tests/test-blk-ram.sh
EXTRA_DIST += tests/test-blk-ram.sh

# ---- robustness: hostile guests and faults (tests/ROBUSTNESS.md) ----
robust_tests = tests/test-hostile-grant tests/test-fault-sweep
check_PROGRAMS += $(robust_tests)
TESTS += $(robust_tests)
tests_test_hostile_grant_SOURCES = tests/test-hostile-grant.c tests/wide-xen.h $(FAKE_XEN_SOURCES)
tests_test_hostile_grant_LDADD = $(GM_TEST_LIBS)
tests_test_fault_sweep_SOURCES = tests/test-fault-sweep.c $(FAKE_XEN_SOURCES)
tests_test_fault_sweep_LDADD = $(GM_TEST_LIBS)
# End to end: tools/demo.sh's virtio-blk scenario with each call site of the
# backend's serving path failed in turn (grantmem-blk --fault).
TESTS += tests/test-fault-sweep-blk.sh
EXTRA_DIST += tests/test-fault-sweep-blk.sh tests/robustness-report.sh tests/ROBUSTNESS.md
robustness-report:
	$(SHELL) $(srcdir)/tests/robustness-report.sh '$(abs_top_srcdir)' '$(abs_top_builddir)'
.PHONY: robustness-report

# ---- tools: grantmem-net against the kernel's network stack ----
# Its tap in a network namespace of the test's own, with the kernel's TCP
# and UDP answering through tests/net-echo (root and /dev/net/tun: CI).
check_PROGRAMS += tests/net-echo
TESTS += tests/test-net-tap.sh
EXTRA_DIST += tests/test-net-tap.sh
