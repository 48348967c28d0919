# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- backends/grant: grant regions and the mapping cache (include/grantmem/grant.h) ----
noinst_LTLIBRARIES += backends/grant/libgm-grant.la
backends_grant_libgm_grant_la_SOURCES = backends/grant/grant.c
grantmeminclude_HEADERS += include/grantmem/grant.h
GM_CORE_LAYERS += backends/grant/libgm-grant.la
