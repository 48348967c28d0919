# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- tools: reference backends and tools -----------------------------------------
# tools/common: what the tools share (not installed): the command line of
# every tool (args: one option table drives getopt, --help and --version,
# strict numbers and sizes, exit status 2 for usage errors), the frontend driver
# (virtq-driver: a guest's side of the rings, used by grantmem-guest and the
# tests), the RAM transport of grantmem-blk and grantmem-guest (blk-ram:
# a memfd shared over a unix socket, the plain-shared-RAM baseline, as a
# transport of the backend loop) and the --fault testing aid of backends
# on the loop (fault-aid), and what the backend tools do around the loop
# (serve: stop signals, one run of the vdev transport).
noinst_LTLIBRARIES += tools/common/libgm-tools.la
tools_common_libgm_tools_la_SOURCES = \
	tools/common/virtq-driver.c \
	tools/common/virtq-driver.h \
	tools/common/blk-ram.c \
	tools/common/blk-ram.h \
	tools/common/args.c \
	tools/common/args.h \
	tools/common/fault-aid.c \
	tools/common/fault-aid.h \
	tools/common/serve.c \
	tools/common/serve.h
GM_TOOL_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools/common
tools_common_libgm_tools_la_CPPFLAGS = $(GM_TOOL_CPPFLAGS)
GM_TOOL_LIBS = tools/common/libgm-tools.la libgrantmem.la $(PTHREAD_LIBS)
GM_EMU_LIBS = libgrantmem-emu.la

# The emulated Xen's hub (installed), and two testing aids that are built
# but not installed: a manual test domain, and the guest/backend scenario
# that runs unchanged on the emulated world and on real Xen (tests/xen).
bin_PROGRAMS += tools/grantmem-xen-emu
noinst_PROGRAMS += tools/grantmem-domain tools/grantmem-scenario
tools_grantmem_xen_emu_CPPFLAGS = $(GM_TOOL_CPPFLAGS)
tools_grantmem_domain_CPPFLAGS = $(GM_TOOL_CPPFLAGS)
tools_grantmem_scenario_CPPFLAGS = $(GM_TOOL_CPPFLAGS)
tools_grantmem_xen_emu_LDADD = $(GM_EMU_LIBS) $(GM_TOOL_LIBS)
tools_grantmem_domain_LDADD = $(GM_EMU_LIBS) $(GM_TOOL_LIBS)
tools_grantmem_scenario_LDADD = $(GM_EMU_LIBS) $(GM_TOOL_LIBS)

# The virtio-blk backend (vdev, RAM and ioreq transports) and its
# test-domain frontend, and the toolstack's part (creating devices in
# xenstore).
bin_PROGRAMS += tools/grantmem-blk tools/grantmem-guest tools/grantmem-vdev
tools_grantmem_blk_SOURCES = tools/grantmem-blk.c \
	tools/blk-ioreq.c tools/blk-ioreq.h
tools_grantmem_blk_CPPFLAGS = $(GM_TOOL_CPPFLAGS)
tools_grantmem_blk_LDADD = libgrantmem-ioreq.la $(GM_EMU_LIBS) $(GM_TOOL_LIBS)
tools_grantmem_guest_SOURCES = tools/grantmem-guest.c
tools_grantmem_guest_CPPFLAGS = $(GM_TOOL_CPPFLAGS)
tools_grantmem_guest_LDADD = $(GM_EMU_LIBS) $(GM_TOOL_LIBS)
tools_grantmem_vdev_CPPFLAGS = $(GM_TOOL_CPPFLAGS)

# The virtio-net backend on a Linux tap (vdev, ioreq and RAM transports).
bin_PROGRAMS += tools/grantmem-net
tools_grantmem_net_SOURCES = tools/grantmem-net.c tools/net-tap.c tools/net-tap.h \
	tools/net-link.c tools/net-link.h \
	tools/blk-ioreq.c tools/blk-ioreq.h
tools_grantmem_net_CPPFLAGS = $(GM_TOOL_CPPFLAGS)
tools_grantmem_net_LDADD = libgrantmem-ioreq.la $(GM_EMU_LIBS) $(GM_TOOL_LIBS)
# Its test frontend: a virtio-net driver and a small IPv4 stack (not installed).
noinst_PROGRAMS += tools/grantmem-netguest
tools_grantmem_netguest_CPPFLAGS = $(GM_TOOL_CPPFLAGS)
tools_grantmem_netguest_LDADD = $(GM_EMU_LIBS) $(GM_TOOL_LIBS)
tools_grantmem_vdev_LDADD = $(GM_EMU_LIBS) $(GM_TOOL_LIBS)

# `make demo`: a virtio-blk backend in driver domain 1 serving test domain 5
# on an emulated Xen hub, with data verification and the grant cache's stats.
dist_noinst_SCRIPTS += tools/demo.sh
demo: all
	@bash $(srcdir)/tools/demo.sh '$(abs_top_builddir)'
.PHONY: demo

# `make demo-net` (root): grantmem-net in driver domain 1 on a tap moved into
# a network namespace, test domain 5 pinging and streaming through it.
dist_noinst_SCRIPTS += tools/demo-net.sh
demo-net: all tests/net-echo
	@bash $(srcdir)/tools/demo-net.sh '$(abs_top_builddir)'
.PHONY: demo-net
