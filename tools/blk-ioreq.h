/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem-blk's ioreq transport (tools/blk-ioreq.c): the same block code
 * served to an HVM/PVH guest's own virtio_mmio + virtio_blk drivers through
 * a Xen ioreq server (include/grantmem/ioreq.h) instead of xenstore.
 */
#ifndef GM_TOOLS_BLK_IOREQ_H
#define GM_TOOLS_BLK_IOREQ_H

#include <grantmem/grantmem.h>
#include <grantmem/virtio.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blk_ioreq_opts {
	gm_domid domid;              /* the guest */
	uint64_t base;               /* MMIO window; 0: GM_IOREQ_DEFAULT_BASE */
	unsigned queue_size;         /* QueueNumMax; 0: 256 */
	uint64_t features;           /* the block device's features */
	const unsigned char *config; /* virtio-blk config space */
	size_t config_len;
	unsigned max_chain;          /* most descriptors per request; 0: the queue's */
	int stop_fd;                 /* readable: stop (a signalfd); -1: none */
	bool stats;                  /* print the statistics at the end */
	/* the block code: serve one request, return the bytes written into it */
	uint32_t (*serve)(struct gm_vq_req *req);
};

/*
 * blk_ioreq_run - serve one virtio-blk device to o->domid until the guest
 * shuts down or dies, or stop_fd becomes readable.  The guest should be
 * created paused and unpaused once "ready" is printed.  Returns the exit
 * status for main(): 0 (clean end, nothing of the guest left mapped), 1.
 */
int blk_ioreq_run(gm_xen *x, const struct blk_ioreq_opts *o);

#endif /* GM_TOOLS_BLK_IOREQ_H */
