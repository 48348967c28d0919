# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- backends/world: the Xen worlds (include/grantmem/world.h) ----
# gm_xen_open() and the registry of worlds (open.c), and the real world over
# libxengnttab, libxenevtchn and libxenstore (real.c; only with the Xen
# libraries), whose messages reach grantmem's log through the xentoollog
# bridge (xtl.c; libgrantmem-ioreq uses it too).  XEN_CFLAGS/XEN_LIBS are
# empty without Xen.  A per-target CPPFLAGS replaces AM_CPPFLAGS: keep it
# first.
noinst_LTLIBRARIES += backends/world/libgm-world.la
backends_world_libgm_world_la_SOURCES = backends/world/open.c
backends_world_libgm_world_la_CPPFLAGS = $(AM_CPPFLAGS) $(XEN_CFLAGS)
backends_world_libgm_world_la_LIBADD = $(XEN_LIBS)
if GM_HAVE_XEN
backends_world_libgm_world_la_SOURCES += backends/world/real.c backends/world/real.h \
	backends/world/xtl.c backends/world/xtl.h
else
GM_PRIVATE_UNBUILT += backends/world/xtl.h
endif
grantmeminclude_HEADERS += include/grantmem/world.h
GM_CORE_LAYERS += backends/world/libgm-world.la
