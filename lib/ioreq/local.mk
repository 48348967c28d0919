# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- lib/ioreq: virtio-mmio over a Xen ioreq server, libgrantmem-ioreq (include/grantmem/ioreq.h) ----
# The register file (mmio.c) is always built and unit-tested without Xen;
# the server (server.c) needs libxendevicemodel, libxenforeignmemory and
# libxenctrl (--enable-ioreq), else server-none.c answers -ENOTSUP.  Its own
# library, so that only its users link libxenctrl.
lib_LTLIBRARIES += libgrantmem-ioreq.la
libgrantmem_ioreq_la_SOURCES = lib/ioreq/mmio.c lib/ioreq/loop.c
libgrantmem_ioreq_la_CPPFLAGS = $(AM_CPPFLAGS) $(IOREQ_CFLAGS)
libgrantmem_ioreq_la_LIBADD = libgrantmem.la $(IOREQ_LIBS) $(PTHREAD_LIBS)
libgrantmem_ioreq_la_LDFLAGS = -version-info $(GM_LT_VERSION) \
	-Wl,--version-script=$(srcdir)/lib/ioreq/libgrantmem-ioreq.sym
EXTRA_libgrantmem_ioreq_la_DEPENDENCIES = lib/ioreq/libgrantmem-ioreq.sym
EXTRA_DIST += lib/ioreq/libgrantmem-ioreq.sym
if GM_HAVE_IOREQ
libgrantmem_ioreq_la_SOURCES += lib/ioreq/server.c
else
libgrantmem_ioreq_la_SOURCES += lib/ioreq/server-none.c
endif
grantmeminclude_HEADERS += include/grantmem/ioreq.h
pkgconfig_DATA += grantmem-ioreq.pc
