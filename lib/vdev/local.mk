# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- lib/vdev: virtio over xenstore, grants and event channels (include/grantmem/vdev.h) ----
# The transport protocol is docs/vdev-protocol.md.
noinst_LTLIBRARIES += lib/vdev/libgm-vdev.la
lib_vdev_libgm_vdev_la_SOURCES = lib/vdev/vdev.c
grantmeminclude_HEADERS += include/grantmem/vdev.h
GM_CORE_LAYERS += lib/vdev/libgm-vdev.la
EXTRA_DIST += docs/vdev-protocol.md
