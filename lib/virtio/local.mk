# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- lib/virtio: rings and virtqueues (include/grantmem/virtio.h) ----
# gm_ring (persistent ring mappings), gm_vq (split and packed virtqueues) and
# iovec helpers, and the virtio-blk and virtio-net wire formats (constants
# and inline helpers only).
noinst_LTLIBRARIES += lib/virtio/libgm-virtio.la
lib_virtio_libgm_virtio_la_SOURCES = lib/virtio/ring.c lib/virtio/virtq.c lib/virtio/iov.c
grantmeminclude_HEADERS += include/grantmem/virtio.h
GM_CORE_LAYERS += lib/virtio/libgm-virtio.la
