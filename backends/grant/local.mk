# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- backends/grant: grant regions and the mapping cache (include/grantmem/grant.h) ----
# cache.c is the mapping cache; region.c the grant region's callbacks over
# it (region calls cache, never the other way); grant-internal.h between them.
noinst_LTLIBRARIES += backends/grant/libgm-grant.la
backends_grant_libgm_grant_la_SOURCES = \
	backends/grant/grant-internal.h \
	backends/grant/cache.c \
	backends/grant/region.c
grantmeminclude_HEADERS += include/grantmem/grant.h
GM_CORE_LAYERS += backends/grant/libgm-grant.la
