/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ioreq transport of grantmem-blk and grantmem-net (tools/blk-ioreq.c):
 * the same device served to an HVM/PVH guest's own virtio_mmio +
 * virtio_blk or virtio_net drivers through a Xen ioreq server
 * (include/grantmem/ioreq.h, gm_ioreq_loop) instead of xenstore.
 */
#ifndef GM_TOOLS_BLK_IOREQ_H
#define GM_TOOLS_BLK_IOREQ_H

#include <grantmem/grantmem.h>

#include <stdbool.h>
#include <stdint.h>

struct blk_ioreq_opts {
	const char *name;            /* the tool, for its lines (NULL: grantmem-blk) */
	gm_domid domid;              /* the guest */
	uint64_t base;               /* MMIO window; 0: GM_IOREQ_DEFAULT_BASE */
	int stop_fd;                 /* readable: stop (a signalfd); -1: none */
	bool stats;                  /* print the statistics at the end */
	/* seconds from the first request served to the last (the report's) */
	double (*seconds)(void);
};

/*
 * blk_ioreq_run - serve device @dev (its id, features, config space, queue
 * limits and handlers: dev.h) to o->domid until the guest shuts down or
 * dies, or stop_fd becomes readable.  The guest should be created paused
 * and unpaused once "ready" is printed.  Returns the exit status for
 * main(): 0 (clean end, nothing of the guest left mapped), 1.
 */
int blk_ioreq_run(gm_xen *x, gm_dev *dev, const struct blk_ioreq_opts *o);

#endif /* GM_TOOLS_BLK_IOREQ_H */
