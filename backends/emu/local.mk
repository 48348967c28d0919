# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- backends/emu: the emulated Xen, libgrantmem-emu (include/grantmem/emu.h) ----
# A test world: the hub (xenstore, domains' lives, event-channel binding,
# clean-up; hub-internal.h lists its files), the world's ops (client.h lists
# its files), the framing both use (wire.c) and the calls that run a hub
# (control.c).  Grant tables (gnttab.c) and event channels (evtchn.c) live
# in memory the processes share (shm.h) and are pure modules:
# tests/fuzz/fuzz-gnttab drives the grant table in-process.  Its own
# library, so that a device model that only runs on Xen links none of it.
lib_LTLIBRARIES += libgrantmem-emu.la
libgrantmem_emu_la_SOURCES = \
	backends/emu/proto.h \
	backends/emu/wire.h \
	backends/emu/wire.c \
	backends/emu/gnttab.h \
	backends/emu/gnttab.c \
	backends/emu/evtchn.h \
	backends/emu/evtchn.c \
	backends/emu/shm.h \
	backends/emu/hub.h \
	backends/emu/hub-internal.h \
	backends/emu/hub-xs.c \
	backends/emu/hub-domain.c \
	backends/emu/hub-grant.c \
	backends/emu/hub-evtchn.c \
	backends/emu/hub.c \
	backends/emu/control.c \
	backends/emu/client.h \
	backends/emu/client-conn.c \
	backends/emu/client-dom.c \
	backends/emu/client-gnttab.c \
	backends/emu/client-evtchn.c \
	backends/emu/client-xs.c \
	backends/emu/client.c
libgrantmem_emu_la_LIBADD = libgrantmem.la $(PTHREAD_LIBS)
libgrantmem_emu_la_LDFLAGS = -version-info $(GM_LT_VERSION) \
	-Wl,--version-script=$(srcdir)/backends/emu/libgrantmem-emu.sym
EXTRA_libgrantmem_emu_la_DEPENDENCIES = backends/emu/libgrantmem-emu.sym
EXTRA_DIST += backends/emu/libgrantmem-emu.sym
grantmeminclude_HEADERS += include/grantmem/emu.h
pkgconfig_DATA += grantmem-emu.pc
