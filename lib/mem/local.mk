# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- lib/mem: the memory core (include/grantmem/mem.h) ----
# Regions, address spaces, views, map/unmap, the bytes API, spans, fd transfers.
noinst_LTLIBRARIES += lib/mem/libgm-mem.la
lib_mem_libgm_mem_la_SOURCES = \
	lib/mem/mem-internal.h \
	lib/mem/region.c \
	lib/mem/space.c \
	lib/mem/view.c \
	lib/mem/map.c \
	lib/mem/bytes.c \
	lib/mem/span.c \
	lib/mem/fdio.c
grantmeminclude_HEADERS += include/grantmem/mem.h
GM_CORE_LAYERS += lib/mem/libgm-mem.la
