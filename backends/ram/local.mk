# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- backends/ram: RAM regions (include/grantmem/ram.h) ----
noinst_LTLIBRARIES += backends/ram/libgm-ram.la
backends_ram_libgm_ram_la_SOURCES = backends/ram/ram.c
grantmeminclude_HEADERS += include/grantmem/ram.h
GM_CORE_LAYERS += backends/ram/libgm-ram.la
