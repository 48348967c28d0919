# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- lib/base: the base layer (include/grantmem/common.h) ----
# Logging, fault injection, allocation and read-side sections: what every
# layer above uses, depending on none of them.
noinst_LTLIBRARIES += lib/base/libgm-base.la
lib_base_libgm_base_la_SOURCES = \
	lib/base/base.h \
	lib/base/log.c \
	lib/base/fault.c \
	lib/base/epoch.c \
	lib/base/dref.c
lib_base_libgm_base_la_LIBADD = $(PTHREAD_LIBS)
grantmeminclude_HEADERS += include/grantmem/common.h
GM_CORE_LAYERS += lib/base/libgm-base.la
