/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* grantmem: everything.  See README.md for an overview. */
#ifndef GRANTMEM_GRANTMEM_H
#define GRANTMEM_GRANTMEM_H

#include <grantmem/common.h>
#include <grantmem/mem.h>
#include <grantmem/ram.h>
#include <grantmem/xen.h>
#include <grantmem/world.h>
#include <grantmem/grant.h>
#include <grantmem/emu.h>
#include <grantmem/virtio.h>
#include <grantmem/vdev.h>
#include <grantmem/dev.h>
#include <grantmem/ioreq.h>

#endif /* GRANTMEM_GRANTMEM_H */
