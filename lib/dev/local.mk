# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- lib/dev: the backend loop (include/grantmem/dev.h) ----
# Devices, connections and the threads that serve their queues (dev.c), and
# the loop over the vdev transport (vdev.c).  The ioreq transport's binding
# is in lib/ioreq, which may use this layer.
noinst_LTLIBRARIES += lib/dev/libgm-dev.la
lib_dev_libgm_dev_la_SOURCES = \
	lib/dev/dev-internal.h \
	lib/dev/dev.c \
	lib/dev/vdev.c
grantmeminclude_HEADERS += include/grantmem/dev.h
GM_CORE_LAYERS += lib/dev/libgm-dev.la
