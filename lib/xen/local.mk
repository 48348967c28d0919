# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- lib/xen: the Xen ops facade (include/grantmem/xen.h) ----
# Grant-table, grant-sharing, event-channel and xenstore handles over any
# world's ops table; the worlds themselves are in backends/world and
# backends/emu.
noinst_LTLIBRARIES += lib/xen/libgm-xen.la
lib_xen_libgm_xen_la_SOURCES = \
	lib/xen/xen-internal.h \
	lib/xen/xen.c
grantmeminclude_HEADERS += include/grantmem/xen.h
GM_CORE_LAYERS += lib/xen/libgm-xen.la
